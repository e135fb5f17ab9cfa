"""The sandbox's lifecycle: moto's ThreadedMotoServer on 127.0.0.1 plus the local executor (the
ECS agent and executor, the Batch runner) and the Lambda bridge.

Nothing from moto, werkzeug, the dispatcher or the runner reaches the terminal: werkzeug's and
moto's loggers are silenced, the server runs with `verbose=False`, moto's Docker path is never
taken (see `patches`), and everything the sandbox itself logs goes to `<workdir>/sandbox.log`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shlex
import shutil
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yunpipe_tui.errors import EXIT_USAGE, YunpipeError
from yunpipe_tui.sandbox.constants import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    DUMMY_CREDENTIALS,
    INSTALL_HINT,
    Timings,
    python_bin_dir,
)
from yunpipe_tui.sandbox.patches import MOTO_VERSION

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext

LOG = logging.getLogger("yunpipe.sandbox")

MANUAL_TASKS = {"progression": "manual", "times": 1_000_000_000}
MANUAL_MODELS = ("ecs::task", "batch::job")

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_REGION",
    "DUMMY_CREDENTIALS",
    "INSTALL_HINT",
    "MOTO_VERSION",
    "Sandbox",
    "SandboxUnavailable",
    "Timings",
    "moto_available",
    "python_bin_dir",
]


class SandboxUnavailable(YunpipeError):
    """The `sandbox` extra (moto, flask) is missing or the wrong moto version is installed."""

    exit_code = EXIT_USAGE


def moto_available() -> bool:
    """Whether the `sandbox` extra is installed (without importing it)."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("moto", "flask", "flask_cors"))
    except (ImportError, ValueError):
        return False


@dataclass
class Activity:
    """What the sandbox's stand-ins did; thread-safe counters for tests, the demo and benchmarks."""

    lambda_invocations: int = 0
    lambda_errors: int = 0
    reconciles: int = 0
    instances_registered: int = 0
    instances_retired: int = 0
    tasks_started: int = 0
    tasks_stopped: int = 0
    jobs_started: int = 0  # Batch jobs whose runner started
    jobs_stopped: int = 0
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)
            del self.errors[:-50]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items()
                if not k.startswith("_")
            }

    def reset(self) -> None:
        with self._lock:
            for k, v in list(self.__dict__.items()):
                if k.startswith("_"):
                    continue
                setattr(self, k, [] if isinstance(v, list) else 0)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_QUIET_LOGGERS = ("werkzeug", "moto", "botocore", "boto3", "urllib3", "docker", "flask_cors")


class Sandbox:
    """moto's server in this process, on 127.0.0.1, with the local executor beside it.

    Only one sandbox may run in a process at a time (moto's state is per process).
    Use as a context manager, or `start()` / `stop()`; `reset()` empties every service.
    """

    def __init__(
        self,
        port: int = 0,
        region: str = DEFAULT_REGION,
        timings: Timings | None = None,
        workdir: str | Path | None = None,
        executor: bool = True,
        runner: str | Path | None = None,
        middleware: Any = None,
    ) -> None:
        self.requested_port = port
        self.region = region
        self.timings = timings or Timings()
        self.run_executor = executor
        # The container runner's source; None: the real one shipped in yunpipe_tui.assets.
        self.runner = Path(runner) if runner else None
        # A WSGI middleware around moto's app (fault injection, latency): middleware(app) -> app.
        self.middleware = middleware
        self._own_workdir = workdir is None
        self.workdir = (
            Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="yunpipe-sandbox-"))
        )
        self.activity = Activity()
        self.port = 0
        self._server: Any = None
        self._bridge: Any = None
        self._loop: Any = None
        self._log_handler: logging.Handler | None = None
        self._root_handler_added = False
        self._saved_levels: dict[str, int] = {}
        self._saved_env: dict[str, str | None] = {}
        self._context: AwsContext | None = None
        self._patched = False

    # ----------------------------------------------------------------- lifecycle
    @property
    def endpoint(self) -> str:
        if not self.port:
            raise RuntimeError("the sandbox is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        if not moto_available():
            raise SandboxUnavailable(
                f"the local sandbox needs the 'sandbox' extra; install it with: {INSTALL_HINT}"
            )
        from yunpipe_tui.sandbox import patches

        installed = patches.installed_moto_version()
        missing = patches.check_hooks()
        if missing:
            raise SandboxUnavailable(
                f"moto {installed} lacks what the sandbox hooks into ({', '.join(missing)}); "
                f"the sandbox is built for moto {MOTO_VERSION}: {INSTALL_HINT}"
            )
        if patches.is_installed():
            raise RuntimeError("a sandbox is already running in this process")
        if installed != MOTO_VERSION:
            LOG.warning("moto %s installed; the sandbox is tested with %s", installed, MOTO_VERSION)
        # Read by moto when its IAM backend is first built: AWS's managed policies exist.
        self._set_env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        # Code run in this process (the dispatcher builds its own boto3 clients) needs some
        # credentials; without any in the environment, it gets the dummy ones.
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            for name, value in DUMMY_CREDENTIALS.items():
                self._set_env(name, value)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._quiet()

        from moto.server import ThreadedMotoServer

        from yunpipe_tui.sandbox.lambda_bridge import LambdaBridge

        self._bridge = LambdaBridge(self)
        try:
            patches.install(self._bridge.on_s3_event, self._bridge.on_invoke)
        except RuntimeError:
            self._bridge = None
            self._restore_env()
            self._loud()
            raise
        self._patched = True
        try:
            port = self.requested_port or _free_port()
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            self._server = server
            self.port = int(server.get_host_and_port()[1])
            if self.middleware is not None:
                # werkzeug's handler calls `server.app` for each request; the sandbox's own
                # /moto-api calls (reset, state manager) bypass the middleware.
                wsgi = server._server
                assert wsgi is not None  # start() returns once the server is listening
                raw = wsgi.app
                wrapped = self.middleware(raw)

                def app(environ: dict[str, Any], start_response: Any) -> Any:
                    if environ.get("PATH_INFO", "").startswith("/moto-api"):
                        return raw(environ, start_response)
                    return wrapped(environ, start_response)

                wsgi.app = app
            # moto's state is per process: a sandbox starts empty, whatever ran before it.
            self._post("/moto-api/reset", {})
            self._manual_tasks()
            self._bridge.start()
            if self.run_executor:
                from yunpipe_tui.sandbox.executor import LocalLoop

                self._loop = LocalLoop(self)
                self._loop.start()
        except BaseException:
            self.stop()
            raise
        LOG.info("sandbox listening on %s (workdir %s)", self.endpoint, self.workdir)
        return self

    def stop(self, *, wait: bool = True) -> None:
        """Stop everything and restore the environment. `wait=False` is for a process about to
        exit (quitting the demo wizard): task processes are killed and files removed, but no
        thread is waited for and the server's daemon thread is left to end with the process."""
        from yunpipe_tui.sandbox import patches

        if self._loop is not None:
            self._loop.stop(wait=wait)
            self._loop = None
        if self._bridge is not None:
            self._bridge.stop(wait=wait)
        if self._server is not None and wait:
            try:
                self._server.stop()
            except Exception:  # pragma: no cover - werkzeug shutdown races
                LOG.debug("server stop failed", exc_info=True)
        self._server = None
        self._bridge = None
        if self._patched:
            patches.uninstall()
            self._patched = False
        self._unset_manual_tasks()
        self._restore_env()
        self._loud()
        self.port = 0
        self._context = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:  # its records go with it even when the caller keeps the workdir
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def reset(self) -> None:
        """Forget every resource (POST /moto-api/reset) and every local task and instance."""
        if self._loop is not None:
            self._loop.reset()
        if self._bridge is not None:
            self._bridge.reset()
        self._post("/moto-api/reset", {})
        self._manual_tasks()
        self.activity.reset()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- for callers
    @property
    def state_dir(self) -> Path:
        """Where yunpipe keeps the records of deploys to this sandbox (inside its workdir)."""
        return self.workdir / "state"

    def environ(self) -> dict[str, str]:
        """What a process (or the AWS CLI) needs to talk to this sandbox."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            **DUMMY_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "YUNPIPE_SANDBOX": "1",  # yunpipe_tui.sandbox_hints.on_sandbox
            # Deploy journals and locks of the sandbox stay in it and vanish when it stops.
            "YUNPIPE_STATE_DIR": str(self.state_dir),
        }

    def export_lines(self) -> list[str]:
        return [f"export {k}={shlex.quote(v)}" for k, v in self.environ().items()]

    def aws_context(self, counter: Any = None) -> AwsContext:
        """A fresh AwsContext on the sandbox with the dummy credentials (never the user's)."""
        import boto3

        from yunpipe_tui.aws import AwsContext, CallCounter

        session = boto3.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=self.region,
        )
        return AwsContext.from_session(
            session, endpoint_url=self.endpoint, counter=counter or CallCounter(), max_attempts=3
        )

    @property
    def context(self) -> AwsContext:
        """The sandbox's own AwsContext (the agent's and executor's clients)."""
        if self._context is None:
            self._context = self.aws_context()
        return self._context

    def wait_quiet(self, timeout: float = 30.0) -> bool:
        """Wait until no Lambda invocation and no local task is in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = (self._bridge is not None and self._bridge.busy()) or (
                self._loop is not None and self._loop.busy()
            )
            if not busy:
                return True
            time.sleep(0.05)
        return False

    def local_tasks(self) -> list[dict[str, Any]]:
        """The ECS tasks running right now as local runner processes: arn, family, pid."""
        if self._loop is None:
            return []
        return [
            {"arn": t.arn, "family": t.family, "pid": t.process.pid if t.process else None}
            for t in list(self._loop.executor.tasks.values())
        ]

    def local_jobs(self) -> list[dict[str, Any]]:
        """The Batch jobs running right now as local runner processes: job id, job name, job
        queue, compute environment, vCPUs, pid."""
        if self._loop is None:
            return []
        return [
            {
                "job_id": p.job_id,
                "name": p.job.job_name,
                "queue": p.job.job_queue.name,
                "compute_environment": p.environment_name,
                "vcpus": p.vcpus,
                "pid": p.run.process.pid if p.run and p.run.process else None,
            }
            for p in self._loop.batch.running()
        ]

    def moto_backend(self, service: str) -> Any:
        """moto's in-process backend for a service in the sandbox's account and region."""
        from moto.backends import get_backend

        return get_backend(service)[ACCOUNT_ID][self.region]  # type: ignore[call-overload]

    # ----------------------------------------------------------------- internals
    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.endpoint + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def _manual_tasks(self) -> None:
        """ECS tasks and Batch jobs change state only when the executor or the Batch runner says
        so (moto would advance them as they are described)."""
        for model in MANUAL_MODELS:
            self._post(
                "/moto-api/state-manager/set-transition",
                {"model_name": model, "transition": MANUAL_TASKS},
            )

    def _unset_manual_tasks(self) -> None:
        try:
            from moto.moto_api import state_manager

            for model in MANUAL_MODELS:
                state_manager.unset_transition(model)
        except Exception:  # pragma: no cover
            LOG.debug("unset transition failed", exc_info=True)

    def _set_env(self, name: str, value: str | None) -> None:
        if name not in self._saved_env:
            self._saved_env[name] = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()

    def _quiet(self) -> None:
        handler = logging.FileHandler(self.workdir / "sandbox.log", encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
        )
        self._log_handler = handler
        ours = logging.getLogger("yunpipe.sandbox")
        root = logging.getLogger()
        if not root.handlers:
            # Without any handler Python prints WARNING+ records to stderr (logging.lastResort):
            # the dispatcher's and moto's log lines would land on the user's screen.
            root.addHandler(handler)
            self._root_handler_added = True
        else:
            ours.addHandler(handler)
        if ours.level == logging.NOTSET or ours.level > logging.INFO:
            self._saved_levels["yunpipe.sandbox"] = ours.level
            ours.setLevel(logging.INFO)
        for name in _QUIET_LOGGERS:
            logger = logging.getLogger(name)
            self._saved_levels.setdefault(name, logger.level)
            logger.setLevel(logging.CRITICAL)

    def _loud(self) -> None:
        for name, level in self._saved_levels.items():
            logging.getLogger(name).setLevel(level)
        self._saved_levels.clear()
        if self._log_handler is not None:
            logging.getLogger("yunpipe.sandbox").removeHandler(self._log_handler)
            if self._root_handler_added:
                logging.getLogger().removeHandler(self._log_handler)
                self._root_handler_added = False
            self._log_handler.close()
            self._log_handler = None
