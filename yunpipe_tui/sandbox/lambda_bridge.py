"""Runs the real dispatcher code where moto would need Docker.

- S3 → Lambda: moto's notification delivery is handed to `on_s3_event` (see `patches`), which takes
  a snapshot of the function as stored in moto — its zip, handler and environment — and runs it in
  a small thread pool, asynchronously as on AWS, within milliseconds.
- The function's module is loaded from its own zip (extracted under the sandbox's workdir, one
  module object per code hash), and called as
  `dispatch(event, DispatcherConfig.from_env(env), remaining_ms=...)` with the function's
  environment plus `YUNPIPE_ENDPOINT_URL` = the sandbox: configuration is explicit, never the
  shared `os.environ`, so concurrent invocations of different steps cannot mix.
- EventBridge schedules: moto stores rules but never fires them; every `Timings.reconcile`
  seconds the bridge invokes the Lambda targets of each enabled scheduled rule with a
  "Scheduled Event" (the dispatcher's reconcile), one invocation per target at a time.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import inspect
import io
import json
import logging
import queue
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yunpipe_tui.sandbox.server import Sandbox

LOG = logging.getLogger("yunpipe.sandbox.lambda")
ASYNC_RETRIES = 2
DISPATCHER_SERVICES = ("sqs", "ecs", "ec2", "cloudwatch", "s3", "logs")


@dataclass(frozen=True)
class FunctionSnapshot:
    """A Lambda function as moto holds it at the moment of the event."""

    name: str
    arn: str
    handler: str
    code: bytes
    code_sha: str
    environment: dict[str, str]
    timeout: int
    region: str

    @classmethod
    def of(cls, fn: Any) -> FunctionSnapshot:
        code = bytes(getattr(fn, "code_bytes", b"") or b"")
        return cls(
            name=fn.function_name,
            arn=fn.function_arn,
            handler=fn.handler or "",
            code=code,
            code_sha=hashlib.sha256(code).hexdigest(),
            environment={str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
            timeout=int(fn.timeout or 3),
            region=fn.region,
        )


class DaemonPool:
    """A fixed set of daemon worker threads: work left running never holds the process open."""

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.Queue[tuple[Any, tuple[Any, ...]] | None] = queue.Queue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            function, args = item
            try:
                function(*args)
            except Exception:  # pragma: no cover - callers catch their own errors
                LOG.exception("worker task failed")

    def submit(self, function: Any, *args: Any) -> None:
        if self._closed:
            raise RuntimeError("the pool is shut down")
        self._queue.put((function, args))

    def shutdown(self, timeout: float) -> None:
        self._closed = True
        # Drop work not started yet, then ask each worker to finish.
        while True:
            try:
                dropped = self._queue.get_nowait()
            except queue.Empty:
                break
            if dropped is not None:
                LOG.info("dropped a pending invocation at shutdown")
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class NotADispatcher(Exception):
    """The function's code does not expose the dispatcher's `dispatch`/`DispatcherConfig`."""


def scheduled_event(rule_arn: str, region: str, account: str) -> dict[str, Any]:
    """The event EventBridge sends for a schedule rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class LambdaBridge:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._pool: DaemonPool | None = None
        self._modules: dict[tuple[str, str], ModuleType] = {}
        self._load_lock = threading.Lock()
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self._reconciling: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: dict[str, Any] | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._pool = DaemonPool(max(1, self.sandbox.timings.lambda_workers), "yunpipe-lambda")
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._schedule_loop, name="yunpipe-schedules", daemon=True
        )
        self._thread.start()

    def stop(self, *, wait: bool = True) -> None:
        """`wait=False` waits for no thread (all are daemons): for a process about to exit."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5 if wait else 0)
            self._thread = None
        if self._pool is not None:
            # A dispatcher may be sleeping in its backoff; it is not waited for long (daemon
            # threads), so Ctrl-C on `yunpipe sandbox` returns at once.
            self._pool.shutdown(timeout=3.0 if wait else 0.0)
            self._pool = None

    def reset(self) -> None:
        deadline = time.monotonic() + 10
        while self.busy() and time.monotonic() < deadline:
            time.sleep(0.05)

    def busy(self) -> bool:
        with self._inflight_lock:
            return self._inflight > 0

    # ----------------------------------------------------------------- hooks from moto
    def on_s3_event(self, account_id: str, event_body: Any, fn_arn: str, region: str) -> None:
        """moto's request thread: snapshot the function now, run it in the pool."""
        from moto.awslambda.utils import get_backend

        fn = get_backend(account_id, region).get_function(fn_arn)
        self.submit(FunctionSnapshot.of(fn), event_body, origin="s3")

    def on_invoke(self, fn: Any, event: Any, asynchronous: bool) -> tuple[bool, Any]:
        """A direct Lambda `Invoke`: run yunpipe dispatchers here; others go back to moto."""
        snapshot = FunctionSnapshot.of(fn)
        try:
            self._module(snapshot)
        except NotADispatcher:
            return False, None
        if asynchronous:
            self.submit(snapshot, event, origin="invoke")
            return True, None
        return True, self.call(snapshot, event)

    # ----------------------------------------------------------------- running
    def submit(
        self, snapshot: FunctionSnapshot, event: Any, origin: str = "", attempt: int = 0
    ) -> None:
        pool = self._pool
        if pool is None:
            LOG.warning("event for %s dropped: the sandbox is stopping", snapshot.name)
            return
        with self._inflight_lock:
            self._inflight += 1
        try:
            pool.submit(self._run, snapshot, event, origin, attempt)
        except RuntimeError:  # pool shut down between the check and the submit
            with self._inflight_lock:
                self._inflight -= 1

    def _run(self, snapshot: FunctionSnapshot, event: Any, origin: str, attempt: int = 0) -> None:
        try:
            result = self.call(snapshot, event)
            LOG.info("%s (%s) → %s", snapshot.name, origin, _short(result))
        except NotADispatcher as exc:
            LOG.warning("%s not run: %s", snapshot.name, exc)
            self.sandbox.activity.add("lambda_errors")
        except Exception as exc:
            LOG.exception("%s (%s) failed", snapshot.name, origin)
            self.sandbox.activity.add("lambda_errors")
            self.sandbox.activity.error(f"{snapshot.name}: {type(exc).__name__}: {exc}")
            if origin != "schedule" and attempt < ASYNC_RETRIES and not self._stop.is_set():
                # Lambda retries a failed asynchronous invocation twice (after 1 and 2 minutes
                # on AWS; sandbox-scaled to the reconcile interval).
                delay = self.sandbox.timings.reconcile * (attempt + 1)
                timer = threading.Timer(
                    delay, self.submit, (snapshot, event, origin + " retry", attempt + 1)
                )
                timer.daemon = True
                timer.start()
        finally:
            with self._inflight_lock:
                self._inflight -= 1

    def environment(self, snapshot: FunctionSnapshot) -> dict[str, str]:
        """The function's own variables plus what Lambda and the sandbox add."""
        env = dict(snapshot.environment)
        env["YUNPIPE_ENDPOINT_URL"] = self.sandbox.endpoint
        env.setdefault("AWS_REGION", snapshot.region)
        env.setdefault("AWS_DEFAULT_REGION", snapshot.region)
        env.setdefault("AWS_LAMBDA_FUNCTION_NAME", snapshot.name)
        return env

    def call(self, snapshot: FunctionSnapshot, event: Any) -> Any:
        """Run the dispatcher once, synchronously, with explicit configuration."""
        module = self._module(snapshot)
        config = module.DispatcherConfig.from_env(self.environment(snapshot))
        seconds = float(snapshot.timeout)
        cap = self.sandbox.timings.lambda_timeout
        if cap is not None:
            seconds = min(seconds, cap)
        self.sandbox.activity.add("lambda_invocations")
        kwargs: dict[str, Any] = {"remaining_ms": int(seconds * 1000)}
        if _accepts(module.dispatch, "clients"):
            kwargs["clients"] = self.clients()
        return module.dispatch(event, config, **kwargs)

    def clients(self) -> dict[str, Any]:
        """Clients on the sandbox with the dummy credentials: the role's, as Lambda would give."""
        with self._load_lock:
            if self._clients is None:
                context = self.sandbox.aws_context()
                self._clients = {s: context.client(s) for s in DISPATCHER_SERVICES}
            return self._clients

    def _module(self, snapshot: FunctionSnapshot) -> ModuleType:
        module_name, _, _ = snapshot.handler.rpartition(".")
        if not module_name:
            raise NotADispatcher(f"handler {snapshot.handler!r} is not MODULE.FUNCTION")
        key = (snapshot.code_sha, module_name)
        with self._load_lock:
            module = self._modules.get(key)
            if module is None:
                module = self._load(snapshot, module_name)
                self._modules[key] = module
        if not (hasattr(module, "dispatch") and hasattr(module, "DispatcherConfig")):
            raise NotADispatcher("its code has no dispatch() and DispatcherConfig")
        return module

    def _load(self, snapshot: FunctionSnapshot, module_name: str) -> ModuleType:
        if not snapshot.code:
            raise NotADispatcher("no zip code stored for it")
        folder = self.sandbox.workdir / "lambda" / snapshot.code_sha[:16]
        try:
            with zipfile.ZipFile(io.BytesIO(snapshot.code)) as archive:
                archive.extractall(folder)
        except zipfile.BadZipFile:
            # moto stores what it was given; a base64 text zip is decoded once more.
            try:
                data = base64.b64decode(snapshot.code, validate=True)
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    archive.extractall(folder)
            except Exception as exc:
                raise NotADispatcher("its code is not a zip file") from exc
        source = folder / (module_name.replace(".", "/") + ".py")
        if not source.is_file():
            raise NotADispatcher(f"{source.name} is not in its zip")
        unique = f"_yunpipe_sandbox_{module_name.replace('.', '_')}_{snapshot.code_sha[:16]}"
        spec = importlib.util.spec_from_file_location(unique, source)
        if spec is None or spec.loader is None:  # pragma: no cover
            raise NotADispatcher(f"cannot load {source.name}")
        module = importlib.util.module_from_spec(spec)
        # Registered under its unique name while it runs: dataclasses look their module up.
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(unique, None)
            raise
        scale = self.sandbox.timings.dispatcher_backoff
        backoff = getattr(module, "BACKOFF_SECONDS", None)
        if scale is not None and isinstance(backoff, tuple):
            # Sandbox-scaled waits for a new instance (the agent registers it within a poll);
            # this module object is the sandbox's own copy, loaded from the function's zip.
            vars(module)["BACKOFF_SECONDS"] = tuple(float(d) * scale for d in backoff)
        return module

    # ----------------------------------------------------------------- schedules
    def _schedule_loop(self) -> None:
        interval = max(0.05, self.sandbox.timings.reconcile)
        while not self._stop.wait(interval):
            try:
                self.fire_schedules()
            except Exception:
                LOG.exception("firing schedules failed")

    def fire_schedules(self) -> int:
        """Invoke the Lambda targets of every enabled schedule rule once; returns how many."""
        from moto.awslambda.utils import get_backend

        from yunpipe_tui.sandbox.constants import ACCOUNT_ID

        events = self.sandbox.moto_backend("events")
        lambdas = get_backend(ACCOUNT_ID, self.sandbox.region)
        fired = 0
        for bus in list(events.event_buses.values()):
            for rule in list(bus.rules.values()):
                if rule.state != "ENABLED" or not rule.scheduled_expression:
                    continue
                for target in list(rule.targets):
                    arn = str(target.get("Arn", ""))
                    if ":lambda:" not in arn or arn in self._reconciling:
                        continue
                    try:
                        fn = lambdas.get_function(arn)
                    except Exception:
                        continue
                    raw = target.get("Input")
                    event = (
                        json.loads(raw)
                        if raw
                        else scheduled_event(rule.arn, self.sandbox.region, ACCOUNT_ID)
                    )
                    self._reconcile(FunctionSnapshot.of(fn), arn, event)
                    fired += 1
        return fired

    def _reconcile(self, snapshot: FunctionSnapshot, arn: str, event: Any) -> None:
        pool = self._pool
        if pool is None:
            return
        self._reconciling.add(arn)
        self.sandbox.activity.add("reconciles")

        def run() -> None:
            try:
                self._run(snapshot, event, "schedule")
            finally:
                self._reconciling.discard(arn)

        with self._inflight_lock:
            self._inflight += 1
        try:
            pool.submit(run)
        except RuntimeError:
            self._reconciling.discard(arn)
            with self._inflight_lock:
                self._inflight -= 1


def _accepts(function: Any, parameter: str) -> bool:
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 300 else text[:297] + "..."
