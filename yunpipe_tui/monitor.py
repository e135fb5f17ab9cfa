"""The monitor core: one poll of a pipeline's queues, instances, tasks and alarms → a Snapshot.

No Textual here: the Monitor screen, `yunpipe monitor --plain` and `--once --json` all call
`Monitor.poll()` and show the immutable `Snapshot` it returns through the same rows
(monitor_rows.py).

API-call budget per poll (steady state): at most 2 × steps + 5 —
  - `sqs:GetQueueAttributes` for each step's work queue and dead-letter queue (2 × steps);
  - ONE `ec2:DescribeInstances` filtered by the `yunpipe:pipeline` tag;
  - ONE `ecs:ListTasks` on the pipeline's cluster (desired status RUNNING);
  - ONE `ecs:DescribeTasks` for those tasks plus the tasks seen running in earlier polls that have
    since left the list (that is how their stop reasons are shown; skipped when there are none);
  - ONE `cloudwatch:DescribeAlarms` with the pipeline's alarm-name prefix;
  - ONE `dynamodb:Query` of the file ledger's `#counts` partition (files per step and state,
    whatever the number of files; a pipeline deployed before the ledger has none: no call fails).
The Files view's list of files (`Monitor.recent_files`) is read on its own, slower cadence through
the ledger's by-state index, never as a full scan and never as part of a poll.
Lookups whose answer never changes are cached on the `Monitor` across polls and cost calls only
the first time: `sqs:GetQueueUrl` when the journal did not record a URL,
`ecs:DescribeContainerInstances` for container instances not seen before (to map a task to the
EC2 instance it runs on), and one `ecs:ListTasks` of recently STOPPED tasks on the first poll.

A pipeline on AWS Batch (the account has its job queue, `names.job_queue(p)`) has no cluster,
instances, tasks or alarms of ours: its poll reads the job queue, the compute environments and
the drain jobs instead (monitor_batch.py lists those calls: 2 × steps + 4 in steady state, one
filtered ListJobs whatever the number of steps). Which backend is read from the account, never
from the workflow: one `batch:DescribeJobQueues` on the first poll (and on every Batch poll,
where it is the first call anyway). A pipeline whose deploy journal says ECS skips it, so its
polls cost exactly what they did; it asks only when its ECS cluster turns out to be missing.

The oldest message's age is not part of SQS's queue attributes; CloudWatch's
`ApproximateAgeOfOldestMessage` metric would cost one more call per poll (over budget, and moto
does not emulate it), so `QueueStats.oldest_age_s` stays None and the views show "—".

Calls within a poll run concurrently on a small thread pool. A failed sub-call marks only its own
part (`Snapshot.errors`, and `QueueStats.error` for a queue); the rest of the snapshot still shows.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yunpipe_tui import monitor_rows as rows
from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import is_missing_queue
from yunpipe_tui.errors import AwsError, InputError, YunpipeError
from yunpipe_tui.monitor_batch import (
    BatchInfo,
    BatchReader,
    ComputeEnvInfo,
    JobListing,
    environment_order,
)
from yunpipe_tui.monitor_rows import format_duration as format_duration  # callers' old home
from yunpipe_tui.workflow import BATCH, ECS

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.file_logs import LogLine, LogTail
    from yunpipe_tui.ledger import FileRecord

ACTIVE_TASK_STATES = frozenset(
    {"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING"}
)
INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]
RECENT_TASKS = 20  # tasks shown per snapshot
REMEMBERED_TASKS = 60  # tasks seen running, re-described after they stop (≤ 100 per call)
HISTORY_SIZE = 60  # points per sparkline
FILES_PER_STATE = 200  # files the Files view lists per state (failed first)


# --------------------------------------------------------------------------- what is watched


@dataclass(frozen=True)
class StepTarget:
    """One step's resources; URLs are optional (looked up once by name when missing)."""

    step: str
    queue_name: str
    dlq_name: str
    task_family: str
    algorithm: str = ""
    queue_url: str | None = None
    dlq_url: str | None = None


@dataclass(frozen=True)
class PipelineTarget:
    """Which pipeline to watch and where its resources are."""

    pipeline: str
    steps: tuple[StepTarget, ...]
    cluster: str
    region: str | None = None
    input_bucket: str | None = None
    output_bucket: str | None = None
    # What the deploy journal says ("ecs" | "batch"); None: no journal's word. It only orders
    # the first poll's calls: the account decides (see Monitor._discover).
    backend: str | None = None

    @classmethod
    def from_names(
        cls,
        pipeline: str,
        steps: int | Sequence[str],
        *,
        region: str | None = None,
        input_bucket: str | None = None,
        output_bucket: str | None = None,
        urls: Mapping[str, str] | None = None,
        algorithms: Mapping[str, str] | None = None,
    ) -> PipelineTarget:
        """Derive every name from resource_names' conventions (no journal needed)."""
        ids = [names.step_id(i) for i in range(steps)] if isinstance(steps, int) else list(steps)
        urls = urls or {}
        algorithms = algorithms or {}
        return cls(
            pipeline=pipeline,
            steps=tuple(
                StepTarget(
                    step=s,
                    queue_name=names.queue(pipeline, s),
                    dlq_name=names.dead_letter_queue(pipeline, s),
                    task_family=names.task_family(pipeline, s),
                    algorithm=algorithms.get(s, ""),
                    queue_url=urls.get(names.queue(pipeline, s)),
                    dlq_url=urls.get(names.dead_letter_queue(pipeline, s)),
                )
                for s in ids
            ),
            cluster=names.cluster(pipeline),
            region=region,
            input_bucket=input_bucket,
            output_bucket=output_bucket,
        )


# --------------------------------------------------------------------------- the snapshot


@dataclass(frozen=True)
class QueueStats:
    step: str
    name: str
    dlq_name: str
    visible: int | None = None
    in_flight: int | None = None
    delayed: int | None = None
    dead_letter: int | None = None
    oldest_age_s: float | None = None  # not obtainable within the budget; see module doc
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return rows.queue_record(self)


@dataclass(frozen=True)
class InstanceInfo:
    id: str
    type: str
    state: str
    step: str = ""
    launch_time: datetime | None = None
    running_tasks: int = 0
    alarm_state: str | None = None  # OK / ALARM / INSUFFICIENT_DATA, None = no idle alarm
    alarm_name: str | None = None

    def uptime_s(self, now: datetime) -> float | None:
        if self.launch_time is None:
            return None
        return max(0.0, (now - self.launch_time).total_seconds())

    def to_json(self, now: datetime) -> dict[str, Any]:
        return rows.instance_record(self, now)


@dataclass(frozen=True)
class TaskInfo:
    arn: str
    step: str
    last_status: str
    desired_status: str
    instance_id: str | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    exit_code: int | None = None

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def active(self) -> bool:
        return self.last_status in ACTIVE_TASK_STATES

    def to_json(self) -> dict[str, Any]:
        return rows.task_record(self)


@dataclass(frozen=True)
class PartError:
    """A part of the snapshot that could not be read this time (`queue:s1`, `instances`, ...)."""

    part: str
    message: str

    def to_json(self) -> dict[str, str]:
        return rows.error_record(self)


@dataclass(frozen=True)
class Snapshot:
    pipeline: str
    taken_at: datetime
    queues: tuple[QueueStats, ...] = ()
    instances: tuple[InstanceInfo, ...] = ()
    tasks: tuple[TaskInfo, ...] = ()
    errors: tuple[PartError, ...] = ()
    api_calls: int = 0
    elapsed_s: float = 0.0
    region: str | None = None
    input_bucket: str | None = None
    output_bucket: str | None = None
    # step → {state: files}, from the ledger's counters; None when the pipeline has no ledger.
    files: Mapping[str, Mapping[str, int]] | None = None
    calls_failed: bool = False  # every AWS call of the poll failed (nothing was read)
    backend: str = ECS  # BATCH: jobs and compute environments instead of instances and tasks
    batch: BatchInfo | None = None  # the Batch backend's part (None on ECS)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def poll_failed(self) -> bool:
        """Some part could not be read (`monitor --once --json` exits non-zero)."""
        return bool(self.errors) or self.calls_failed

    def failed(self, part: str) -> bool:
        return any(e.part == part for e in self.errors)

    def queue(self, step: str) -> QueueStats | None:
        return next((q for q in self.queues if q.step == step), None)

    def to_json(self) -> dict[str, Any]:
        return rows.snapshot_record(self)


# --------------------------------------------------------------------------- history (sparklines)

History = Mapping[str, tuple[int, ...]]


def append_history(history: History, snapshot: Snapshot, size: int = HISTORY_SIZE) -> History:
    """A new history with this snapshot's visible depth appended per step (pure).

    A queue that could not be read this time repeats its last known depth (or 0), so the
    sparkline keeps its rhythm instead of jumping.
    """
    out: dict[str, tuple[int, ...]] = dict(history)
    for q in snapshot.queues:
        past = out.get(q.step, ())
        value = q.visible if q.visible is not None else (past[-1] if past else 0)
        out[q.step] = (*past, value)[-size:]
    return out


# --------------------------------------------------------------------------- the poller


def _aws_message(exc: BaseException) -> str:
    from yunpipe_tui.aws import error_message

    return error_message(exc)


class Monitor:
    """Polls one pipeline. Thread-safe for one poll at a time (the callers never overlap polls).

    Keeps small caches across polls (queue URLs, container instance → EC2 id, tasks seen
    running) so that steady-state polls stay within the call budget.
    """

    def __init__(
        self,
        aws: AwsContext,
        target: PipelineTarget,
        *,
        max_workers: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.target = target
        self.aws = aws.for_region(target.region) if target.region else aws
        self._clock = clock or (lambda: datetime.now(UTC))
        self._urls: dict[str, str] = {}
        for s in target.steps:
            if s.queue_url:
                self._urls[s.queue_name] = s.queue_url
            if s.dlq_url:
                self._urls[s.dlq_name] = s.dlq_url
        self._container_instances: dict[str, str] = {}  # container instance ARN → EC2 id
        self._seen_tasks: deque[str] = deque(maxlen=REMEMBERED_TASKS)
        self._seeded = False  # recently stopped tasks listed once, on the first poll
        self._family_step = {s.task_family: s.step for s in target.steps}
        self._has_ledger = True
        # ECS or BATCH as the account last said; None: ask (first poll without a journal's
        # word, or the ECS cluster was missing)
        self._backend: str | None = target.backend
        self._batch = BatchReader(target.pipeline, [s.step for s in target.steps])
        workers = max_workers or min(48, 2 * len(target.steps) + 4)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="yunpipe-monitor")
        self._lock = threading.Lock()

    # -- lifecycle
    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def pipeline(self) -> str:
        return self.target.pipeline

    # -- one poll
    def poll(self) -> Snapshot:
        """Read everything once. Never raises for AWS failures: they land in `errors`."""
        with self._lock:
            return self._poll()

    def _poll(self) -> Snapshot:
        started = time.perf_counter()
        calls_before = self.aws.counter.total
        errors: list[PartError] = []
        # Which backend: the account says (the journal's word only orders the first poll). Not
        # known yet: one DescribeJobQueues first. Known: an ECS poll asks Batch nothing (unless
        # its cluster turns out missing); a Batch poll reads its job queue alongside the rest and
        # falls back to ECS when the queue is gone.
        batch_queue = self._discover() if self._backend is None else None
        on_batch = self._backend == BATCH
        # Build the clients before fanning out, so the threads do not race to create them.
        sqs = self.aws.client("sqs")
        queue_futures: dict[str, tuple[Future[Any], Future[Any]]] = {}
        for s in self.target.steps:
            queue_futures[s.step] = (
                self._pool.submit(self._queue_attributes, sqs, s.queue_name),
                self._pool.submit(self._queue_attributes, sqs, s.dlq_name),
            )
        asked_ledger = self._has_ledger
        files_f = self._pool.submit(self._file_counts)
        if on_batch:
            batch_part = self._submit_batch(batch_queue)
        else:
            ecs_part = self._submit_ecs()

        queues = self._queue_stats(queue_futures, errors)
        instances: list[InstanceInfo] = []
        tasks: list[TaskInfo] = []
        batch: BatchInfo | None = None
        if on_batch:
            batch = self._collect_batch(*batch_part, errors)
        else:
            instances, tasks = self._collect_ecs(*ecs_part, errors)
        # Parts asked: two queues per step and three more (instances, tasks and alarms; or the
        # job queue, the compute environments and the jobs).
        parts = 2 * len(self.target.steps) + 3
        files: dict[str, dict[str, int]] | None = None
        try:
            files = files_f.result()
        except Exception as exc:
            errors.append(PartError("files", _aws_message(exc)))
        parts += 1 if asked_ledger else 0
        return Snapshot(
            pipeline=self.target.pipeline,
            taken_at=self._clock(),
            queues=tuple(queues),
            instances=tuple(instances),
            tasks=tuple(tasks),
            errors=tuple(errors),
            api_calls=self.aws.counter.total - calls_before,
            elapsed_s=time.perf_counter() - started,
            region=self.aws.region_name,
            input_bucket=self.target.input_bucket,
            output_bucket=self.target.output_bucket,
            files=files,
            calls_failed=len(errors) >= parts,
            backend=BATCH if on_batch else ECS,
            batch=batch,
        )

    def _discover(self) -> dict[str, Any] | None:
        """Ask the account for the pipeline's job queue: `_backend` becomes BATCH when there is
        one (its description is returned: the Batch poll's first call), else ECS."""
        from yunpipe_tui.aws import is_denied

        try:
            queue = self._batch.describe_queue(self.aws.client("batch"))
        except Exception as exc:
            if is_denied(exc):
                self._backend = ECS  # no Batch rights: what this caller watches runs on ECS
            return None  # else asked again next poll; this one reads ECS
        self._backend = BATCH if queue is not None else ECS
        return queue

    def _queue_stats(
        self, futures: Mapping[str, tuple[Future[Any], Future[Any]]], errors: list[PartError]
    ) -> list[QueueStats]:
        queues: list[QueueStats] = []
        for s in self.target.steps:
            main_f, dlq_f = futures[s.step]
            stats = QueueStats(step=s.step, name=s.queue_name, dlq_name=s.dlq_name)
            problems = []
            try:
                attrs = main_f.result()
                stats = _with(
                    stats,
                    visible=_int(attrs, "ApproximateNumberOfMessages"),
                    in_flight=_int(attrs, "ApproximateNumberOfMessagesNotVisible"),
                    delayed=_int(attrs, "ApproximateNumberOfMessagesDelayed"),
                )
            except Exception as exc:  # a failed sub-call marks only its part
                problems.append(_aws_message(exc))
                errors.append(PartError(f"queue:{s.step}", _aws_message(exc)))
            try:
                attrs = dlq_f.result()
                stats = _with(
                    stats,
                    dead_letter=(_int(attrs, "ApproximateNumberOfMessages") or 0)
                    + (_int(attrs, "ApproximateNumberOfMessagesNotVisible") or 0),
                )
            except Exception as exc:
                problems.append(_aws_message(exc))
                errors.append(PartError(f"dlq:{s.step}", _aws_message(exc)))
            if problems:
                stats = _with(stats, error="; ".join(problems))
            queues.append(stats)
        return queues

    # -- the ECS backend's part of a poll
    def _submit_ecs(self) -> tuple[Future[Any], Future[Any], Future[Any]]:
        clients = {}
        for service in ("ec2", "ecs", "cloudwatch"):
            clients[service] = self.aws.client(service)
        return (
            self._pool.submit(self._describe_instances, clients["ec2"]),
            self._pool.submit(self._tasks, clients["ecs"]),
            self._pool.submit(self._describe_alarms, clients["cloudwatch"]),
        )

    def _collect_ecs(
        self,
        instances_f: Future[Any],
        tasks_f: Future[Any],
        alarms_f: Future[Any],
        errors: list[PartError],
    ) -> tuple[list[InstanceInfo], list[TaskInfo]]:
        tasks: list[TaskInfo] = []
        try:
            tasks = tasks_f.result()
        except Exception as exc:
            errors.append(PartError("tasks", _aws_message(exc)))
        alarms: dict[str, tuple[str, str]] = {}
        try:
            alarms = alarms_f.result()
        except Exception as exc:
            errors.append(PartError("alarms", _aws_message(exc)))
        instances: list[InstanceInfo] = []
        try:
            raw_instances = instances_f.result()
        except Exception as exc:
            errors.append(PartError("instances", _aws_message(exc)))
        else:
            running: dict[str, int] = {}
            for t in tasks:
                if t.instance_id and t.active:
                    running[t.instance_id] = running.get(t.instance_id, 0) + 1
            for inst in raw_instances:
                alarm = alarms.get(inst.id)
                instances.append(
                    _with(
                        inst,
                        running_tasks=running.get(inst.id, 0),
                        alarm_name=alarm[0] if alarm else None,
                        alarm_state=alarm[1] if alarm else None,
                    )
                )
            far_past = datetime.min.replace(tzinfo=UTC)
            instances.sort(key=lambda i: (i.step, i.launch_time or far_past))
        return instances, tasks

    # -- the Batch backend's part of a poll (monitor_batch.py says what it costs)
    def _submit_batch(
        self, queue: dict[str, Any] | None
    ) -> tuple[Future[Any], Future[Any] | None, dict[str, int], Future[Any]]:
        """The job queue (unless just read), its environments as last named and the jobs, all
        at once."""
        batch = self.aws.client("batch")
        if queue is None:
            queue_f = self._pool.submit(self._batch.describe_queue, batch)
            order = self._batch.order
        else:
            queue_f = Future()
            queue_f.set_result(queue)
            order = environment_order(queue)
        environments_f = None
        if order:
            environments_f = self._pool.submit(self._batch.describe_environments, batch, order)
        jobs_f = self._pool.submit(self._batch.list_jobs, batch, self._pool.submit)
        return queue_f, environments_f, order, jobs_f

    def _collect_batch(
        self,
        queue_f: Future[Any],
        environments_f: Future[Any] | None,
        order: dict[str, int],
        jobs_f: Future[Any],
        errors: list[PartError],
    ) -> BatchInfo:
        batch = self.aws.client("batch")
        queue: dict[str, Any] | None = {}
        try:
            queue = queue_f.result()
        except Exception as exc:
            errors.append(PartError("batch:queue", _aws_message(exc)))
        if queue is None:  # torn down, or moved back to ECS: ECS is read from the next poll
            self._backend = ECS
            errors.append(PartError("batch:queue", f"job queue {self._batch.job_queue} is gone"))
            return BatchInfo(job_queue=self._batch.job_queue)
        wanted = environment_order(queue) if queue else order
        environments: list[ComputeEnvInfo] = []
        try:
            if environments_f is not None and wanted == order:
                environments = environments_f.result()
            else:  # the first poll, or the queue's environments changed: a second round
                environments = self._batch.describe_environments(batch, wanted)
            self._batch.order = wanted
        except Exception as exc:
            errors.append(PartError("batch:environments", _aws_message(exc)))
        listing: JobListing | None = None
        try:
            listing = jobs_f.result()
        except Exception as exc:
            errors.append(PartError("batch:jobs", _aws_message(exc)))
        if listing is not None:
            try:  # only for job definition revisions not seen before
                self._batch.learn_definitions(batch, self._batch.jobs_needing_definitions(listing))
            except Exception as exc:
                errors.append(PartError("batch:definitions", _aws_message(exc)))
        return self._batch.summarize(queue, environments, listing)

    # -- sub-calls (each runs on the pool)
    def _file_counts(self) -> dict[str, dict[str, int]] | None:
        """Files per step and state: ONE Query of the ledger's counters (None: no ledger)."""
        from yunpipe_tui import ledger

        if not self._has_ledger:
            return None
        try:
            found = ledger.counts(self.aws, self.target.pipeline)
        except ledger.NoLedger:
            self._has_ledger = False  # deployed before the ledger: not asked again
            return None
        return {
            s.step: found.get(s.step, dict.fromkeys(ledger.STATES, 0)) for s in self.target.steps
        }

    def _queue_url(self, sqs: Any, name: str) -> str:
        url = self._urls.get(name)
        if url is None:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self._urls[name] = url
        return url

    def _queue_attributes(self, sqs: Any, name: str) -> dict[str, str]:
        url = self._queue_url(sqs, name)
        try:
            response = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )
        except Exception as exc:
            if is_missing_queue(exc):
                self._urls.pop(name, None)  # look it up again next time (it may be recreated)
            raise
        return dict(response.get("Attributes", {}))

    def _describe_instances(self, ec2: Any) -> list[InstanceInfo]:
        response = ec2.describe_instances(
            Filters=[
                {"Name": f"tag:{names.TAG_PIPELINE}", "Values": [self.target.pipeline]},
                {"Name": "instance-state-name", "Values": INSTANCE_STATES},
            ]
        )
        out = []
        for reservation in response.get("Reservations", []):
            for inst in reservation.get("Instances", []):
                tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
                out.append(
                    InstanceInfo(
                        id=inst["InstanceId"],
                        type=inst.get("InstanceType", ""),
                        state=inst.get("State", {}).get("Name", ""),
                        step=tags.get(names.TAG_STEP, ""),
                        launch_time=inst.get("LaunchTime"),
                    )
                )
        return out

    def _describe_alarms(self, cw: Any) -> dict[str, tuple[str, str]]:
        """Instance id → (alarm name, state) for this pipeline's idle alarms."""
        response = cw.describe_alarms(
            AlarmNamePrefix=names.alarm_prefix(self.target.pipeline), MaxRecords=100
        )
        pipeline = self.target.pipeline
        prefixes = tuple(f"{names.base(pipeline, s.step)}-idle-" for s in self.target.steps)
        out: dict[str, tuple[str, str]] = {}
        for alarm in response.get("MetricAlarms", []):
            name = alarm.get("AlarmName", "")
            if not name.startswith(prefixes):
                continue  # another pipeline whose name extends ours (`p` vs `p-2`)
            dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
            instance_id = dims.get("InstanceId") or name.rsplit("-idle-", 1)[-1]
            out[instance_id] = (name, alarm.get("StateValue", ""))
        return out

    def _tasks(self, ecs: Any) -> list[TaskInfo]:
        try:
            arns = ecs.list_tasks(cluster=self.target.cluster, maxResults=100).get("taskArns", [])
        except Exception as exc:
            from yunpipe_tui.aws import error_code

            if error_code(exc) == "ClusterNotFoundException":
                self._backend = None  # no cluster: next poll asks whether it runs on Batch
                return []  # no cluster yet (or torn down): no tasks, not an error
            raise
        if not self._seeded:
            # Once: the recently stopped tasks (ECS keeps them about an hour), so their stop
            # reasons show from the first poll; later ones are caught as they leave the list.
            stopped = ecs.list_tasks(
                cluster=self.target.cluster, desiredStatus="STOPPED", maxResults=RECENT_TASKS
            ).get("taskArns", [])
            self._seen_tasks.extend(reversed(stopped))
            self._seeded = True
        wanted = list(dict.fromkeys([*arns, *reversed(self._seen_tasks)]))[:100]
        if not wanted:
            return []
        described = ecs.describe_tasks(cluster=self.target.cluster, tasks=wanted).get("tasks", [])
        unknown = sorted(
            {
                t["containerInstanceArn"]
                for t in described
                if t.get("containerInstanceArn")
                and t["containerInstanceArn"] not in self._container_instances
            }
        )
        if unknown:  # once per new container instance; the mapping never changes
            try:
                response = ecs.describe_container_instances(
                    cluster=self.target.cluster, containerInstances=unknown[:100]
                )
                for ci in response.get("containerInstances", []):
                    self._container_instances[ci["containerInstanceArn"]] = ci.get(
                        "ec2InstanceId", ""
                    )
            except Exception:
                pass  # tasks still show, without their instance; retried next poll
        tasks = []
        for t in described:
            arn = t["taskArn"]
            if arn not in self._seen_tasks:
                self._seen_tasks.append(arn)
            family = t.get("taskDefinitionArn", "").rsplit("/", 1)[-1].split(":")[0]
            exit_code = None
            for container in t.get("containers", []):
                if container.get("exitCode") is not None:
                    exit_code = container["exitCode"]
            tasks.append(
                TaskInfo(
                    arn=arn,
                    step=self._family_step.get(family, ""),
                    last_status=t.get("lastStatus", ""),
                    desired_status=t.get("desiredStatus", ""),
                    instance_id=self._container_instances.get(t.get("containerInstanceArn", "")),
                    started_at=t.get("startedAt") or t.get("createdAt"),
                    stopped_at=t.get("stoppedAt"),
                    stop_reason=t.get("stoppedReason"),
                    exit_code=exit_code,
                )
            )
        far_past = datetime.min.replace(tzinfo=UTC)
        tasks.sort(key=lambda t: (not t.active, -(t.started_at or far_past).timestamp()))
        return tasks[:RECENT_TASKS]

    # -- actions
    def upload(self, path: str | os.PathLike[str], key: str | None = None) -> str:
        """Upload a local file to the pipeline's input bucket; returns `s3://bucket/key`."""
        bucket = self.target.input_bucket
        if not bucket:
            raise YunpipeError(
                f"the input bucket of pipeline {self.pipeline!r} is unknown (no deploy journal); "
                "upload with `aws s3 cp` instead"
            )
        source = Path(os.path.expanduser(os.fspath(path)))
        if not source.is_file():
            raise InputError(f"{source}: not a file; give the path of a local file to upload")
        key = key or source.name
        try:
            self.aws.client("s3").upload_file(str(source), bucket, key)
        except Exception as exc:
            message = _aws_message(exc)
            raise AwsError(f"upload of {source.name} to s3://{bucket}: {message}") from None
        return f"s3://{bucket}/{key}"

    def redrive(self, step: str, limit: int = 1000) -> int:
        """Move a step's dead-letter messages back to its work queue; returns how many moved.

        moto 5.2.5 does not implement `StartMessageMoveTask`, so this is the portable loop:
        receive up to 10 → send them (body and attributes) to the work queue → delete from the
        dead-letter queue only the ones that were sent. A message is never lost: one that fails to
        send becomes visible in the dead-letter queue again after its visibility timeout.
        """
        s = self._step(step)
        sqs = self.aws.client("sqs")
        try:
            dlq_url = self._queue_url(sqs, s.dlq_name)
            queue_url = self._queue_url(sqs, s.queue_name)
            moved = 0
            while moved < limit:
                received = sqs.receive_message(
                    QueueUrl=dlq_url,
                    MaxNumberOfMessages=min(10, limit - moved),
                    WaitTimeSeconds=0,
                    VisibilityTimeout=30,
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not received:
                    break
                entries = []
                for i, m in enumerate(received):
                    entry: dict[str, Any] = {"Id": str(i), "MessageBody": m["Body"]}
                    if m.get("MessageAttributes"):
                        entry["MessageAttributes"] = m["MessageAttributes"]
                    entries.append(entry)
                sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
                ok = {e["Id"] for e in sent.get("Successful", [])}
                done = [
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(received)
                    if str(i) in ok
                ]
                if done:
                    sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
                moved += len(done)
                if len(done) < len(received):
                    break  # some could not be sent: stop rather than spin on them
        except YunpipeError:
            raise
        except Exception as exc:
            raise AwsError(f"redrive of {s.dlq_name}: {_aws_message(exc)}") from None
        return moved

    # -- files (the ledger), read on the Files view's own cadence, never inside a poll
    def recent_files(self, per_state: int = FILES_PER_STATE) -> list[FileRecord]:
        """Failed files first, then running, queued and done (newest first within each), at
        most `per_state` of each: the ledger's by-state index, whatever the number of files."""
        from yunpipe_tui import ledger

        steps = [s.step for s in self.target.steps]
        out: list[FileRecord] = []
        seen: set[str] = set()
        for state in ("failed", "running", "queued", "done"):
            for record in ledger.files(
                self.aws, self.pipeline, state=state, limit=per_state, steps=steps
            ):
                if record.file_id not in seen:
                    seen.add(record.file_id)
                    out.append(record)
        return out

    def file_log(
        self, record: FileRecord, tail: LogTail | None = None
    ) -> tuple[LogTail | None, list[LogLine]]:
        """A file's log lines: the first call reads them all, later calls (with the returned
        tail) only the new ones; a file that names no log stream yet has none (tail None)."""
        from yunpipe_tui import file_logs

        if tail is None:
            if not any(s.log_stream for s in record.steps):
                return None, []
            tail = file_logs.for_file(record)
        return tail, tail.fetch(self.aws)

    def redrive_file(self, record: FileRecord) -> str:
        """Queue one failed file again at the step where it failed: a new message shaped like
        the S3 event the dispatcher forwards. The runner's claim takes a `failed` item again;
        a copy left in the dead-letter queue is harmless (a `done` file is never run twice)."""
        import json
        from urllib.parse import quote_plus

        step = record.current
        source = step.input or (
            f"s3://{self.target.input_bucket}/{record.key}" if self.target.input_bucket else ""
        )
        if not source.startswith("s3://"):
            raise YunpipeError(f"{record.key}: the ledger does not say what step {step.step} read")
        bucket, _, key = source[len("s3://") :].partition("/")
        target = self._step(step.step)
        obj: dict[str, Any] = {"key": quote_plus(key)}
        if step.etag and step.step == self.target.steps[0].step:
            obj["eTag"] = step.etag
        body = {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": obj},
                }
            ]
        }
        sqs = self.aws.client("sqs")
        try:
            url = self._queue_url(sqs, target.queue_name)
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
        except Exception as exc:
            raise AwsError(f"redrive of {record.key}: {_aws_message(exc)}") from None
        return f"{record.key} queued again at step {step.step}"

    def redrive_failed(self) -> int:
        """Every step's dead letters back to its work queue, their files' ledger items marked
        `queued` again (so the Files view and `yunpipe files` show them waiting, not failed);
        without a ledger only the messages move. Returns how many messages moved."""
        from yunpipe_tui import ledger

        try:
            return ledger.redrive_failed(self.aws, self.pipeline)
        except ledger.NoLedger:
            return sum(self.redrive(s.step) for s in self.target.steps)

    def download(self, record: FileRecord, folder: str | os.PathLike[str] = ".") -> Path:
        """Download a done file's result into `folder` (its own file name); returns the path."""
        if not record.result or not record.result.startswith("s3://"):
            raise YunpipeError(f"{record.key} has no result yet (state {record.state})")
        bucket, _, key = record.result[len("s3://") :].partition("/")
        target = Path(os.path.expanduser(os.fspath(folder))) / (key.rsplit("/", 1)[-1] or "result")
        try:
            self.aws.client("s3").download_file(bucket, key, str(target))
        except Exception as exc:
            raise AwsError(f"download of {record.result}: {_aws_message(exc)}") from None
        return target.resolve()

    def terminate(self, instance_id: str) -> None:
        """Terminate one of this pipeline's instances (and delete its idle alarm)."""
        ec2 = self.aws.client("ec2")
        try:
            response = ec2.describe_instances(
                InstanceIds=[instance_id],
                Filters=[{"Name": f"tag:{names.TAG_PIPELINE}", "Values": [self.pipeline]}],
            )
        except Exception as exc:
            raise AwsError(f"instance {instance_id}: {_aws_message(exc)}") from None
        found = [i for r in response.get("Reservations", []) for i in r.get("Instances", [])]
        if not found:
            raise YunpipeError(
                f"instance {instance_id} is not tagged {names.TAG_PIPELINE}={self.pipeline}; "
                "yunpipe terminates only the instances it launched"
            )
        tags = {t["Key"]: t["Value"] for t in found[0].get("Tags", [])}
        try:
            ec2.terminate_instances(InstanceIds=[instance_id])
        except Exception as exc:
            raise AwsError(f"terminate {instance_id}: {_aws_message(exc)}") from None
        step = tags.get(names.TAG_STEP)
        if step:
            # The alarm would only fire on a terminated instance; teardown also removes it.
            with contextlib.suppress(Exception):
                self.aws.client("cloudwatch").delete_alarms(
                    AlarmNames=[names.alarm(self.pipeline, step, instance_id)]
                )

    def _step(self, step: str) -> StepTarget:
        for s in self.target.steps:
            if s.step == step:
                return s
        known = ", ".join(s.step for s in self.target.steps)
        raise InputError(f"pipeline {self.pipeline!r} has no step {step!r} (steps: {known})")


def _int(attrs: Mapping[str, str], key: str) -> int | None:
    value = attrs.get(key)
    return int(value) if value is not None else None


def _with(obj: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(obj, **changes)


# --------------------------------------------------------------------------- the refresh rhythm

MAX_BACKOFF_S = 60.0


def next_delay(interval: float, failures: int) -> float:
    """Seconds until the next poll: the interval, doubled per consecutive failed poll (capped)."""
    if failures <= 0:
        return interval
    return min(interval * 2**failures, max(MAX_BACKOFF_S, interval))


# --------------------------------------------------------------------------- which pipeline


def target_from_record(record: Any) -> PipelineTarget:
    """A PipelineTarget from a deploy journal (`journal.PipelineRecord`)."""
    steps = record.steps
    if not steps:
        raise YunpipeError(
            f"the journal of pipeline {record.pipeline!r} lists no steps (its deploy stopped "
            "early); run `yunpipe deploy` again"
        )
    p = record.pipeline
    return PipelineTarget(
        pipeline=p,
        steps=tuple(
            StepTarget(
                step=s.id,
                queue_name=s.queue or names.queue(p, s.id),
                dlq_name=s.dead_letter_queue or names.dead_letter_queue(p, s.id),
                task_family=s.task_family or names.task_family(p, s.id),
                algorithm=s.algorithm,
                queue_url=s.queue_url or None,
                dlq_url=s.dead_letter_queue_url or None,
            )
            for s in steps
        ),
        cluster=record.cluster or names.cluster(p),
        region=record.region or None,
        input_bucket=record.input_bucket or None,
        output_bucket=record.output_bucket or None,
        backend=journal_backend(record),
    )


def journal_backend(record: Any) -> str:
    """The backend a deploy journal names: Batch when it planned a job queue or its workflow
    asks for Batch, else ECS (every journal written before the Batch backend)."""
    compute = record.workflow.get("compute") or {}
    on_batch = "shared/job-queue" in record.resources or compute.get("backend") == BATCH
    return BATCH if on_batch else ECS


def discover_target(aws: AwsContext, pipeline: str) -> PipelineTarget | None:
    """Without a journal: find the pipeline's steps from its queue names (one ListQueues call)."""
    import re

    prefix = names.base(pipeline) + "-"
    try:
        urls = aws.client("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    except Exception as exc:
        raise AwsError(f"looking for the queues of {pipeline!r}: {_aws_message(exc)}") from None
    pattern = re.compile(re.escape(prefix) + r"(s\d+)-queue$")
    by_name = {u.rsplit("/", 1)[-1]: u for u in urls}
    steps = sorted(
        {m.group(1) for n in by_name if (m := pattern.match(n))}, key=lambda s: int(s[1:])
    )
    if not steps:
        return None
    return PipelineTarget.from_names(pipeline, steps, urls=by_name)


def resolve_target(pipeline: str | None = None, aws: AwsContext | None = None) -> PipelineTarget:
    """The pipeline to watch: its deploy journal (the most recent one when `pipeline` is None);
    without a journal, resource_names' conventions (steps found from the queue names, when `aws` is
    given). Only journals of the account and endpoint `aws` talks to are used: one of another
    is named in the error. Raises YunpipeError with one line when there is nothing to watch."""
    from yunpipe_tui.deploy import journal, records

    if pipeline is None:
        record, listing = records.most_recent(aws)
        if record is None:
            other = "".join(f"; {line}" for line in listing.lines("not watched")[:3])
            raise YunpipeError(
                "no pipeline deployed yet; deploy one with `yunpipe deploy -f WORKFLOW.json` "
                f"or name it: `yunpipe monitor PIPELINE`{other}"
            )
        return target_from_record(record)
    record = journal.load(pipeline)
    elsewhere = ""
    if (
        record is not None
        and aws is not None
        and any(r.pipeline == pipeline for r in records.here(aws).elsewhere)
    ):
        elsewhere = records.elsewhere_line(record, "not watched")
        record = None  # another account's record never steers this one's calls
    if record is not None and record.status == journal.TORN_DOWN:
        raise YunpipeError(
            f"pipeline {pipeline!r} was torn down; deploy it again with `yunpipe deploy -f FILE`"
        )
    if record is not None and record.steps:
        return target_from_record(record)
    found = discover_target(aws, pipeline) if aws is not None else None
    if found is None and elsewhere:
        raise YunpipeError(elsewhere)
    if found is None:
        raise YunpipeError(
            f"no pipeline named {pipeline!r}: no deploy journal and no queues "
            f"named {names.base(pipeline)}-s<k>-queue; check the name with `yunpipe status`"
        )
    return found
