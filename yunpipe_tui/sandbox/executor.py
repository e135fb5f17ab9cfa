"""The local container runtime for ECS: every ECS task started from a yunpipe task definition runs
the real container runner (`assets/runner.py`) as a local subprocess (`runner_process`, shared
with the Batch runner).

- Environment: the task definition's container environment with the task's overrides applied,
  plus the sandbox's settings (`runner_process.runner_environment`); container paths live under
  `<workdir>/tasks/<task id>/root/`.
- When the runner exits, the task is stopped in moto with the container's exit code and
  "Essential container in task exited", and the runner's output goes to the task definition's
  awslogs group (stream `<prefix>/algorithm/<task id>`), as the awslogs driver would.
- A task stopped by someone else (teardown, a user) gets SIGTERM, as ECS sends it.

`LocalLoop` drives the agent, this executor and the Batch runner (`batch_runner`) from one
thread, every `Timings.poll` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yunpipe_tui.sandbox.agent import Agent
from yunpipe_tui.sandbox.batch_runner import BatchRunner
from yunpipe_tui.sandbox.constants import ACCOUNT_ID
from yunpipe_tui.sandbox.runner_process import (
    RunnerProcess,
    launch,
    process_environment,
    remap,
    runner_environment,
    ship_logs,
)

if TYPE_CHECKING:
    import subprocess

    from yunpipe_tui.sandbox.server import Sandbox

LOG = logging.getLogger("yunpipe.sandbox.executor")

FAMILY_PREFIX = "yunpipe-"
CONTAINER = "algorithm"
EXITED = "Essential container in task exited"


@dataclass
class LocalTask:
    arn: str
    cluster: str
    family: str
    container_instance_arn: str
    run: RunnerProcess
    log_config: dict[str, Any] = field(default_factory=dict)
    stop_reason: str = ""
    on_agent_instance: bool = False

    @property
    def task_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def folder(self) -> Path:
        return self.run.folder

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.run.process

    @property
    def terminated_at(self) -> float | None:
        return self.run.terminated_at


class Executor:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.tasks: dict[str, LocalTask] = {}
        self.finished: dict[str, int] = {}  # task ARN → exit code, for tests and the demo
        self._seen: set[str] = set()
        self._taskdefs: dict[str, dict[str, Any]] = {}
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
        return runner_environment(self.sandbox, env, str(task.get("taskArn", "")), root)

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
            run=RunnerProcess(folder=folder),
            log_config=log_config or {},
            on_agent_instance=task.get("containerInstanceArn", "") in known_instances,
        )
        self.tasks[arn] = local
        if self.closed:
            return
        local.run = launch(self.sandbox, task_env, folder)
        if local.process is None:
            LOG.error("task %s could not start: %s", arn, local.run.error)
            local.stop_reason = f"CannotStartContainerError: {local.run.error}"
            return
        if self.closed:  # stopped while this process started: it must not outlive the sandbox
            local.run.kill()
            return
        self._set_container(cluster, arn, status="RUNNING")
        self.sandbox.activity.add("tasks_started")
        LOG.info("task %s (%s) running as pid %s", local.task_id, family, local.process.pid)

    # ----------------------------------------------------------------- stopping
    def _terminate(self, task: LocalTask, reason: str) -> None:
        task.stop_reason = reason
        task.run.terminate(self.sandbox.timings.stop_grace)

    def _reap(self) -> None:
        for task in list(self.tasks.values()):
            code = task.run.poll()
            if code is None:
                continue
            self.tasks.pop(task.arn, None)
            task.run.close()
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
        ship_logs(self.sandbox, group, stream, task.run.log_path)

    def stop_all(self) -> None:
        for task in list(self.tasks.values()):
            task.run.kill()
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


class LocalLoop:
    """One thread: the agent registers and retires instances, the executor runs ECS tasks, the
    Batch runner runs Batch jobs."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.agent = Agent(sandbox)
        self.executor = Executor(sandbox)
        self.batch = BatchRunner(sandbox)
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
        try:
            self.batch.tick()  # first: a failing ECS call must not hold up Batch jobs
        except Exception as exc:
            if not self._stop.is_set():
                LOG.warning("batch tick failed: %s", exc, exc_info=True)
        self.agent.tick()
        self.executor.tick(self.agent.container_instances())

    def busy(self) -> bool:
        return self.executor.busy() or self.batch.busy()

    def stop(self, *, wait: bool = True) -> None:
        """Kill the task processes; no new one starts. `wait=False` does not wait for a tick
        in flight (its thread is a daemon): for a process about to exit."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10 if wait else 0)
            self._thread = None
        self.executor.close()
        self.batch.close()

    def reset(self) -> None:
        with self._lock:
            self.executor.reset()
            self.batch.reset()
            self.agent.reset()


__all__ = ["ACCOUNT_ID", "Executor", "LocalLoop", "LocalTask", "process_environment", "remap"]
