"""The local container runtime: every ECS task started from a yunpipe task definition runs the real
container runner (`assets/runner.py`) as a local subprocess.

- Environment: the task definition's container environment with the task's overrides applied,
  `YUNPIPE_ENDPOINT_URL` (and `AWS_ENDPOINT_URL`) pointed at the sandbox, the dummy credentials
  (the user's own AWS variables are never passed on), the sandbox's runner timings, and
  `YUNPIPE_INPUT_PATH` / `YUNPIPE_OUTPUT_PATH` remapped from container paths into a per-task
  folder (`<workdir>/tasks/<task id>/root/<container path>`). The algorithm's `run_command` thus
  runs on the host; this interpreter's folder comes first on PATH, so `python3` is this Python.
- When the runner exits, the task is stopped in moto with the container's exit code and
  "Essential container in task exited", and the runner's output goes to the task definition's
  awslogs group, as the awslogs driver would.
- A task stopped by someone else (teardown, a user) gets SIGTERM, as ECS sends it.

`LocalLoop` drives the agent and this executor from one thread, every `Timings.poll` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from yunpipe_tui.sandbox.agent import Agent
from yunpipe_tui.sandbox.constants import ACCOUNT_ID, DUMMY_CREDENTIALS, python_bin_dir
from yunpipe_tui.sandbox_hints import failure_hint

if TYPE_CHECKING:
    from yunpipe_tui.sandbox.server import Sandbox

LOG = logging.getLogger("yunpipe.sandbox.executor")

FAMILY_PREFIX = "yunpipe-"
CONTAINER = "algorithm"
EXITED = "Essential container in task exited"
PATH_VARIABLES = ("YUNPIPE_INPUT_PATH", "YUNPIPE_OUTPUT_PATH")
_KILL_AFTER_GRACE = 2.0  # ECS: SIGKILL when the container outlives its stop timeout


@dataclass
class LocalTask:
    arn: str
    cluster: str
    family: str
    container_instance_arn: str
    folder: Path
    process: subprocess.Popen[bytes] | None
    log: IO[bytes] | None
    log_config: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    stop_reason: str = ""
    terminated_at: float | None = None
    on_agent_instance: bool = False

    @property
    def task_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


def remap(container_path: str, root: Path) -> str:
    """A path inside the container → the same path under the task's folder on the host."""
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


class Executor:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.tasks: dict[str, LocalTask] = {}
        self.finished: dict[str, int] = {}  # task ARN → exit code, for tests and the demo
        self._seen: set[str] = set()
        self._taskdefs: dict[str, dict[str, Any]] = {}
        self._runner: Path | None = None
        self.closed = False  # set by close(): no process starts after the sandbox stopped

    @property
    def ecs(self) -> Any:
        return self.sandbox.context.client("ecs")

    def busy(self) -> bool:
        return bool(self.tasks)

    # ----------------------------------------------------------------- the loop's work
    def tick(self, known_instances: dict[str, str]) -> None:
        listed: set[str] = set()
        clusters = self.ecs.list_clusters().get("clusterArns", [])
        for cluster_arn in clusters:
            cluster = cluster_arn.rsplit("/", 1)[-1]
            arns = self._list_running(cluster)
            listed.update(arns)
            fresh = [a for a in arns if a not in self._seen]
            for i in range(0, len(fresh), 100):
                described = self.ecs.describe_tasks(cluster=cluster, tasks=fresh[i : i + 100])
                for task in described.get("tasks", []):
                    self._seen.add(task["taskArn"])
                    try:
                        self._start(cluster, task, known_instances)
                    except Exception as exc:
                        # As ECS does when a container cannot start: the task stops with a reason.
                        LOG.warning("task %s could not start: %s", task["taskArn"], exc)
                        self.tasks.pop(task["taskArn"], None)
                        with contextlib.suppress(Exception):
                            self.ecs.stop_task(
                                cluster=cluster,
                                task=task["taskArn"],
                                reason=f"CannotStartContainerError: {exc}"[:255],
                            )
        for task in list(self.tasks.values()):
            if task.terminated_at is None:
                if task.arn not in listed:
                    self._terminate(task, "")  # stopped in ECS by someone else
                elif task.on_agent_instance and (
                    task.container_instance_arn not in known_instances
                ):
                    self._terminate(task, "Host EC2 instance terminated")
        self._reap()

    def _list_running(self, cluster: str) -> list[str]:
        arns: list[str] = []
        paginator = self.ecs.get_paginator("list_tasks")
        for page in paginator.paginate(cluster=cluster, desiredStatus="RUNNING"):
            arns.extend(page.get("taskArns", []))
        return arns

    # ----------------------------------------------------------------- starting
    def _taskdef(self, arn: str) -> dict[str, Any]:
        cached = self._taskdefs.get(arn)
        if cached is None:
            cached = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            self._taskdefs[arn] = cached
        return cached

    def _runner_path(self) -> Path:
        if self._runner is None or not self._runner.is_file():
            folder = self.sandbox.workdir / "yunpipe"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "runner.py"
            given = self.sandbox.runner
            source = given.read_text(encoding="utf-8") if given else runner_source()
            path.write_text(source, encoding="utf-8")
            self._runner = path
        return self._runner

    def task_environment(
        self, taskdef: dict[str, Any], task: dict[str, Any], root: Path
    ) -> dict[str, str]:
        containers = taskdef.get("containerDefinitions", [])
        container = next((c for c in containers if c.get("name") == CONTAINER), None)
        if container is None and containers:
            container = containers[0]
        name = (container or {}).get("name", CONTAINER)
        env = {e["name"]: str(e.get("value", "")) for e in (container or {}).get("environment", [])}
        for override in task.get("overrides", {}).get("containerOverrides", []):
            if override.get("name") == name:
                extra = override.get("environment", [])
                env.update({e["name"]: str(e.get("value", "")) for e in extra})
        timings = self.sandbox.timings
        env.update(
            {
                "YUNPIPE_ENDPOINT_URL": self.sandbox.endpoint,
                "AWS_ENDPOINT_URL": self.sandbox.endpoint,
                "AWS_REGION": self.sandbox.region,
                "AWS_DEFAULT_REGION": self.sandbox.region,
                "YUNPIPE_IDLE_SECONDS": _number(timings.runner_idle),
                "YUNPIPE_WAIT_SECONDS": _number(timings.runner_wait),
                "YUNPIPE_RETRY_DELAY_SECONDS": _number(timings.runner_retry_delay),
                "YUNPIPE_STOP_GRACE_SECONDS": _number(timings.stop_grace),
                # The ledger names the task that ran a file (ECS's metadata endpoint on AWS).
                "YUNPIPE_RUNNER_ID": str(task.get("taskArn", "")),
                **DUMMY_CREDENTIALS,
            }
        )
        for variable in PATH_VARIABLES:
            if env.get(variable):
                env[variable] = remap(env[variable], root)
        return env

    def _start(self, cluster: str, task: dict[str, Any], known_instances: dict[str, str]) -> None:
        arn = task["taskArn"]
        taskdef = self._taskdef(task["taskDefinitionArn"])
        family = taskdef.get("family", "")
        if not family.startswith(FAMILY_PREFIX):
            return  # not ours: left alone, as it would sit on an instance we do not run
        folder = self.sandbox.workdir / "tasks" / arn.rsplit("/", 1)[-1]
        root = folder / "root"
        root.mkdir(parents=True, exist_ok=True)
        task_env = self.task_environment(taskdef, task, root)
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
        log_config: dict[str, Any] = next(
            (
                c.get("logConfiguration", {})
                for c in taskdef.get("containerDefinitions", [])
                if c.get("name") == CONTAINER
            ),
            {},
        )
        local = LocalTask(
            arn=arn,
            cluster=cluster,
            family=family,
            container_instance_arn=task.get("containerInstanceArn", ""),
            folder=folder,
            process=None,
            log=None,
            log_config=log_config or {},
            on_agent_instance=task.get("containerInstanceArn", "") in known_instances,
        )
        self.tasks[arn] = local
        if self.closed:
            return
        try:
            log = open(folder / "runner.log", "wb")  # noqa: SIM115 - closed when reaped
            local.log = log
            local.process = subprocess.Popen(
                [sys.executable, str(self._runner_path())],
                env=env,
                cwd=str(folder),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except (OSError, FileNotFoundError) as exc:
            LOG.error("task %s could not start: %s", arn, exc)
            local.stop_reason = f"CannotStartContainerError: {exc}"
            return
        if self.closed:  # stopped while this process started: it must not outlive the sandbox
            _kill(local.process)
            return
        self._set_container(cluster, arn, status="RUNNING")
        self.sandbox.activity.add("tasks_started")
        LOG.info("task %s (%s) running as pid %s", local.task_id, family, local.process.pid)

    # ----------------------------------------------------------------- stopping
    def _terminate(self, task: LocalTask, reason: str) -> None:
        task.terminated_at = time.monotonic()
        task.stop_reason = reason
        if task.process is not None and task.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                task.process.send_signal(signal.SIGTERM)

    def _reap(self) -> None:
        for task in list(self.tasks.values()):
            process = task.process
            if process is not None:
                code = process.poll()
                if code is None:
                    if (
                        task.terminated_at is not None
                        and time.monotonic() - task.terminated_at
                        > self.sandbox.timings.stop_grace + _KILL_AFTER_GRACE
                    ):
                        _kill(process)
                    continue
            else:
                code = 127
            self.tasks.pop(task.arn, None)
            if task.log is not None:
                task.log.close()
            self.finished[task.arn] = code
            already_stopped = task.terminated_at is not None and not task.stop_reason
            reason = task.stop_reason or EXITED
            self._set_container(task.cluster, task.arn, status="STOPPED", exit_code=code)
            if not already_stopped:
                try:
                    self.ecs.stop_task(cluster=task.cluster, task=task.arn, reason=reason)
                except Exception as exc:
                    LOG.info("stop_task %s failed: %s", task.task_id, exc)
            self.sandbox.activity.add("tasks_stopped")
            LOG.info("task %s exited with %s", task.task_id, code)
            self._ship_logs(task)
            shutil.rmtree(task.folder / "root", ignore_errors=True)

    def _set_container(
        self, cluster: str, arn: str, status: str, exit_code: int | None = None
    ) -> None:
        """moto's container record: its status and exit code (no API sets these)."""
        try:
            backend = self.sandbox.moto_backend("ecs")
            record = backend.tasks.get(cluster, {}).get(arn)
            if record is None:
                return
            for container in record.containers:
                container.last_status = status
                if exit_code is not None:
                    container.exitCode = exit_code
                    container.reason = EXITED if status == "STOPPED" else None
        except Exception:  # pragma: no cover - the record is cosmetic
            LOG.debug("container status not set", exc_info=True)

    def _ship_logs(self, task: LocalTask) -> None:
        options = task.log_config.get("options", {}) if task.log_config else {}
        group = options.get("awslogs-group")
        if task.log_config.get("logDriver") != "awslogs" or not group:
            return
        prefix = options.get("awslogs-stream-prefix", "")
        stream = "/".join(p for p in (prefix, CONTAINER, task.task_id) if p)
        try:
            text = (task.folder / "runner.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        lines = [line for line in text.splitlines() if line.strip()][-1000:]
        if not lines:
            return
        logs = self.sandbox.context.client("logs")
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            now = int(time.time() * 1000)
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": now, "message": line} for line in lines],
            )
        except Exception as exc:
            LOG.info("logs of %s not shipped to %s: %s", task.task_id, group, exc)

    def stop_all(self) -> None:
        for task in list(self.tasks.values()):
            if task.process is not None and task.process.poll() is None:
                _kill(task.process)
            if task.log is not None:
                task.log.close()
        self.tasks.clear()

    def close(self) -> None:
        """Stop every task process and start no new one (a tick may still be finishing)."""
        self.closed = True
        self.stop_all()

    def reset(self) -> None:
        self.stop_all()
        self.finished.clear()
        self._seen.clear()
        self._taskdefs.clear()


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class LocalLoop:
    """One thread: the agent registers and retires instances, the executor runs tasks."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.agent = Agent(sandbox)
        self.executor = Executor(sandbox)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="yunpipe-agent", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = max(0.02, self.sandbox.timings.poll)
        while not self._stop.wait(interval):
            with self._lock:
                try:
                    self.tick()
                except Exception as exc:
                    if not self._stop.is_set():  # after stop, calls to the gone server fail
                        LOG.warning("agent tick failed: %s", exc, exc_info=True)

    def tick(self) -> None:
        self.agent.tick()
        self.executor.tick(self.agent.container_instances())

    def busy(self) -> bool:
        return self.executor.busy()

    def stop(self, *, wait: bool = True) -> None:
        """Kill the task processes; no new one starts. `wait=False` does not wait for a tick
        in flight (its thread is a daemon): for a process about to exit."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10 if wait else 0)
            self._thread = None
        self.executor.close()

    def reset(self) -> None:
        with self._lock:
            self.executor.reset()
            self.agent.reset()


__all__ = ["ACCOUNT_ID", "Executor", "LocalLoop", "LocalTask", "remap"]
