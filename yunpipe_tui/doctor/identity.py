"""Who is asking, and where: the credentials check (which source the keys come from, and a
warning when that is a plaintext file) and the region check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yunpipe_tui.aws import DEFAULT_REGION
from yunpipe_tui.doctor.model import FAIL, OK, SKIP, WARN, Facts, Outcome
from yunpipe_tui.errors import missing_profile_advice

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext

_SOURCES = {
    "env": "environment variables",
    "explicit": "explicit keys",
    "shared-credentials-file": "a profile in the shared credentials file (plaintext)",
    "config-file": "a profile in the AWS config file (plaintext)",
    "custom-process": "a credential_process",
    "sso": "AWS SSO / IAM Identity Center",
    "assume-role": "an assume-role profile",
    "assume-role-with-web-identity": "web identity",
    "container-role": "the container's role",
    "iam-role": "the instance's role",
    "boto-config": "a boto config file (plaintext)",
    "ec2-credentials-file": "the EC2 credentials file",
    "yunpipe-keyring": "yunpipe's keyring",
}


def describe_source(ctx: AwsContext) -> str:
    creds = ctx.session.get_credentials()
    if creds is None:
        return ""
    method = getattr(creds, "method", "") or "unknown"
    text = _SOURCES.get(method, method)
    profile = ctx.session.profile_name
    if method not in ("env", "iam-role", "container-role") and profile:
        text += f", profile {profile!r}"
    return text


def check_credentials(facts: Facts) -> Outcome:
    ctx = facts.ctx
    missing = ctx.missing_profile()
    if missing:
        return FAIL, missing_profile_advice(missing), None
    source = describe_source(ctx)
    if not source:
        return (
            FAIL,
            "no AWS credentials found. Run `yunpipe creds set` (keeps them in the OS keyring), "
            "`aws sso login --profile P`, or export AWS_PROFILE / AWS_ACCESS_KEY_ID.",
            None,
        )
    ident = ctx.client("sts").get_caller_identity()
    facts.account, facts.arn, facts.source = ident["Account"], ident["Arn"], source
    detail = f"account {ident['Account']} as {ident['Arn']}, from {source}"
    if "plaintext" in source:
        detail += "; move the keys into the keyring with `yunpipe creds migrate`"
        return WARN, detail, None
    return OK, detail, None


def check_region(facts: Facts) -> Outcome:
    missing = facts.ctx.missing_profile()
    if missing:
        return SKIP, f"not checked: the region comes from profile {missing!r}, not found", None
    region = facts.ctx.session.region_name
    wf = facts.workflow.region if facts.workflow else ""
    if not region:
        return (
            WARN,
            f"no region set; yunpipe would use {DEFAULT_REGION}. Pass --region or export "
            "AWS_REGION.",
            None,
        )
    detail = region
    if wf and wf != region:
        detail += f" (the workflow names {wf}; its resources go there)"
    return OK, detail, None
