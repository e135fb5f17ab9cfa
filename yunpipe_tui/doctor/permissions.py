"""May the caller deploy: IAM's policy simulator asked about every action a deploy makes, for
the caller's user or role (assumed-role sessions resolved to their role)."""

from __future__ import annotations

import re

from yunpipe_tui import prerequisite_policies as pol
from yunpipe_tui.aws import error_code, error_message, is_denied
from yunpipe_tui.doctor.iam_reads import get_role
from yunpipe_tui.doctor.model import OK, WARN, Facts, Outcome


def principal_arn(facts: Facts) -> str | None:
    """The IAM principal to simulate: a user or role ARN (assumed-role sessions resolved)."""
    arn = facts.arn
    match = re.match(r"^arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/", arn)
    if match:
        role = get_role(facts.ctx.client("iam"), match.group(3))
        return role["Arn"] if role else None
    if re.match(r"^arn:[^:]+:iam::\d+:(user|role)/", arn):
        return arn
    match = re.match(r"^arn:([^:]+):sts::(\d+):user/(.+)$", arn)  # some emulators say sts for users
    if match:
        return f"arn:{match.group(1)}:iam::{match.group(2)}:user/{match.group(3)}"
    return None


def check_simulate(facts: Facts) -> Outcome:
    from botocore.parsers import ResponseParserError

    if facts.arn.endswith(":root"):
        return (
            WARN,
            "signed in as the account root user: everything is allowed; use an IAM user or role",
            None,
        )
    try:
        source = principal_arn(facts)
    except Exception as exc:
        return WARN, f"could not resolve {facts.arn} to a role: {error_message(exc)}", None
    if source is None:
        return WARN, f"cannot simulate policies for {facts.arn}", None
    ctx = facts.ctx
    once = ctx.with_attempts(1)
    actions = pol.deploy_actions(facts.backend)
    try:
        answer = once.client("iam").simulate_principal_policy(
            PolicySourceArn=source, ActionNames=list(actions)
        )
    except (NotImplementedError, ResponseParserError):  # moto: in-process / HTTP 500 page
        return (
            WARN,
            "iam:SimulatePrincipalPolicy is not implemented by this endpoint; not checked",
            None,
        )
    except Exception as exc:
        status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if is_denied(exc):
            return (
                WARN,
                f"iam:SimulatePrincipalPolicy is denied to {source}; "
                "deploy permissions not checked",
                None,
            )
        if status in (500, 501) or error_code(exc) in (
            "500",
            "501",
            "InternalFailure",
            "NotImplemented",
        ):
            return (
                WARN,
                "iam:SimulatePrincipalPolicy is not implemented by this endpoint; not checked",
                None,
            )
        raise
    denied = [
        r["EvalActionName"]
        for r in answer.get("EvaluationResults", [])
        if r.get("EvalDecision") != "allowed"
    ]
    if denied:
        return (
            WARN,
            f"the simulator says {source} may not: {', '.join(denied)} (on '*'; policies scoped to "
            "yunpipe-* resources may still allow them)",
            None,
        )
    return OK, f"{source} may make all {len(actions)} deploy actions", None
