"""The Batch part of a monitor poll: a pipeline's job queue, compute environments and drain jobs.

Whether a pipeline runs on Batch is read from the account, not from the workflow file: its job
queue `names.job_queue(p)` exists (one `batch:DescribeJobQueues`). The Monitor asks once, then
only again when the answer may have changed (the ECS cluster is missing, or the job queue is).

Calls per Batch poll (steady state), whatever the number of steps, all at once:
  - ONE `batch:DescribeJobQueues` (the queue's state and its compute environments, in order);
  - ONE `batch:DescribeComputeEnvironments` for those environments (state, status and reason,
    desired/max vCPUs, allowed instance types), named as the last poll's queue named them (a
    second round only when the queue's environments changed, or on the first poll);
  - ONE `batch:ListJobs` on the queue with the JOB_NAME filter `yunpipe-<p>-*`: with a filter,
    Batch ignores the status and returns jobs of every state, newest first, 100 a page. When
    that one page holds every job Batch still keeps, the counts are complete. Otherwise (a
    burst of more than 100 jobs) ONE `ListJobs` per active state (SUBMITTED, PENDING, RUNNABLE,
    STARTING, RUNNING; more pages only past 100 jobs of one state, at most MAX_PAGES) makes the
    active counts exact, while SUCCEEDED and FAILED count only within the newest page
    (`BatchInfo.complete` False: "recent" finished jobs);
  - `batch:DescribeJobDefinitions` only for job definition revisions not seen before (cached:
    a revision never changes).
Jobs are told apart by their name: every drain job of step s is `names.drain_job(p, s)`.

Running vCPUs are the sum of the RUNNING jobs' vCPU requirements (their job definitions), not
the instances' vCPUs: reading the environment's ECS cluster would cost two calls more per poll.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.batch_capacity import Environment, JobNeeds, runnable_reason

ACTIVE_JOB_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
FINISHED_JOB_STATES = ("SUCCEEDED", "FAILED")
JOB_STATES = ACTIVE_JOB_STATES + FINISHED_JOB_STATES
PAGE = 100  # ListJobs' largest page
MAX_PAGES = 10  # per active state: 1000 jobs, the dispatcher's ceiling of jobs per step
RECENT_FAILURES = 3  # distinct reasons of failed jobs shown per step
RUNNING_VCPUS_SOURCE = "sum of the RUNNING jobs' vCPU requirements"


@dataclass(frozen=True)
class ComputeEnvInfo:
    name: str
    state: str  # ENABLED | DISABLED
    status: str  # VALID | INVALID | CREATING | UPDATING | DELETING | DELETED
    status_reason: str = ""
    kind: str = ""  # SPOT | EC2 (FARGATE would be possible; yunpipe makes none)
    desired_vcpus: int = 0
    min_vcpus: int = 0
    max_vcpus: int = 0
    instance_types: tuple[str, ...] = ()
    order: int = 0  # its place in the job queue (1 first)

    def environment(self) -> Environment:
        return Environment(
            name=self.name,
            state=self.state,
            status=self.status,
            status_reason=self.status_reason,
            desired_vcpus=self.desired_vcpus,
            max_vcpus=self.max_vcpus,
            instance_types=self.instance_types,
        )


@dataclass(frozen=True)
class StepJobs:
    """One step's drain jobs: how many in each state, and why RUNNABLE ones wait."""

    step: str
    job_name: str
    states: Mapping[str, int]
    running_vcpus: float = 0.0
    needs: JobNeeds | None = None  # one job's requirements (its job definition)
    waiting_reason: str | None = None  # set when jobs sit RUNNABLE
    failures: tuple[str, ...] = ()  # recent failed jobs' reasons, newest first

    def count(self, state: str) -> int:
        return self.states.get(state, 0)

    @property
    def active(self) -> int:
        return sum(self.count(s) for s in ACTIVE_JOB_STATES)


@dataclass(frozen=True)
class BatchInfo:
    job_queue: str
    queue_state: str = ""
    queue_status: str = ""
    queue_reason: str = ""
    environments: tuple[ComputeEnvInfo, ...] = ()
    steps: tuple[StepJobs, ...] = ()
    complete: bool = True  # False: finished jobs counted only among the newest PAGE jobs
    running_vcpus_source: str = RUNNING_VCPUS_SOURCE

    @property
    def desired_vcpus(self) -> int:
        return sum(e.desired_vcpus for e in self.environments)

    @property
    def max_vcpus(self) -> int:
        return sum(e.max_vcpus for e in self.environments)

    @property
    def running_vcpus(self) -> float:
        return sum(s.running_vcpus for s in self.steps)

    def step(self, step: str) -> StepJobs | None:
        return next((s for s in self.steps if s.step == step), None)


@dataclass
class JobListing:
    """What ListJobs said: the newest jobs of every state, and exact active counts."""

    recent: list[dict[str, Any]]
    active: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # when not complete
    complete: bool = True


Submit = Callable[..., "Future[Any]"]


class BatchReader:
    """Reads one pipeline's Batch resources; caches job definitions across polls."""

    def __init__(self, pipeline: str, steps: Sequence[str]) -> None:
        self.pipeline = pipeline
        self.steps = list(steps)
        self.job_queue = names.job_queue(pipeline)
        self._step_of = {names.drain_job(pipeline, s): s for s in self.steps}
        self._needs: dict[str, JobNeeds] = {}  # job definition ARN → one job's requirements
        self._step_needs: dict[str, JobNeeds] = {}  # step → its jobs' needs, last poll that knew
        # The job queue's compute environments as last read: a steady poll describes them
        # alongside the job queue instead of after it (again only when the queue's order changed).
        self.order: dict[str, int] = {}

    def describe_queue(self, batch: Any) -> dict[str, Any] | None:
        """The job queue's description, or None when the pipeline has none (not on Batch)."""
        found = batch.describe_job_queues(jobQueues=[self.job_queue]).get("jobQueues", [])
        queue = next((q for q in found if q.get("jobQueueName") == self.job_queue), None)
        if queue is None or queue.get("status") == "DELETED":
            return None
        return dict(queue)

    def describe_environments(self, batch: Any, order: Mapping[str, int]) -> list[ComputeEnvInfo]:
        """The job queue's compute environments (name or ARN → its place in the queue)."""
        if not order:
            return []
        found = batch.describe_compute_environments(computeEnvironments=list(order)).get(
            "computeEnvironments", []
        )
        out = []
        for ce in found:
            resources = ce.get("computeResources", {})
            place = order.get(
                ce.get("computeEnvironmentArn", ""), order.get(ce["computeEnvironmentName"], 0)
            )
            out.append(
                ComputeEnvInfo(
                    name=ce["computeEnvironmentName"],
                    state=ce.get("state", ""),
                    status=ce.get("status", ""),
                    status_reason=ce.get("statusReason", ""),
                    kind=resources.get("type", ce.get("type", "")),
                    desired_vcpus=int(resources.get("desiredvCpus", 0) or 0),
                    min_vcpus=int(resources.get("minvCpus", 0) or 0),
                    max_vcpus=int(resources.get("maxvCpus", 0) or 0),
                    instance_types=tuple(resources.get("instanceTypes", [])),
                    order=place,
                )
            )
        out.sort(key=lambda e: (e.order, e.name))
        return out

    def list_jobs(self, batch: Any, submit: Submit) -> JobListing:
        """One filtered page of every state; per active state only when that page is not all."""
        first = batch.list_jobs(
            jobQueue=self.job_queue,
            filters=[{"name": "JOB_NAME", "values": [f"{names.base(self.pipeline)}-*"]}],
            maxResults=PAGE,
        )
        recent = list(first.get("jobSummaryList", []))
        if not first.get("nextToken"):
            return JobListing(recent=recent)
        futures = {s: submit(self._all_pages, batch, s) for s in ACTIVE_JOB_STATES}
        return JobListing(
            recent=recent, active={s: f.result() for s, f in futures.items()}, complete=False
        )

    def _all_pages(self, batch: Any, state: str) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            args: dict[str, Any] = {
                "jobQueue": self.job_queue,
                "jobStatus": state,
                "maxResults": PAGE,
            }
            if token:
                args["nextToken"] = token
            page = batch.list_jobs(**args)
            jobs.extend(page.get("jobSummaryList", []))
            token = page.get("nextToken")
            if not token:
                break
        return jobs

    def learn_definitions(self, batch: Any, jobs: Sequence[Mapping[str, Any]]) -> None:
        """Describe job definition revisions not seen before (one call for up to 100)."""
        unknown = sorted(
            {
                j["jobDefinition"]
                for j in jobs
                if j.get("jobDefinition") and j["jobDefinition"] not in self._needs
            }
        )
        if not unknown:
            return
        found = batch.describe_job_definitions(jobDefinitions=unknown[:100]).get(
            "jobDefinitions", []
        )
        for d in found:
            self._needs[d["jobDefinitionArn"]] = needs_of(d)

    def summarize(
        self,
        queue: Mapping[str, Any],
        environments: Sequence[ComputeEnvInfo],
        listing: JobListing | None,
    ) -> BatchInfo:
        """The BatchInfo of what was read (no calls; remembers each step's job needs)."""
        per_step: dict[str, dict[str, int]] = {s: dict.fromkeys(JOB_STATES, 0) for s in self.steps}
        running: dict[str, float] = dict.fromkeys(self.steps, 0.0)
        failures: dict[str, list[str]] = {s: [] for s in self.steps}
        jobs: list[dict[str, Any]] = []
        complete = True
        if listing is not None:
            complete = listing.complete
            recent = sorted(listing.recent, key=lambda j: -int(j.get("createdAt", 0) or 0))
            if listing.complete:
                jobs = recent
            else:
                jobs = [j for j in recent if j.get("status") in FINISHED_JOB_STATES]
                for state_jobs in listing.active.values():
                    jobs.extend(state_jobs)
        seen_needs: dict[str, JobNeeds] = {}
        waiting_needs: dict[str, JobNeeds] = {}
        for job in jobs:
            step = self._step_of.get(job.get("jobName", ""))
            state = job.get("status", "")
            if step is None or state not in per_step[step]:
                continue
            per_step[step][state] += 1
            needs = self._needs.get(job.get("jobDefinition", ""))
            if needs is not None:
                # The newest job's (the listing is newest first), a RUNNABLE one's above all:
                # the reason is about the jobs that wait.
                if state == "RUNNABLE" and step not in waiting_needs:
                    waiting_needs[step] = needs
                seen_needs.setdefault(step, needs)
            if state == "RUNNING":
                running[step] += (needs or self._step_needs.get(step) or JobNeeds(0, 0)).vcpus
            if state == "FAILED" and len(failures[step]) < RECENT_FAILURES:
                reason = failure_reason(job)
                if reason not in failures[step]:
                    failures[step].append(reason)
        envs = [e.environment() for e in environments]
        steps = []
        for s in self.steps:
            needs = waiting_needs.get(s) or seen_needs.get(s) or self._step_needs.get(s)
            if needs is not None:
                self._step_needs[s] = needs  # for polls whose jobs name no known definition
            waiting = None
            if per_step[s]["RUNNABLE"]:
                waiting = runnable_reason(
                    needs,
                    envs,
                    queue_state=queue.get("state", "ENABLED"),
                    queue_status=queue.get("status", "VALID"),
                    queue_reason=queue.get("statusReason", ""),
                )
            steps.append(
                StepJobs(
                    step=s,
                    job_name=names.drain_job(self.pipeline, s),
                    states=per_step[s],
                    running_vcpus=running[s],
                    needs=needs,
                    waiting_reason=waiting,
                    failures=tuple(failures[s]),
                )
            )
        return BatchInfo(
            job_queue=self.job_queue,
            queue_state=queue.get("state", ""),
            queue_status=queue.get("status", ""),
            queue_reason=queue.get("statusReason", ""),
            environments=tuple(environments),
            steps=tuple(steps),
            complete=complete,
        )

    def jobs_needing_definitions(self, listing: JobListing) -> list[Mapping[str, Any]]:
        """The jobs whose requirements matter now: RUNNABLE (why they wait), RUNNING (vCPUs)."""
        pool = (
            listing.recent
            if listing.complete
            else [j for js in listing.active.values() for j in js]
        )
        return [
            j
            for j in pool
            if j.get("status") in ("RUNNABLE", "RUNNING") and j.get("jobName") in self._step_of
        ]


def environment_order(queue: Mapping[str, Any]) -> dict[str, int]:
    """A job queue's compute environments (name or ARN, as the queue names them) → order."""
    return {
        o["computeEnvironment"]: int(o.get("order", 0))
        for o in queue.get("computeEnvironmentOrder", [])
    }


def needs_of(definition: Mapping[str, Any]) -> JobNeeds:
    """One job's vCPU, memory (MiB) and GPUs from a job definition's container properties."""
    container = definition.get("containerProperties", {})
    found = {r["type"]: r["value"] for r in container.get("resourceRequirements", [])}
    vcpus = float(found.get("VCPU", container.get("vcpus", 0)) or 0)
    memory = int(float(found.get("MEMORY", container.get("memory", 0)) or 0))
    return JobNeeds(vcpus=vcpus, memory_mib=memory, gpus=int(found.get("GPU", 0) or 0))


def failure_reason(job: Mapping[str, Any]) -> str:
    """`Essential container in task exited (exit 2)`: the job's reason and its exit code."""
    container = job.get("container", {}) or {}
    reason = job.get("statusReason") or container.get("reason") or "failed"
    code = container.get("exitCode")
    return f"{reason} (exit {code})" if code is not None else str(reason)
