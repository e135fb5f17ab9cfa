"""A deploy or teardown as one writer: the pipeline's lock, its owner, its record, its stops.

The engine applies a plan and teardown removes one; this module is what every caller (the CLI,
the wizard, the sandbox flow) runs around them so that

- one deploy or teardown per pipeline runs at a time (`state.lock.pipeline_lock`: a flock on
  this machine plus a marker in the account); a second one waits `wait` seconds, then stops
  with LockBusy naming the holder;
- a pipeline name belongs to the workflow that deployed it (`state.registry`): another workflow
  is refused unless it says `replace`, a deploy that would close a bucket loop is refused, a
  shared input bucket is a warning; the checks run again under the lock, so a deploy decided
  on stale facts cannot slip through;
- when the input bucket changes (or a `replace` takes a pipeline over), our notification entries
  come off the buckets the pipeline no longer reads, before anything else changes;
- after a successful deploy the account's record says who owns the name; after a complete
  teardown it is gone;
- Ctrl-C (KeyboardInterrupt) or SIGTERM (`sigterm_interrupts`) during a deploy leaves the
  journal `interrupted` with what exists, and DeployInterrupted says how to go on.

    result = deploy_plan(plan, ctx, sink, replace=False)            # DeployResult
    result = locked_teardown(ctx, record, lambda: Teardown(...).run())
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from yunpipe_tui import aws
from yunpipe_tui import resource_names as names
from yunpipe_tui.deploy import bucket_config
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy import journal as jr
from yunpipe_tui.deploy.engine import MAX_WORKERS, DeployError, DeployResult, Engine
from yunpipe_tui.deploy.model import Plan, Resource
from yunpipe_tui.errors import YunpipeError
from yunpipe_tui.state import registry
from yunpipe_tui.state.lock import LockBusy, marker_name, pipeline_lock
from yunpipe_tui.state.target import Target

LOCK_WAIT = 20.0  # seconds a second deploy/teardown of the same pipeline waits for the first
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it
EXIT_TERMINATED = 143  # SIGTERM
UNSAVED = "<unsaved workflow>"  # identity of a workflow that has no file (sandbox, tests)
ACCOUNT_LOCK = "pipeline lock"  # the labels of the two non-plan steps in DeployError
ACCOUNT_RECORD = "pipeline record"
REGISTRY_ACTIONS = "ssm:GetParametersByPath, ssm:PutParameter and ssm:AddTagsToResource"

T = TypeVar("T")


class OwnershipRefused(YunpipeError):
    """The pipeline name belongs to another workflow, or the deploy would close a loop."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so the same clean-up runs."""


class DeployInterrupted(YunpipeError):
    """Ctrl-C or SIGTERM stopped a deploy; the journal says `interrupted` and what exists."""

    def __init__(self, message: str, existing: list[str], terminated: bool = False) -> None:
        self.existing = existing
        self.exit_code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        super().__init__(message)


# --------------------------------------------------------------------------- ownership


def workflow_identity(plan: Plan) -> str:
    """The registry's workflow id of the plan's workflow (its file, or UNSAVED)."""
    return registry.workflow_id(plan.workflow.source or UNSAVED, plan.pipeline)


def registry_record(plan: Plan) -> registry.Deployed:
    """What the account will record for this plan once deployed."""
    chain = [plan.steps[0].input_bucket] if plan.steps else [plan.workflow.input_bucket]
    chain += [s.output_bucket for s in plan.steps]
    return registry.Deployed.new(
        plan.pipeline,
        chain,
        workflow_identity(plan),
        plan.facts.region,
        [s.algorithm for s in plan.steps],
    )


@dataclass(frozen=True)
class Verdict:
    """The registry's answer for a plan: refusals, warnings, and what the deploy must move."""

    record: registry.Deployed
    existing: registry.Deployed | None = None
    ownership: registry.Ownership = field(default_factory=registry.Ownership)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_registry(ctx: Any) -> registry.RegistryListing:
    """The account's registry (one paginated SSM call); raises what AWS raised."""
    return registry.list_all(ctx)


def registry_denied(exc: BaseException) -> str:
    return (
        f"cannot read the account's pipeline registry ({registry.PREFIX}): "
        f"{aws.error_message(exc)[:160]}; yunpipe needs {REGISTRY_ACTIONS} on "
        "parameter/yunpipe/* (see `yunpipe doctor`)"
    )


def judge(
    ctx: Any,
    plan: Plan,
    replace: bool = False,
    listing: registry.RegistryListing | None = None,
) -> Verdict:
    """Judge the plan against the account's registry (read here unless given). Read-only; an
    account that denies reading the registry gives a problem saying which permissions."""
    record = registry_record(plan)
    if listing is None:
        try:
            listing = read_registry(ctx)
        except Exception as exc:
            if not aws.is_denied(exc):
                raise
            return Verdict(record, problems=[registry_denied(exc)])
    existing = next((r for r in listing.records if r.pipeline == plan.pipeline), None)
    ownership = registry.check_ownership(existing, record, replace)
    problems = [ownership.problem] if ownership.problem else []
    loop = registry.loop_problem(listing.records, record)
    if loop:
        problems.append(loop)
    warnings = list(listing.warnings)
    shared = registry.shared_input_warning(listing.records, record)
    if shared:
        warnings.append(shared)
    if ownership.takes_over and existing is not None:
        warnings.append(
            f"--replace: pipeline {plan.pipeline} is taken over from another workflow "
            f"(input bucket {existing.input_bucket}, deployed {existing.when})"
        )
    return Verdict(record, existing, ownership, problems, warnings)


def stale_notifications(plan: Plan, existing: registry.Deployed | None) -> list[tuple[str, str]]:
    """(bucket, entry id) pairs of ours on buckets the new plan no longer reads that way."""
    if existing is None:
        return []
    ours = re.compile(re.escape(names.base(plan.pipeline)) + r"-s\d+$")
    keep = {(s.input_bucket, names.base(plan.pipeline, s.id)) for s in plan.steps}
    old = [
        (bucket, names.base(plan.pipeline, f"s{i + 1}"))
        for i, bucket in enumerate(existing.buckets[:-1])
    ]
    return [(b, entry) for b, entry in old if ours.match(entry) and (b, entry) not in keep]


def move_notifications(ctx: Any, pairs: list[tuple[str, str]], sink: ev.EventSink) -> list[str]:
    """Remove our entries from buckets the pipeline no longer reads; the lines said."""
    said: list[str] = []
    for bucket, entry_id in pairs:
        try:
            removed = bucket_config.set_entry(ctx, bucket, entry_id, None)
        except Exception as exc:
            if aws.is_gone(exc):
                continue
            raise
        if removed:
            line = f"notification {entry_id} moved off bucket {bucket} (no longer its input)"
            said.append(line)
            sink(ev.Event(ev.INFO, kind="notification", name=f"{bucket}/{entry_id}", message=line))
    return said


# --------------------------------------------------------------------------- interruption


def existing_labels(journal: jr.Journal) -> list[str]:
    """Resources of this pipeline that exist (or may: intents) per the journal, in plan order."""
    record = journal.record()
    live = record.live_resources()
    order = [k for k in record.data.get("order", []) if k in live]
    order += [k for k in live if k not in order]
    return [f"{live[k].get('kind')} {live[k].get('name')}" for k in order]


def interrupted(
    journal: jr.Journal, workflow_file: str, terminated: bool = False
) -> DeployInterrupted:
    """Mark the journal interrupted and build the error that says how to go on."""
    existing = existing_labels(journal)
    why = "stopped by SIGTERM" if terminated else "interrupted by Ctrl-C"
    journal.mark_interrupted(existing, why)
    message = jr.interrupted_message(journal.record(), workflow_file)
    return DeployInterrupted(message, existing, terminated)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM raises Terminated in the main thread (like Ctrl-C)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- entry points


def _target(plan: Plan) -> Target:
    facts = plan.facts
    return Target(facts.account_id, facts.region, facts.endpoint_url)


def _account_step(kind: str, name: str) -> Resource:
    """A stand-in resource naming a step of the run that is not a plan resource (the lock
    marker, the registry record), so its failure reads like any other DeployError."""
    return Resource(f"pipeline/{kind}", kind, name, "shared")


@contextlib.contextmanager
def _as_deploy_error(step: Resource, journal: jr.Journal | None = None) -> Iterator[None]:
    """AWS failures of a non-plan step become DeployError naming the step; LockBusy, refusals
    and interruptions pass through unchanged."""
    try:
        yield
    except (LockBusy, OwnershipRefused, DeployError, KeyboardInterrupt):
        raise
    except Exception as exc:
        reason = str(exc) if isinstance(exc, YunpipeError) else aws.error_message(exc)
        created = journal.created_this_run() if journal is not None else []
        raise DeployError(step, reason, created) from None


def deploy_plan(
    plan: Plan,
    ctx: Any,
    sink: ev.EventSink | None = None,
    *,
    replace: bool = False,
    wait: float = LOCK_WAIT,
    journal: jr.Journal | None = None,
    code: Callable[[], bytes] | None = None,
    max_workers: int = MAX_WORKERS,
    sleep: Callable[[float], None] = time.sleep,
    cancel: threading.Event | None = None,
) -> DeployResult:
    """Deploy `plan` as the pipeline's one writer (see the module doc).

    Raises LockBusy, OwnershipRefused, DeployError, DeployCancelled or DeployInterrupted."""
    sink = sink or ev.null_sink
    ctx = ctx.for_region(plan.facts.region) if plan.facts.region else ctx
    lock_step = _account_step(ACCOUNT_LOCK, marker_name(plan.pipeline))
    record_step = _account_step(ACCOUNT_RECORD, registry.parameter_name(plan.pipeline))
    with contextlib.ExitStack() as held:
        with _as_deploy_error(lock_step):
            held.enter_context(
                pipeline_lock(ctx, plan.pipeline, "deploy", wait=wait, target=_target(plan))
            )
        with _as_deploy_error(record_step):
            verdict = judge(ctx, plan, replace, read_registry(ctx))
        if verdict.problems:
            raise OwnershipRefused("\n".join(verdict.problems))
        for line in verdict.warnings:
            sink(ev.Event(ev.WARNING, message=line))
        journal = journal or jr.Journal.open(plan.pipeline)
        engine = Engine(ctx, sink, code=code, max_workers=max_workers, sleep=sleep, cancel=cancel)
        try:
            moves = stale_notifications(plan, verdict.existing)
            with _as_deploy_error(_account_step("notification", "moves")):
                moved = move_notifications(ctx, moves, sink)
            result = engine.apply(plan, journal)
        except KeyboardInterrupt as stop:
            if journal.data.get("status") == jr.DEPLOYING:
                raise interrupted(
                    journal, plan.workflow.source, isinstance(stop, Terminated)
                ) from None
            raise
        with _as_deploy_error(record_step, journal):
            registry.write(ctx, verdict.record)
    result.warnings = [*verdict.warnings, *moved, *result.warnings]
    return result


def locked_teardown(
    ctx: Any, record: jr.PipelineRecord, run: Callable[[], T], *, wait: float = LOCK_WAIT
) -> T:
    """Run a teardown of `record`'s pipeline as its one writer; a complete teardown (a result
    whose `ok` is true) also removes the account's registry record of the pipeline."""
    ctx = ctx.for_region(record.region) if record.region else ctx
    target = None
    if record.account_id:
        target = Target(record.account_id, ctx.region_name, ctx.endpoint_url or "")
    with pipeline_lock(ctx, record.pipeline, "teardown", wait=wait, target=target):
        result = run()
        if getattr(result, "ok", False):
            registry.delete(ctx, record.pipeline)
    return result
