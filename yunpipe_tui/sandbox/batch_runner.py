"""The sandbox's stand-in for AWS Batch's scheduler and its managed compute environments.

moto holds the compute environments, job queues, job definitions and jobs; its `SubmitJob` only
records a job (SUBMITTED, see `patches`). Each tick of the local loop this runner takes the jobs
of yunpipe's job queues (`yunpipe-*-jobs`) one state further, as Batch does:

- SUBMITTED -> PENDING -> RUNNABLE (PENDING waits for `dependsOn` jobs; a failed one fails it).
- RUNNABLE waits for capacity: the queue's compute environments are tried in
  `computeEnvironmentOrder`; an ENABLED environment takes the job when its vCPUs in use plus the
  job's (the job definition's VCPU requirement, or the override's) stay within `maxvCpus`.
  Capacity the environment does not have yet is "launched": it becomes usable one instance boot
  later (`Timings.batch_boot`, AWS: about 90 s), so scaling up from zero costs one boot. A
  DISABLED queue or environment places no new job; a job that fits no environment stays
  RUNNABLE, as on AWS.
- STARTING: the real runner starts as a local process (`runner_process`, as the ECS executor
  runs a task) with the job definition's container environment, the job's `containerOverrides`
  environment, `AWS_BATCH_JOB_ID`, `AWS_BATCH_JQ_NAME`, `AWS_BATCH_CE_NAME` and
  `AWS_BATCH_JOB_ATTEMPT`; then RUNNING.
- SUCCEEDED or FAILED by the exit code ("Essential container in task exited", the container's
  exitCode set); FAILED "Job attempt duration exceeded timeout" when it outlives
  `attemptDurationSeconds` (SIGTERM, then SIGKILL after the stop grace); FAILED with the given
  reason after TerminateJob/CancelJob; FAILED when its job queue is deleted.
- The runner's output goes to the job definition's awslogs group as
  `<awslogs-stream-prefix>/default/<job id>` (without awslogs: `/aws/batch/job`,
  `<job definition>/default/<job id>`), the job's `container.logStreamName`.

Each environment's `computeResources.desiredvCpus` in moto follows the capacity launched; capacity
idle for `Timings.instance_idle` is released, down to 0 (Batch scales a `minvCpus` 0 environment
to nothing). Jobs of other job queues are left SUBMITTED.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from yunpipe_tui.sandbox.runner_process import RunnerProcess, launch, runner_environment, ship_logs

if TYPE_CHECKING:
    from yunpipe_tui.sandbox.server import Sandbox

LOG = logging.getLogger("yunpipe.sandbox.batch")

QUEUE_PATTERN = "yunpipe-*-jobs"
SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING = (
    "SUBMITTED",
    "PENDING",
    "RUNNABLE",
    "STARTING",
    "RUNNING",
)
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
EXITED = "Essential container in task exited"
TIMED_OUT = "Job attempt duration exceeded timeout"
QUEUE_DELETED = "Job queue deleted"
DEPENDENCY_FAILED = "Dependent job failed"
CANNOT_START = "CannotStartContainerError"
BATCH_CONTAINER = "default"  # the container's name in Batch's log stream names
DEFAULT_LOG_GROUP = "/aws/batch/job"


def job_vcpus(job: Any) -> int:
    """The vCPUs a job reserves: the override's VCPU requirement, else the job definition's
    (resourceRequirements, or the deprecated `vcpus`), at least 1."""
    overrides = job.container_overrides or {}
    for requirement in overrides.get("resourceRequirements") or []:
        if str(requirement.get("type", "")).upper() == "VCPU":
            return max(1, math.ceil(float(requirement.get("value") or 1)))
    if overrides.get("vcpus"):
        return max(1, math.ceil(float(overrides["vcpus"])))
    declared = job.job_definition._get_resource_requirement("vcpus", 1)
    return max(1, math.ceil(float(declared or 1)))


def job_environment(job: Any, compute_environment: str) -> dict[str, str]:
    """What Batch gives the container: the job definition's environment, the job's overrides on
    top, and Batch's own variables."""
    properties = job.job_definition.container_properties or {}
    env = {e["name"]: str(e.get("value", "")) for e in properties.get("environment") or []}
    for entry in (job.container_overrides or {}).get("environment") or []:
        env[entry["name"]] = str(entry.get("value", ""))
    env.update(
        {
            "AWS_BATCH_JOB_ID": job.job_id,
            "AWS_BATCH_JQ_NAME": job.job_queue.name,
            "AWS_BATCH_CE_NAME": compute_environment,
            "AWS_BATCH_JOB_ATTEMPT": "1",
        }
    )
    return env


@dataclass
class Capacity:
    """One compute environment's launched vCPUs: (vCPUs, usable from) per launch."""

    launches: list[tuple[int, float]] = field(default_factory=list)
    surplus_since: float | None = None

    @property
    def launched(self) -> int:
        return sum(v for v, _ in self.launches)

    def usable(self, now: float) -> int:
        return sum(v for v, ready in self.launches if ready <= now)

    def launch(self, vcpus: int, ready: float) -> None:
        self.launches.append((vcpus, ready))

    def release(self, vcpus: int) -> None:
        """Give back `vcpus`, the longest-running capacity first (it is the idle part)."""
        kept: list[tuple[int, float]] = []
        for size, ready in sorted(self.launches, key=lambda item: item[1]):
            take = min(size, vcpus)
            vcpus -= take
            if size - take:
                kept.append((size - take, ready))
        self.launches = kept


@dataclass
class LocalJob:
    """A job placed on a compute environment: waiting for its capacity, or running."""

    job: Any  # moto's Job
    environment_arn: str
    environment_name: str
    vcpus: int
    run: RunnerProcess | None = None
    reason: str = ""  # set when the sandbox stops it (timeout, terminate, queue deleted)
    deadline: float | None = None

    @property
    def job_id(self) -> str:
        return str(self.job.job_id)


class BatchRunner:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.placed: dict[str, LocalJob] = {}  # job id → its placement (RUNNABLE .. RUNNING)
        self.capacity: dict[str, Capacity] = {}  # compute environment ARN → launched vCPUs
        self.finished: dict[str, int] = {}  # job id → exit code, for tests and the demo
        self.ran_on: dict[str, str] = {}  # job id → the compute environment it started on
        self.closed = False

    def busy(self) -> bool:
        return bool(self.placed)

    def running(self) -> list[LocalJob]:
        return [p for p in list(self.placed.values()) if p.run is not None]

    # ----------------------------------------------------------------- the loop's work
    def tick(self) -> None:
        if self.closed:
            return
        backend = self.sandbox.moto_backend("batch")
        now = time.monotonic()
        queues = {q.arn: q for q in list(backend._job_queues.values())}
        environments = {e.arn: e for e in list(backend._compute_environments.values())}
        for arn in list(self.capacity):
            if arn not in environments:
                self.capacity.pop(arn)
        jobs = [job for job in list(backend._jobs.values()) if self._ours(job)]
        jobs.sort(key=lambda job: job.job_created_at)
        for job in jobs:
            if job.job_stopped:
                continue
            try:
                self._advance(backend, job, queues, environments, now)
            except Exception as exc:  # one odd job must not stop the others
                LOG.warning("batch job %s: %s", job.job_id, exc, exc_info=True)
        self._reap(now)
        self._scale(environments, now)

    @staticmethod
    def _ours(job: Any) -> bool:
        return not job._child_jobs and fnmatch.fnmatchcase(job.job_queue.name, QUEUE_PATTERN)

    def _advance(
        self,
        backend: Any,
        job: Any,
        queues: dict[str, Any],
        environments: dict[str, Any],
        now: float,
    ) -> None:
        placed = self.placed.get(job.job_id)
        queue = queues.get(job.job_queue.arn)
        if placed is not None and placed.run is not None:
            if job.stop and not placed.reason:  # TerminateJob
                self._stop(placed, job.job_stopped_reason or "Terminated")
            elif queue is None and not placed.reason:
                self._stop(placed, QUEUE_DELETED)
            return  # running: the reaper finishes it
        if job.stop:  # CancelJob / TerminateJob before it started
            self._finish(job, None, job.job_stopped_reason or "Cancelled")
            return
        if queue is None:
            self._finish(job, None, QUEUE_DELETED)
            return
        status = job.status
        if status == SUBMITTED:
            job.status = PENDING
        elif status == PENDING:
            waiting = self._dependencies(backend, job)
            if waiting is None:
                self._finish(job, None, DEPENDENCY_FAILED)
            elif not waiting:
                job.status = RUNNABLE
        elif status == RUNNABLE:
            self._schedule(job, queue, environments, now)
        elif status == STARTING and placed is not None:
            self._start(placed, now)

    @staticmethod
    def _dependencies(backend: Any, job: Any) -> list[str] | None:
        """Job ids still to succeed; None when one of them failed."""
        waiting = []
        for dependency in job.depends_on or []:
            other = backend._jobs.get(dependency.get("jobId", ""))
            if other is None:
                continue
            if other.status == FAILED:
                return None
            if other.status != SUCCEEDED:
                waiting.append(other.job_id)
        return waiting

    # ----------------------------------------------------------------- placing
    def _schedule(self, job: Any, queue: Any, environments: dict[str, Any], now: float) -> None:
        placed = self.placed.get(job.job_id)
        if placed is not None:
            environment = environments.get(placed.environment_arn)
            if queue.state != "ENABLED" or environment is None or environment.state != "ENABLED":
                self.placed.pop(job.job_id)  # back to waiting for a place
                return
            capacity = self.capacity.setdefault(placed.environment_arn, Capacity())
            if self._in_use(placed.environment_arn) + placed.vcpus <= capacity.usable(now):
                job.status = STARTING
            return
        if queue.state != "ENABLED":
            return
        vcpus = job_vcpus(job)
        for item in sorted(queue.env_order_json, key=lambda e: int(e.get("order", 0))):
            environment = self._environment(environments, item.get("computeEnvironment", ""))
            if environment is None or environment.state != "ENABLED":
                continue
            resources = environment.compute_resources or {}
            maximum = int(resources.get("maxvCpus") or 0)
            capacity = self.capacity.setdefault(environment.arn, Capacity())
            held = self._held(environment.arn)
            if held + vcpus > maximum:
                continue  # full (or the job never fits): the next environment
            if held + vcpus > capacity.launched:  # launch what is missing: one instance boot
                capacity.launch(
                    held + vcpus - capacity.launched, now + self.sandbox.timings.batch_boot
                )
            self.placed[job.job_id] = LocalJob(job, environment.arn, environment.name, vcpus)
            return

    @staticmethod
    def _environment(environments: dict[str, Any], reference: str) -> Any:
        found = environments.get(reference)
        if found is None:
            found = next((e for e in environments.values() if e.name == reference), None)
        return found

    def _held(self, environment_arn: str) -> int:
        """vCPUs of the jobs placed on the environment, waiting or running."""
        placed = list(self.placed.values())
        return sum(p.vcpus for p in placed if p.environment_arn == environment_arn)

    def _in_use(self, environment_arn: str) -> int:
        """vCPUs of the environment's jobs that have started."""
        return sum(
            p.vcpus
            for p in list(self.placed.values())
            if p.environment_arn == environment_arn and p.job.status in (STARTING, RUNNING)
        )

    # ----------------------------------------------------------------- running
    def _start(self, placed: LocalJob, now: float) -> None:
        job = placed.job
        properties = job.job_definition.container_properties
        if properties is None:
            self._finish(job, None, f"{CANNOT_START}: the sandbox runs container jobs only")
            self.placed.pop(job.job_id, None)
            return
        folder = self.sandbox.workdir / "jobs" / job.job_id
        root = folder / "root"
        root.mkdir(parents=True, exist_ok=True)
        declared = job_environment(job, placed.environment_name)
        env = runner_environment(self.sandbox, declared, str(job.arn), root)
        if self.closed:
            return
        placed.run = launch(self.sandbox, env, folder)
        self.ran_on[job.job_id] = placed.environment_name
        if placed.run.process is None:
            LOG.error("job %s could not start: %s", job.job_id, placed.run.error)
            placed.reason = f"{CANNOT_START}: {placed.run.error}"[:255]
            return  # reaped as exit code 127 with this reason
        if self.closed:
            placed.run.kill()
            return
        job.log_stream_name = self._log_target(job)[1]
        job.job_started_at = datetime.now()
        job._start_attempt()
        attempt = job._get_attempt_duration()
        placed.deadline = now + float(attempt) if attempt else None
        job.status = RUNNING
        self.sandbox.activity.add("jobs_started")
        LOG.info("job %s (%s) running as pid %s", job.job_id, job.job_name, placed.run.process.pid)

    def _stop(self, placed: LocalJob, reason: str) -> None:
        placed.reason = reason
        if placed.run is not None:
            placed.run.terminate(self.sandbox.timings.stop_grace)

    def _reap(self, now: float) -> None:
        for placed in list(self.placed.values()):
            run = placed.run
            if run is None:
                continue
            code = run.poll()
            if code is None:
                if placed.deadline is not None and now > placed.deadline and not placed.reason:
                    self._stop(placed, TIMED_OUT)
                continue
            run.close()
            # The output first: on AWS it is in CloudWatch before the job shows as stopped.
            group, stream = self._log_target(placed.job)
            self._ship_logs(group, stream, run)
            self.placed.pop(placed.job_id, None)
            self.finished[placed.job_id] = code
            self._finish(placed.job, code, placed.reason)
            self.sandbox.activity.add("jobs_stopped")
            LOG.info("job %s exited with %s", placed.job_id, code)
            shutil.rmtree(run.folder / "root", ignore_errors=True)

    def _finish(self, job: Any, code: int | None, reason: str) -> None:
        """SUCCEEDED or FAILED in moto, with the reason, exit code and stop time."""
        job.job_stopped_reason = reason or EXITED
        if code is not None:
            job.exit_code = code
            job.container_reason = reason or None
        if job.latest_attempt:
            container = job.latest_attempt["container"]
            if code is not None:
                container["exitCode"] = code
            if reason:
                container["reason"] = reason
            job.latest_attempt["statusReason"] = job.job_stopped_reason
        job._mark_stopped(success=code == 0 and not reason)
        self.placed.pop(job.job_id, None)

    def _log_target(self, job: Any) -> tuple[str, str]:
        config = (job.job_definition.container_properties or {}).get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") == "awslogs" and options.get("awslogs-group"):
            prefix = options.get("awslogs-stream-prefix", "")
            group = str(options["awslogs-group"])
        else:
            prefix, group = job.job_definition.name, DEFAULT_LOG_GROUP
        stream = "/".join(p for p in (prefix, BATCH_CONTAINER, job.job_id) if p)
        return group, stream

    def _ship_logs(self, group: str, stream: str, run: RunnerProcess) -> None:
        if group == DEFAULT_LOG_GROUP:  # Batch creates its default group; ours exist already
            try:
                self.sandbox.context.client("logs").create_log_group(logGroupName=group)
            except Exception as exc:  # ResourceAlreadyExistsException
                LOG.debug("log group %s: %s", group, exc)
        ship_logs(self.sandbox, group, stream, run.log_path)

    # ----------------------------------------------------------------- scaling
    def _scale(self, environments: dict[str, Any], now: float) -> None:
        idle_after = self.sandbox.timings.instance_idle
        for arn, environment in environments.items():
            capacity = self.capacity.get(arn)
            if capacity is None:
                continue
            surplus = capacity.launched - self._held(arn)
            if surplus <= 0:
                capacity.surplus_since = None
            elif capacity.surplus_since is None:
                capacity.surplus_since = now
            elif now - capacity.surplus_since >= idle_after:
                capacity.release(surplus)
                capacity.surplus_since = None
            self._publish(environment, capacity.launched)

    @staticmethod
    def _publish(environment: Any, desired: int) -> None:
        """`computeResources.desiredvCpus` as DescribeComputeEnvironments shows it."""
        resources = environment.compute_resources
        if resources is None or resources.get("desiredvCpus") == desired:
            return
        # A new dict: a request thread may be serialising the old one right now.
        environment.compute_resources = {**resources, "desiredvCpus": desired}

    # ----------------------------------------------------------------- lifecycle
    def stop_all(self) -> None:
        for placed in list(self.placed.values()):
            if placed.run is not None:
                placed.run.kill()
        self.placed.clear()

    def close(self) -> None:
        """Kill every job process and start no new one."""
        self.closed = True
        self.stop_all()

    def reset(self) -> None:
        self.stop_all()
        self.capacity.clear()
        self.finished.clear()
        self.ran_on.clear()


__all__ = ["BatchRunner", "Capacity", "LocalJob", "job_environment", "job_vcpus"]
