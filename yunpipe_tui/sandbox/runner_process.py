"""The container runner (`assets/runner.py`) as a local process: what the ECS executor and the
Batch runner share, so an ECS task and a Batch job run the same way on the host.

- Environment: what the task or job declares (its container environment with overrides), then
  `YUNPIPE_ENDPOINT_URL` (and `AWS_ENDPOINT_URL`) pointed at the sandbox, the dummy credentials
  (the user's own AWS variables are never passed on), the sandbox's runner timings, and
  `YUNPIPE_INPUT_PATH` / `YUNPIPE_OUTPUT_PATH` remapped from container paths into a per-run
  folder (`<folder>/root/<container path>`). The algorithm's `run_command` thus runs on the host;
  this interpreter's folder comes first on PATH, so `python3` is this Python.
- Output: the process's stdout and stderr go to `<folder>/runner.log`, shipped to CloudWatch Logs
  when it exits, as the awslogs driver would.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING

from yunpipe_tui.sandbox.constants import DUMMY_CREDENTIALS, python_bin_dir
from yunpipe_tui.sandbox_hints import failure_hint

if TYPE_CHECKING:
    from yunpipe_tui.sandbox.server import Sandbox

LOG = logging.getLogger("yunpipe.sandbox.runner")

PATH_VARIABLES = ("YUNPIPE_INPUT_PATH", "YUNPIPE_OUTPUT_PATH")
KILL_AFTER_GRACE = 2.0  # ECS: SIGKILL when the container outlives its stop timeout


def remap(container_path: str, root: Path) -> str:
    """A path inside the container → the same path under the run's folder on the host."""
    relative = container_path.strip().lstrip("/")
    target = root / relative if relative else root
    text = str(target)
    if container_path.endswith("/") and not text.endswith(os.sep):
        text += os.sep
    return text


def process_environment(task_env: dict[str, str], folder: Path) -> dict[str, str]:
    """The runner's whole environment: the task's, plus only what a process needs to start.
    Nothing else of this process's environment (the user's AWS keys, tokens) is passed on."""
    env = {
        "PATH": python_bin_dir() + os.pathsep + os.environ.get("PATH", os.defpath),
        "HOME": str(folder),
        "TMPDIR": str(folder),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for keep in ("LANG", "LC_ALL", "SYSTEMROOT", "TZ"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    env.update(task_env)
    return env


def runner_source() -> str:
    return resources.files("yunpipe_tui.assets").joinpath("runner.py").read_text(encoding="utf-8")


def runner_path(sandbox: Sandbox) -> Path:
    """The runner's file in the sandbox's workdir (the one given to the sandbox, or the real one),
    written on first use and again if something removed it."""
    path = sandbox.workdir / "yunpipe" / "runner.py"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        given = sandbox.runner
        path.write_text(
            given.read_text(encoding="utf-8") if given else runner_source(), encoding="utf-8"
        )
    return path


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def runner_environment(
    sandbox: Sandbox, declared: dict[str, str], runner_id: str, root: Path
) -> dict[str, str]:
    """The task's or job's declared environment with the sandbox's settings on top and the
    container paths remapped under `root`."""
    env = dict(declared)
    timings = sandbox.timings
    env.update(
        {
            "YUNPIPE_ENDPOINT_URL": sandbox.endpoint,
            "AWS_ENDPOINT_URL": sandbox.endpoint,
            "AWS_REGION": sandbox.region,
            "AWS_DEFAULT_REGION": sandbox.region,
            "YUNPIPE_IDLE_SECONDS": number_text(timings.runner_idle),
            "YUNPIPE_WAIT_SECONDS": number_text(timings.runner_wait),
            "YUNPIPE_RETRY_DELAY_SECONDS": number_text(timings.runner_retry_delay),
            "YUNPIPE_STOP_GRACE_SECONDS": number_text(timings.stop_grace),
            # The ledger names what ran a file (ECS's metadata endpoint on AWS).
            "YUNPIPE_RUNNER_ID": runner_id,
            **DUMMY_CREDENTIALS,
        }
    )
    for variable in PATH_VARIABLES:
        if env.get(variable):
            env[variable] = remap(env[variable], root)
    return env


@dataclass
class RunnerProcess:
    """One runner running (or failed to start) in its folder."""

    folder: Path
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    error: str = ""  # why it could not start
    started: float = field(default_factory=time.monotonic)
    terminated_at: float | None = None
    grace: float = 0.0  # seconds between SIGTERM and SIGKILL, set by terminate()

    @property
    def log_path(self) -> Path:
        return self.folder / "runner.log"

    def poll(self) -> int | None:
        """The exit code once it has exited (127 when it never started), else None. A process
        that outlives its stop grace after `terminate()` is killed."""
        if self.process is None:
            return 127
        code = self.process.poll()
        if (
            code is None
            and self.terminated_at is not None
            and time.monotonic() - self.terminated_at > self.grace + KILL_AFTER_GRACE
        ):
            kill(self.process)
            code = self.process.poll()
        return code

    def terminate(self, grace: float) -> None:
        """SIGTERM now (as ECS stops a container), SIGKILL once `grace` (+2 s) has passed."""
        if self.terminated_at is None:
            self.terminated_at = time.monotonic()
            self.grace = grace
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            kill(self.process)
        self.close()

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


def launch(sandbox: Sandbox, task_env: dict[str, str], folder: Path) -> RunnerProcess:
    """Start the runner with `task_env` (from `runner_environment`) in `folder`. On an OSError
    the result has no process and says why in `error`."""
    for variable in PATH_VARIABLES:
        if task_env.get(variable):
            path = Path(task_env[variable])
            (path if task_env[variable].endswith(os.sep) else path.parent).mkdir(
                parents=True, exist_ok=True
            )
    env = process_environment(task_env, folder)
    hint = failure_hint(task_env.get("YUNPIPE_RUN_COMMAND", ""))
    if hint:
        env["YUNPIPE_FAILURE_HINT"] = hint
    run = RunnerProcess(folder=folder)
    try:
        run.log = open(run.log_path, "wb")  # noqa: SIM115 - closed when reaped
        run.process = subprocess.Popen(
            [sys.executable, str(runner_path(sandbox))],
            env=env,
            cwd=str(folder),
            stdin=subprocess.DEVNULL,
            stdout=run.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        run.error = str(exc)
        run.close()
    return run


def ship_logs(sandbox: Sandbox, group: str, stream: str, log_path: Path) -> None:
    """The last 1000 non-empty lines of the runner's output into `group`/`stream`."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    lines = [line for line in text.splitlines() if line.strip()][-1000:]
    if not lines:
        return
    logs = sandbox.context.client("logs")
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": now, "message": line} for line in lines],
        )
    except Exception as exc:
        LOG.info("logs of %s not shipped to %s: %s", stream, group, exc)


def kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
