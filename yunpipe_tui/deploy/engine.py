"""The deploy engine: applies a `Plan` with idempotent ensure-operations.

For every resource the engine *inspects* AWS (missing / stale / current), then creates, updates or
keeps it, through the resource's kind (`yunpipe_tui.deploy.kinds`). Before each create the
journal records an intent; right after, the result. Independent resources run in a small thread
pool; a resource starts only when its dependencies are done. On the first failure no new work
starts, running work finishes, and `DeployError` names the resource and AWS's reason; the journal
keeps everything for teardown.

Real-AWS behaviours the kinds handle (moto does not imitate them):
- a Lambda created right after its role: "The role defined for the function cannot be assumed by
  Lambda" is retried with bounded backoff, and only that error;
- S3 validates notification destinations: the Lambda permission is a dependency of the
  notification, and "Unable to validate the following destination configurations" is retried;
- `create_bucket` takes a LocationConstraint everywhere but us-east-1; 403 on `head_bucket` means
  the bucket name belongs to someone else;
- SQS refuses to recreate a queue for 60 s after its deletion (QueueDeletedRecently): retried.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_code, error_message
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy import journal as jr
from yunpipe_tui.deploy.kinds import BY_NAME
from yunpipe_tui.deploy.kinds.base import CURRENT, MISSING, STALE, Kind, Ops
from yunpipe_tui.deploy.model import Plan, Resource, Unresolved, resolve
from yunpipe_tui.errors import AwsError, YunpipeError

ACTION = {MISSING: "create", STALE: "update", CURRENT: "keep"}
MAX_WORKERS = 8


class DeployError(YunpipeError):
    """A resource could not be created or updated; the journal keeps what was done."""

    def __init__(self, resource: Resource, reason: str, created: list[str]) -> None:
        self.resource = resource
        self.reason = reason
        self.created = created
        super().__init__(f"{resource.label} failed: {reason}")


class _NotStarted(Exception):
    """A resource queued for the pool when the cancel event was set; it was not touched."""


class DeployCancelled(YunpipeError):
    """The caller's `cancel` event was set: work in flight finished, nothing new started.

    The journal is consistent (every started resource has its result) and marked failed, so
    a later deploy converges and teardown/rollback find everything this run created."""

    def __init__(self, pipeline: str, created: list[str], skipped: list[str]) -> None:
        self.pipeline = pipeline
        self.created = created
        self.skipped = skipped
        super().__init__(
            f"deploy of {pipeline} cancelled: {len(skipped)} resource(s) not attempted"
        )


@dataclass
class DeployResult:
    pipeline: str
    actions: dict[str, str]
    outputs: dict[str, dict[str, Any]]
    elapsed: float
    warnings: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions.values() if a == action)


def _packaged_code() -> Callable[[], bytes]:
    """`yunpipe_tui.deploy.dispatcher_zip`, looked up on the package when an engine starts, so
    a caller (or a test) that replaces it there is heard."""
    import yunpipe_tui.deploy as package

    return package.dispatcher_zip


class Engine:
    """Applies plans (`apply`) or tells what applying would do (`diff`); see the module doc."""

    def __init__(
        self,
        ctx: AwsContext,
        sink: ev.EventSink | None = None,
        *,
        code: Callable[[], bytes] | None = None,
        max_workers: int = MAX_WORKERS,
        sleep: Callable[[float], None] = time.sleep,
        cancel: threading.Event | None = None,
    ) -> None:
        self.ctx = ctx
        self.sink = sink or ev.null_sink
        self.max_workers = max_workers
        self.cancel = cancel  # checked before starting each resource; set it to stop safely
        self._halt = threading.Event()  # set when the caller's thread is interrupted (Ctrl-C)
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self.ops = Ops(ctx, code or _packaged_code(), sleep, self._warn)

    def _warn(self, message: str) -> None:
        with self._lock:
            if message in self.warnings:
                return
            self.warnings.append(message)
        self.sink(ev.Event(ev.WARNING, message=message))

    @staticmethod
    def _kind(r: Resource) -> Kind:
        return BY_NAME[r.kind]

    def inspect(
        self, r: Resource, outputs: Mapping[str, Mapping[str, Any]]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(state, outputs, resolved config); a reference to a missing resource means stale."""
        try:
            cfg = resolve(r.config, outputs)
        except Unresolved:
            state, out = self._kind(r).inspect(self.ops, r, {**r.config, "_unresolved": True})
            return (MISSING if state == MISSING else STALE), out, dict(r.config)
        state, out = self._kind(r).inspect(self.ops, r, cfg)
        return state, out, cfg

    def _use_region(self, plan: Plan) -> None:
        """Work in the plan's region whatever the caller's context says."""
        if plan.facts.region:
            self.ops.ctx = self.ctx.for_region(plan.facts.region)

    def diff(self, plan: Plan) -> dict[str, str]:
        """create / update / keep for every resource, without changing anything."""
        self._use_region(plan)
        outputs: dict[str, dict[str, Any]] = {}
        actions: dict[str, str] = {}
        for r in plan.resources:
            try:
                state, out, _ = self.inspect(r, outputs)
            except YunpipeError:
                raise
            except Exception as exc:
                if error_code(exc) in ("ResourceNotFoundException", "NoSuchBucket"):
                    state, out = MISSING, {}
                else:
                    raise AwsError(f"{r.label}: {error_message(exc)}") from None
            actions[r.key] = ACTION[state]
            outputs[r.key] = out
        return actions

    def _ensure(
        self,
        r: Resource,
        outputs: dict[str, dict[str, Any]],
        journal: jr.Journal,
    ) -> tuple[str, dict[str, Any]]:
        if self._halt.is_set() or (self.cancel is not None and self.cancel.is_set()):
            raise _NotStarted(r.key)  # queued in the pool when the cancel came: never started
        start = time.monotonic()
        self.sink(ev.Event(ev.STARTED, r.key, r.kind, r.name, r.group))
        with self._lock:
            known = dict(outputs)
        cfg = resolve(r.config, known)
        kind = self._kind(r)
        state, out = kind.inspect(self.ops, r, cfg)
        if state == MISSING:
            journal.intent(r.key)
            out = {**out, **kind.create(self.ops, r, cfg)}
            journal.result(r.key, jr.CREATED, out)
        elif state == STALE:
            new = kind.update(self.ops, r, cfg, out)
            out = {**out, **(new or {})}
            journal.result(r.key, self._owned(kind), out)
        else:
            kind.kept(self.ops, r)
            journal.result(r.key, self._owned(kind), out)
        elapsed = time.monotonic() - start
        action = ACTION[state]
        status = ev.KEPT if state == CURRENT else ev.DONE
        self.sink(ev.Event(status, r.key, r.kind, r.name, r.group, action, elapsed=elapsed))
        return action, out

    @staticmethod
    def _owned(kind: Kind) -> str:
        """Buckets that existed are the user's; every other resource has a yunpipe name."""
        return jr.EXISTING if kind.user_owned_when_found else jr.CREATED

    def apply(self, plan: Plan, journal: jr.Journal | None = None) -> DeployResult:
        self._use_region(plan)
        journal = journal or jr.Journal.open(plan.pipeline)
        journal.begin(plan)
        start = time.monotonic()
        outputs: dict[str, dict[str, Any]] = {}
        actions: dict[str, str] = {}
        done: set[str] = set()
        pending = list(plan.resources)
        running: dict[Future[tuple[str, dict[str, Any]]], Resource] = {}
        failure: tuple[Resource, BaseException] | None = None
        self.sink(ev.Event(ev.INFO, kind="phase", name="deploy", message=plan.pipeline))
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="yunpipe-deploy") as pool:
            try:
                while pending or running:
                    if failure is None and not (self.cancel is not None and self.cancel.is_set()):
                        ready = [r for r in pending if all(d in done for d in r.depends_on)]
                        for r in ready:
                            pending.remove(r)
                            running[pool.submit(self._ensure, r, outputs, journal)] = r
                    if not running:
                        break
                    finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for future in finished:
                        r = running.pop(future)
                        exc = future.exception()
                        if isinstance(exc, _NotStarted):
                            pending.append(r)
                            continue
                        if exc is not None:
                            reason = (
                                str(exc) if isinstance(exc, YunpipeError) else error_message(exc)
                            )
                            self.sink(
                                ev.Event(ev.FAILED, r.key, r.kind, r.name, r.group, message=reason)
                            )
                            if failure is None:
                                failure = (r, exc)
                            continue
                        action, out = future.result()
                        with self._lock:
                            outputs[r.key] = out
                        actions[r.key] = action
                        done.add(r.key)
            except BaseException:
                # Ctrl-C/SIGTERM in the caller's thread: work in flight finishes (its journal
                # result is written), work queued in the pool is not started
                self._halt.set()
                raise
        if failure is None and pending and self.cancel is not None and self.cancel.is_set():
            for r in pending:
                self.sink(ev.Event(ev.SKIPPED, r.key, r.kind, r.name, r.group, message="cancelled"))
            journal.set_status(jr.FAILED, "cancelled by the user")
            raise DeployCancelled(
                plan.pipeline, journal.created_this_run(), [r.key for r in pending]
            )
        if failure is None and pending:
            r = pending[0]
            failure = (r, YunpipeError(f"unmet dependency among {r.depends_on}"))
        if failure is not None:
            for r in pending:
                self.sink(
                    ev.Event(ev.SKIPPED, r.key, r.kind, r.name, r.group, message="not attempted")
                )
            r, exc = failure
            reason = str(exc) if isinstance(exc, YunpipeError) else error_message(exc)
            journal.set_status(jr.FAILED, f"{r.label}: {reason}")
            raise DeployError(r, reason, journal.created_this_run()) from None
        journal.set_status(jr.DEPLOYED)
        return DeployResult(
            pipeline=plan.pipeline,
            actions=actions,
            outputs=outputs,
            elapsed=time.monotonic() - start,
            warnings=list(self.warnings),
        )


def pipeline_names(plan: Plan) -> dict[str, str]:
    """Handy names for messages: input, output, cluster."""
    return {
        "input": plan.workflow.input_bucket,
        "output": plan.workflow.output_bucket,
        "cluster": names.cluster(plan.pipeline),
    }
