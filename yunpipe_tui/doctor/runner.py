"""Running the checks (credentials first, the rest concurrently, a check that raises becomes a
failed check) and applying one check's fix."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING

from yunpipe_tui.aws import error_message
from yunpipe_tui.doctor.model import FAIL, SKIP, Check, CheckResult, Facts
from yunpipe_tui.doctor.registry import CHECKS, fixable_ids
from yunpipe_tui.errors import YunpipeError, describe_unexpected

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.workflow import Workflow

MAX_WORKERS = 8


_LIBRARY_WORDS = frozenset(
    {"ProfileNotFound", "NoCredentialsError", "PartialCredentialsError", "NoRegionError"}
)


def _run_one(check: Check, facts: Facts) -> CheckResult:
    try:
        status, detail, fix = check.run(facts)
    except Exception as exc:
        detail = (
            error_message(exc) if getattr(exc, "response", None) else f"{type(exc).__name__}: {exc}"
        )
        if isinstance(exc, YunpipeError):
            detail = str(exc)
        elif type(exc).__name__ in _LIBRARY_WORDS:  # botocore's, said in the CLI's words
            detail = describe_unexpected(exc)
        return CheckResult(check.id, check.title, FAIL, f"the check failed: {detail}", None)
    return CheckResult(check.id, check.title, status, detail, fix)


def run_checks(
    ctx: AwsContext,
    workflow: Workflow | None = None,
    *,
    checks: list[Check] | None = None,
    max_workers: int = MAX_WORKERS,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run every check the workflow's compute backend needs (the workflow ones only with a
    workflow; without one, the ECS backend's), concurrently; results come back in the checks'
    order, and each is also passed to `on_result` (in the calling thread) as soon as it is known.
    Credentials are checked first: without them, the checks that need AWS are reported as skipped
    (one failure says what to do, not fifteen)."""
    chosen = [c for c in (checks if checks is not None else CHECKS) if c.applies(workflow)]
    facts = Facts(ctx=ctx, workflow=workflow)
    if workflow is not None and workflow.region:
        facts.workflow_ctx = ctx.for_region(workflow.region)
    results: dict[str, CheckResult] = {}

    def done(result: CheckResult) -> CheckResult:
        if on_result is not None:
            on_result(result)
        return result

    first = [c for c in chosen if c.id == "credentials"]
    for check in first:
        results[check.id] = done(_run_one(check, facts))
    creds_ok = all(results[c.id].status != FAIL for c in first)
    rest = [c for c in chosen if c.id not in results]
    runnable = [c for c in rest if creds_ok or not c.needs_credentials]
    for check in rest:
        if check not in runnable:
            results[check.id] = done(
                CheckResult(
                    check.id,
                    check.title,
                    SKIP,
                    "not checked: the AWS credentials do not work",
                    None,
                )
            )
    if runnable:
        _warm_clients(facts)
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(runnable)))) as pool:
            futures = {pool.submit(_run_one, c, facts): c.id for c in runnable}
            for future in as_completed(futures):
                results[futures[future]] = done(future.result())
    return [results[c.id] for c in chosen]


WARM_SERVICES = (
    "sts",
    "iam",
    "lambda",
    "sqs",
    "s3",
    "ecs",
    "ec2",
    "cloudwatch",
    "logs",
    "ssm",
    "batch",
)


def _warm_clients(facts: Facts) -> None:
    """Create the clients in this thread: a boto3 session is not safe to build clients from
    several threads at once (the clients themselves are)."""
    for ctx in {id(c): c for c in (facts.ctx, facts.workflow_ctx) if c is not None}.values():
        for service in WARM_SERVICES:
            try:
                ctx.client(service)
            except Exception:  # the check that uses it reports the problem
                continue


def _facts_for_fix(ctx: AwsContext) -> Facts:
    facts = Facts(ctx=ctx)
    ident = ctx.client("sts").get_caller_identity()
    facts.account, facts.arn = ident["Account"], ident["Arn"]
    return facts


def apply_fix(ctx: AwsContext, check_id: str) -> str:
    """Apply one check's fix (idempotent); returns one line saying what was done."""
    check = next((c for c in CHECKS if c.id == check_id), None)
    if check is None or check.fixer is None:
        raise YunpipeError(
            f"no automatic fix for {check_id!r}; fixable: {', '.join(fixable_ids())}"
        )
    facts = _facts_for_fix(ctx)
    try:
        return check.fixer(facts)
    except YunpipeError:
        raise
    except Exception as exc:
        if getattr(exc, "response", None) is None:
            raise
        raise YunpipeError(f"fixing {check_id}: {error_message(exc)}") from None
