"""yunpipe's dispatcher Lambda: S3 event -> the step's queue -> make sure a task will process it.

Self-contained (boto3 + stdlib only): it is zipped on its own as `dispatcher.py`, handler string
`dispatcher.handler`, runtime python3.12. The sandbox imports it and calls `dispatch(...)` with an
explicit `DispatcherConfig`, so nothing here reads os.environ except `handler`.

Call budget (API calls per event; measured by tests/lambda_runner/test_dispatcher.py):

S3 event (one record, the usual case)
  0. with a ledger (YUNPIPE_LEDGER_TABLE, step 1 only): dynamodb:TransactWriteItems, the
     `queued` items of the event's records and their counter in one call (one more only when
     the batch mixes new and duplicate records). Without the variable: no ledger call.
  1. sqs:SendMessage (SendMessageBatch when an event carries several records)
  2. ecs:ListTasks (family = the step's task family, desiredStatus RUNNING: PENDING and RUNNING)
     - tasks >= YUNPIPE_MAX_TASKS, or tasks > 0: return (2 calls). A running runner drains the
       whole queue; scaling out beyond the first task is the reconcile's job (every minute), which
       keeps every S3 event within 4 calls when capacity exists.
  3. ecs:ListContainerInstances (ACTIVE, `attribute:ecs.instance-type == <type>`)
  4. ecs:StartTask on the first listed instance. ECS itself refuses a task that does not fit
     (failure reason RESOURCE:*), which is the only race-free room check between concurrent
     dispatchers. -> capacity exists: 4 calls.
     Only when that start fails: ecs:DescribeContainerInstances, choose an instance of the type
     whose remainingResources fit YUNPIPE_TASK_MEMORY/CPU, ecs:StartTask there.
  No instance with room: ec2:DescribeInstances (this step's pending/running instances) compared
  with the container instances' ec2InstanceId. One still booting: return (4 calls: SendMessage,
  ListTasks, ListContainerInstances, DescribeInstances; +1 DescribeContainerInstances when other
  instances are registered). None: ec2:RunInstances (with a ClientToken shared by dispatchers
  that saw the same instances in the same 5 minutes) and cloudwatch:PutMetricAlarm (idle
  terminate), 6 calls; only the dispatcher that launched waits for registration, with bounded
  backoff within the Lambda's remaining time (ListContainerInstances +
  DescribeContainerInstances per try), and starts the task there.

Reconcile event (EventBridge schedule, or {"yunpipe": "reconcile"})
  1. sqs:GetQueueAttributes (visible and in flight); no visible message: 1 call. Messages only
     in flight are held by a runner (or by one that died, until their visibility ends): a new
     task would find nothing and exit idle, so they start none.
  2. ecs:ListTasks; enough tasks (one per visible message, plus one per in-flight message a
     running task may be busy with, up to YUNPIPE_MAX_TASKS): 2 calls.
  3-4. ecs:ListContainerInstances + ecs:DescribeContainerInstances (once), then one
     ecs:StartTask per missing task that fits on the registered instances (their remaining
     memory and CPU counted down locally). The tasks still missing get instances at once:
     ec2:DescribeInstances, then ONE ec2:RunInstances (MinCount 1, MaxCount = the tasks left
     divided by YUNPIPE_TASKS_PER_INSTANCE, rounded up, less this step's instances still
     booting) and one cloudwatch:PutMetricAlarm per instance launched. With YUNPIPE_SPOT the
     launch asks for Spot and, on a capacity or price error, asks once more on demand.

Launch rule (YUNPIPE_LAUNCH_RULE): absent or "backlog", the ECS rule above. "one-per-reconcile" is
the rule before issue 13: at most ONE instance per launch, and none while one of the step's is
still booting. Kept only so benchmarks/scaling.py can measure the old rule against the new on
the same code; deploys never set it.

Backend batch (YUNPIPE_BACKEND=batch): no ECS, EC2 or CloudWatch call at all. Batch scales its
compute environment; the dispatcher only keeps enough drain jobs (named YUNPIPE_JOB_NAME, each
running the unchanged runner, which drains the queue and exits idle) submitted to the job queue.
  wanted = min(YUNPIPE_MAX_JOBS, ceil(backlog / YUNPIPE_FILES_PER_JOB)), where backlog = the
  visible messages (at least the ones just sent) plus the in-flight messages the active jobs may
  be busy with (as the ECS rule counts busy tasks); submit wanted - active jobs.
  S3 event: [ledger], sqs:SendMessage, sqs:GetQueueAttributes, batch:ListJobs per active state
  (SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING; more pages only past 1000 jobs; the listing
  stops once enough jobs are counted), then at most ceil(sent / FILES_PER_JOB) batch:SubmitJob:
  an event never submits more jobs than its own files need, so concurrent events cannot
  overshoot; the rest of a backlog is the reconcile's. One file, no active job: 8 calls.
  Reconcile: sqs:GetQueueAttributes (no visible message: 1 call), the ListJobs as above, then
  one SubmitJob per missing job while the Lambda's time lasts. A failed SubmitJob is logged and
  ends the submitting: the messages stay queued and the next reconcile tries again.
  ListJobs ignores jobStatus when a name filter is given (and would list every finished job of
  the last days), so it is asked per state and the name is compared here.

A failed start never loses a file: the message is already in the queue, and the reconcile tries
again a minute later. Never a busy loop: every wait is bounded by the remaining time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger("yunpipe.dispatcher")
LOG.addHandler(logging.NullHandler())  # Lambda's root handler gets the records; no stderr elsewhere

# Duplicated from yunpipe_tui/resource_names.py (the Lambda cannot import yunpipe); a test checks
# they agree.
PREFIX = "yunpipe"
TAG_PIPELINE = "yunpipe:pipeline"
TAG_STEP = "yunpipe:step"
TAG_MANAGED = "yunpipe:managed"
STARTED_BY_MAX = 36  # ECS: startedBy is at most 36 letters, digits, hyphens, underscores

ECS = "ecs"
BATCH = "batch"
BACKENDS = (ECS, BATCH)
# A drain job counts as active in these states, listed in the order jobs move through them: a job
# that moves on between two ListJobs calls is counted twice (one submit too few, corrected by the
# next reconcile), never missed (one job too many, which would boot capacity for nothing).
ACTIVE_JOB_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
MAX_JOBS_CEILING = 1000

SAFETY_MARGIN_MS = 10_000  # keep this much of the Lambda's time for the last start and logging
BACKOFF_SECONDS = (2.0, 4.0, 8.0, 15.0)
LAUNCH_LOCK = threading.Lock()  # serialises launch decisions of dispatchers in one process
# RunInstances errors after which a Spot request is retried on demand (no Spot capacity or price).
SPOT_FALLBACK_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "SpotMaxPriceTooLow",
        "MaxSpotInstanceCountExceeded",
        "InsufficientSpotInstanceCapacity",
        "UnfulfillableCapacity",
        # The account has no Spot service-linked role and the dispatcher may not create it.
        "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
    }
)
# YUNPIPE_LAUNCH_RULE values: the backlog rule (default) and the old one, for the benchmark.
LAUNCH_BACKLOG = "backlog"
LAUNCH_ONE_PER_RECONCILE = "one-per-reconcile"
SPOT_OPTIONS = {
    "MarketType": "spot",
    "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
}


def base_name(pipeline: str, step: str | None = None) -> str:
    return f"{PREFIX}-{pipeline}" + (f"-{step}" if step else "")


def alarm_name(pipeline: str, step: str, instance_id: str) -> str:
    return f"{base_name(pipeline, step)}-idle-{instance_id}"


def started_by(pipeline: str, step: str) -> str:
    """`yunpipe-<p>-<s>`; shortened with a hash when longer than ECS allows."""
    name = base_name(pipeline, step)
    if len(name) <= STARTED_BY_MAX:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: STARTED_BY_MAX - 9]}-{digest}"


class ConfigError(ValueError):
    """A missing or malformed environment variable."""


def _int(env: Mapping[str, str], key: str, default: int | None = None) -> int:
    raw = (env.get(key) or "").strip()
    if not raw:
        if default is None:
            raise ConfigError(f"environment variable {key} is required")
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {key} must be an integer, not {raw!r}") from None


def _launch_rule(env: Mapping[str, str]) -> str:
    rule = (env.get("YUNPIPE_LAUNCH_RULE") or LAUNCH_BACKLOG).strip().lower()
    if rule not in (LAUNCH_BACKLOG, LAUNCH_ONE_PER_RECONCILE):
        raise ConfigError(
            f"environment variable YUNPIPE_LAUNCH_RULE must be {LAUNCH_BACKLOG!r} or "
            f"{LAUNCH_ONE_PER_RECONCILE!r}, not {rule!r}"
        )
    return rule


@dataclass(frozen=True)
class DispatcherConfig:
    pipeline: str
    step: str
    queue_url: str
    cluster: str
    task_definition: str
    container: str
    task_memory: int
    task_cpu: int
    instance_type: str
    ami_id: str
    instance_profile: str = "ecsInstanceRole"
    key_pair: str = ""
    subnet_id: str = ""
    security_group_id: str = ""
    max_tasks: int = 10
    spot: bool = False
    tasks_per_instance: int = 0  # how many tasks one instance holds; 0: unknown, assume 1
    task_gpu: int = 0
    endpoint_url: str = ""
    region: str = "us-east-1"
    ledger_table: str = ""  # step 1 only: write each upload's `queued` ledger item
    backend: str = ECS
    job_queue: str = ""  # backend batch: the pipeline's job queue
    job_definition: str = ""  # the step's job definition (bare name: the latest ACTIVE revision)
    job_name: str = ""  # every drain job of the step carries this name
    max_jobs: int = 1  # the step's ceiling of active drain jobs
    files_per_job: int = 1  # one drain job per this many waiting files
    launch_rule: str = LAUNCH_BACKLOG  # LAUNCH_ONE_PER_RECONCILE only in benchmarks/scaling.py

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatcherConfig:
        def need(key: str) -> str:
            value = (env.get(key) or "").strip()
            if not value:
                raise ConfigError(f"environment variable {key} is required")
            return value

        backend = (env.get("YUNPIPE_BACKEND") or ECS).strip().lower()
        if backend not in BACKENDS:
            raise ConfigError(
                f"environment variable YUNPIPE_BACKEND must be ecs or batch, not {backend!r}"
            )
        batch = backend == BATCH

        def ecs_need(key: str) -> str:
            """ECS's variables: required for the ECS backend, possibly empty for Batch."""
            return (env.get(key) or "").strip() if batch else need(key)

        def batch_need(key: str) -> str:
            return need(key) if batch else (env.get(key) or "").strip()

        return cls(
            pipeline=need("YUNPIPE_PIPELINE"),
            step=need("YUNPIPE_STEP"),
            queue_url=need("YUNPIPE_QUEUE_URL"),
            cluster=ecs_need("YUNPIPE_CLUSTER"),
            task_definition=ecs_need("YUNPIPE_TASK_DEFINITION"),
            container=(env.get("YUNPIPE_CONTAINER") or "algorithm").strip(),
            task_memory=_int(env, "YUNPIPE_TASK_MEMORY", 128),
            task_cpu=_int(env, "YUNPIPE_TASK_CPU", 0),
            instance_type=ecs_need("YUNPIPE_INSTANCE_TYPE"),
            ami_id=ecs_need("YUNPIPE_AMI_ID"),
            instance_profile=(env.get("YUNPIPE_INSTANCE_PROFILE") or "ecsInstanceRole").strip(),
            key_pair=(env.get("YUNPIPE_KEY_PAIR") or "").strip(),
            subnet_id=(env.get("YUNPIPE_SUBNET_ID") or "").strip(),
            security_group_id=(env.get("YUNPIPE_SECURITY_GROUP_ID") or "").strip(),
            max_tasks=max(1, _int(env, "YUNPIPE_MAX_TASKS", 10)),
            spot=(env.get("YUNPIPE_SPOT") or "").strip().lower() == "true",
            tasks_per_instance=max(0, _int(env, "YUNPIPE_TASKS_PER_INSTANCE", 0)),
            task_gpu=max(0, _int(env, "YUNPIPE_TASK_GPU", 0)),
            endpoint_url=(env.get("YUNPIPE_ENDPOINT_URL") or "").strip(),
            region=(env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1").strip(),
            ledger_table=(env.get("YUNPIPE_LEDGER_TABLE") or "").strip(),
            backend=backend,
            job_queue=batch_need("YUNPIPE_JOB_QUEUE"),
            job_definition=batch_need("YUNPIPE_JOB_DEFINITION"),
            job_name=batch_need("YUNPIPE_JOB_NAME"),
            max_jobs=min(MAX_JOBS_CEILING, max(1, _int(env, "YUNPIPE_MAX_JOBS", 1))),
            files_per_job=max(1, _int(env, "YUNPIPE_FILES_PER_JOB", 1)),
            launch_rule=_launch_rule(env),
        )

    @property
    def base(self) -> str:
        return base_name(self.pipeline, self.step)

    @property
    def started_by(self) -> str:
        return started_by(self.pipeline, self.step)


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _log(level: int, message: str, **context: Any) -> None:
    LOG.log(level, json.dumps({"message": message, **context}, default=str, sort_keys=True))


class _Clients:
    """The clients the dispatcher uses, built on first use unless given."""

    SERVICES = ("sqs", "ecs", "ec2", "cloudwatch", "dynamodb", "batch")

    def __init__(self, config: DispatcherConfig, given: Mapping[str, Any] | None) -> None:
        self._config = config
        self._clients: dict[str, Any] = dict(given or {})

    def __getattr__(self, service: str) -> Any:
        if service not in self.SERVICES:
            raise AttributeError(service)
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            kwargs: dict[str, Any] = {
                "region_name": self._config.region,
                "config": Config(retries={"mode": "standard", "max_attempts": 3}),
            }
            if self._config.endpoint_url:
                kwargs["endpoint_url"] = self._config.endpoint_url
            self._clients[service] = boto3.client(service, **kwargs)
        return self._clients[service]


# ----------------------------------------------------------------------------------------------
# events


def s3_records(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The event's S3 records with keys decoded; test events and foreign records dropped."""
    if event.get("Event") == "s3:TestEvent":
        return []
    records = []
    for record in event.get("Records") or []:
        if not isinstance(record, dict) or "s3" not in record:
            continue
        if record.get("eventName") == "s3:TestEvent":
            continue
        s3 = record["s3"]
        key = urllib.parse.unquote_plus(str(s3.get("object", {}).get("key", "")))
        bucket = s3.get("bucket", {}).get("name", "")
        if not key or not bucket:
            continue
        records.append({**record, "_key": key, "_bucket": bucket})
    return records


def file_id(record: Mapping[str, Any]) -> str:
    """The ledger's id of an uploaded object: `<key>#<versionId>` when the bucket is versioned,
    else `<key>#<ETag>` (a new upload of the same key is a new file). The runner computes the
    same from the same record (assets/runner.py; a test checks they agree)."""
    obj = (record.get("s3") or {}).get("object") or {}
    key = urllib.parse.unquote_plus(str(obj.get("key", "")))
    version = str(obj.get("versionId") or obj.get("eTag") or obj.get("sequencer") or "")
    return f"{key}#{version.strip(chr(34))}"


def utc_now() -> str:
    """ISO-8601 UTC with microseconds, the ledger's time format (sortable as text)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


def is_reconcile(event: Mapping[str, Any]) -> bool:
    return event.get("yunpipe") == "reconcile" or event.get("source") == "aws.events"


def _message_body(record: dict[str, Any]) -> str:
    """One record in the shape S3 gives SQS notifications (the key stays quote_plus-encoded)."""
    clean = {k: v for k, v in record.items() if not k.startswith("_")}
    return json.dumps({"Records": [clean]}, sort_keys=True)


# ----------------------------------------------------------------------------------------------
# the work


class _Dispatch:
    def __init__(self, config: DispatcherConfig, clients: _Clients, remaining_ms: int | None):
        self.config = config
        self.clients = clients
        self.deadline = None if remaining_ms is None else time.monotonic() + remaining_ms / 1000.0
        self.summary: dict[str, Any] = {
            "sent": 0,
            "started": 0,
            "launched": 0,
            "tasks": None,
            "depth": None,
            "in_flight": None,
            "submitted": 0,  # backend batch: drain jobs submitted
            "jobs": None,  # backend batch: active drain jobs counted (at least this many)
            "errors": [],
        }

    # -- helpers
    def _error(self, what: str, exc: BaseException, **context: Any) -> None:
        self.summary["errors"].append(f"{what}: {exc}")
        _log(logging.ERROR, what, error=str(exc), step=self.config.base, **context)

    def _time_left(self) -> float:
        """Seconds we may still spend waiting (the safety margin already taken off)."""
        if self.deadline is None:
            return 0.0
        return self.deadline - time.monotonic() - SAFETY_MARGIN_MS / 1000.0

    # -- queue
    def send(self, records: list[dict[str, Any]]) -> int:
        sqs = self.clients.sqs
        if len(records) == 1:
            sqs.send_message(QueueUrl=self.config.queue_url, MessageBody=_message_body(records[0]))
            _log(
                logging.INFO,
                "queued",
                bucket=records[0]["_bucket"],
                key=records[0]["_key"],
                step=self.config.base,
            )
            return 1
        sent = 0
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            answer = sqs.send_message_batch(
                QueueUrl=self.config.queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": _message_body(r)} for i, r in enumerate(chunk)
                ],
            )
            sent += len(answer.get("Successful", []))
            for failure in answer.get("Failed", []):
                record = chunk[int(failure["Id"])]
                _log(
                    logging.ERROR,
                    "queueing failed",
                    key=record["_key"],
                    code=failure.get("Code"),
                    error=failure.get("Message"),
                    step=self.config.base,
                )
                self.summary["errors"].append(f"send {record['_key']}: {failure.get('Code')}")
        return sent

    def depth(self) -> tuple[int, int]:
        """(visible messages waiting for a runner, messages in flight)."""
        attrs = self.clients.sqs.get_queue_attributes(
            QueueUrl=self.config.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        visible = int(attrs.get("ApproximateNumberOfMessages", 0))
        in_flight = int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))
        self.summary["depth"], self.summary["in_flight"] = visible, in_flight
        return visible, in_flight

    # -- tasks
    def task_count(self) -> int:
        arns = self.clients.ecs.list_tasks(
            cluster=self.config.cluster,
            family=self.config.task_definition,
            desiredStatus="RUNNING",
        ).get("taskArns", [])
        self.summary["tasks"] = len(arns)
        return len(arns)

    def list_instances(self) -> list[str]:
        return self.clients.ecs.list_container_instances(
            cluster=self.config.cluster,
            filter=f"attribute:ecs.instance-type == {self.config.instance_type}",
            status="ACTIVE",
        ).get("containerInstanceArns", [])

    def describe_instances(self, arns: list[str]) -> list[dict[str, Any]]:
        if not arns:
            return []
        return self.clients.ecs.describe_container_instances(
            cluster=self.config.cluster, containerInstances=arns
        ).get("containerInstances", [])

    def _fits(self, instance: dict[str, Any]) -> bool:
        attrs = {a.get("name"): a.get("value") for a in instance.get("attributes", [])}
        if attrs.get("ecs.instance-type", self.config.instance_type) != self.config.instance_type:
            return False  # moto ignores the cluster-query filter; AWS applies it
        if instance.get("status", "ACTIVE") != "ACTIVE" or not instance.get("agentConnected", True):
            return False
        left = {
            r.get("name"): r.get("integerValue", 0) for r in instance.get("remainingResources", [])
        }
        return (
            left.get("MEMORY", 0) >= self.config.task_memory
            and left.get("CPU", 0) >= self.config.task_cpu
        )

    def start_on(self, arn: str) -> bool:
        """Start one task on a container instance; False when ECS refused it (logged)."""
        try:
            answer = self.clients.ecs.start_task(
                cluster=self.config.cluster,
                taskDefinition=self.config.task_definition,
                containerInstances=[arn],
                startedBy=self.config.started_by,
            )
        except Exception as exc:  # botocore errors: logged, the message stays queued
            self._error("start_task failed", exc, container_instance=arn)
            return False
        failures = answer.get("failures", [])
        if failures or not answer.get("tasks"):
            reasons = ", ".join(str(f.get("reason")) for f in failures) or "no task returned"
            _log(
                logging.WARNING,
                "start_task refused",
                container_instance=arn,
                reason=reasons,
                step=self.config.base,
            )
            return False
        task = answer["tasks"][0].get("taskArn")
        _log(logging.INFO, "task started", task=task, container_instance=arn, step=self.config.base)
        self.summary["started"] += 1
        return True

    def start_with_room(self, arns: list[str], skip: set[str]) -> tuple[bool, list[dict]]:
        """Describe the instances, start on the fullest one that still fits (bin-packing)."""
        described = self.describe_instances(arns)
        fitting = [i for i in described if i["containerInstanceArn"] not in skip and self._fits(i)]

        def memory_left(instance: dict[str, Any]) -> int:
            for r in instance.get("remainingResources", []):
                if r.get("name") == "MEMORY":
                    return int(r.get("integerValue", 0))
            return 0

        for instance in sorted(fitting, key=memory_left):
            if self.start_on(instance["containerInstanceArn"]):
                return True, described
            skip.add(instance["containerInstanceArn"])
        return False, described

    # -- instances
    def step_instances(self) -> list[dict[str, Any]]:
        """EC2 instances yunpipe launched for this step that are pending or running."""
        found = []
        paginator = self.clients.ec2.get_paginator("describe_instances")
        for page in paginator.paginate(
            Filters=[
                {"Name": f"tag:{TAG_PIPELINE}", "Values": [self.config.pipeline]},
                {"Name": f"tag:{TAG_STEP}", "Values": [self.config.step]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        ):
            for reservation in page.get("Reservations", []):
                found.extend(reservation.get("Instances", []))
        return found

    def per_instance(self) -> int:
        """Tasks one instance of the step's type holds (from the plan; 1 when unknown)."""
        return max(1, self.config.tasks_per_instance)

    def _run_instances(self, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        """RunInstances, on Spot when configured, on demand when Spot has no capacity."""
        ec2 = self.clients.ec2
        if not self.config.spot:
            return list(ec2.run_instances(**kwargs)["Instances"])
        try:
            return list(
                ec2.run_instances(**kwargs, InstanceMarketOptions=SPOT_OPTIONS)["Instances"]
            )
        except Exception as exc:
            code = _error_code(exc)
            if code not in SPOT_FALLBACK_CODES:
                raise
            _log(
                logging.WARNING,
                "no spot capacity; launching on demand",
                code=code,
                step=self.config.base,
            )
            # Another token: EC2 refuses a token reused with other parameters.
            retry = dict(kwargs)
            retry["ClientToken"] = hashlib.sha256(
                f"{kwargs['ClientToken']}|on-demand".encode()
            ).hexdigest()[:64]
            return list(ec2.run_instances(**retry)["Instances"])

    def launch(self, known: list[str], count: int = 1) -> list[str]:
        """Launch up to `count` instances in one RunInstances (EC2 may start fewer, at least
        one), each with its idle alarm; their ids."""
        config = self.config
        user_data = f"#!/bin/bash\necho ECS_CLUSTER={config.cluster} >> /etc/ecs/ecs.config\n"
        tags = [
            {"Key": "Name", "Value": config.base},
            {"Key": TAG_PIPELINE, "Value": config.pipeline},
            {"Key": TAG_STEP, "Value": config.step},
            {"Key": TAG_MANAGED, "Value": "true"},
        ]
        # Idempotency across concurrent Lambdas on AWS: dispatchers that saw the same instances in
        # the same five minutes and want the same launch send the same token, and EC2 launches
        # only once for them.
        market = "spot" if config.spot else "on-demand"
        count_part = f"|{count}|{market}" if count > 1 or config.spot else ""
        seed = f"{config.base}|{','.join(sorted(known))}|{int(time.time() // 300)}{count_part}"
        token = hashlib.sha256(seed.encode()).hexdigest()[:64]
        kwargs: dict[str, Any] = {
            "ImageId": config.ami_id,
            "InstanceType": config.instance_type,
            "MinCount": 1,
            "MaxCount": count,
            "IamInstanceProfile": {"Name": config.instance_profile},
            "UserData": user_data,
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": tags},
                {"ResourceType": "volume", "Tags": tags},
            ],
            "ClientToken": token,
        }
        if config.key_pair:
            kwargs["KeyName"] = config.key_pair
        if config.subnet_id:
            kwargs["SubnetId"] = config.subnet_id
        if config.security_group_id:
            kwargs["SecurityGroupIds"] = [config.security_group_id]

        def alive(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
            gone = ("shutting-down", "terminated", "stopped")
            return [i for i in found if i.get("State", {}).get("Name") not in gone]

        instances = alive(self._run_instances(kwargs))
        if not instances:
            # The token answered with instances that have since gone (terminated by hand within
            # the five minutes): launch afresh under a token derived from it.
            kwargs["ClientToken"] = hashlib.sha256(f"{token}|again".encode()).hexdigest()[:64]
            instances = alive(self._run_instances(kwargs))
        launched = [i["InstanceId"] for i in instances]
        self.summary["launched"] += len(launched)
        _log(
            logging.INFO,
            "instances launched",
            instances=launched,
            instance_type=config.instance_type,
            spot=config.spot,
            step=config.base,
        )
        for instance_id in launched:
            try:
                self.clients.cloudwatch.put_metric_alarm(
                    AlarmName=alarm_name(config.pipeline, config.step, instance_id),
                    AlarmDescription="yunpipe: terminate the instance after 10 idle minutes",
                    Namespace="AWS/EC2",
                    MetricName="CPUUtilization",
                    Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
                    Statistic="Average",
                    Period=300,
                    EvaluationPeriods=2,
                    Threshold=1.0,
                    ComparisonOperator="LessThanThreshold",
                    AlarmActions=[f"arn:aws:automate:{config.region}:ec2:terminate"],
                    Tags=[t for t in tags if t["Key"] != "Name"],
                )
            except Exception as exc:
                self._error("put_metric_alarm failed", exc, instance=instance_id)
        return launched

    def wait_and_start(self, instance_ids: set[str], wanted: int = 1) -> bool:
        """Bounded backoff until these EC2 instances join the cluster; start up to `wanted`
        tasks on those that have. True when at least one started."""
        started = 0
        for delay in BACKOFF_SECONDS:
            if self._time_left() < delay:
                break
            time.sleep(delay)
            arns = self.list_instances()
            joined = [
                i for i in self.describe_instances(arns) if i.get("ec2InstanceId") in instance_ids
            ]
            if joined:
                started += self.fill(joined, wanted - started)
                if started >= wanted or len(joined) == len(instance_ids):
                    break
        return started > 0

    def start_one(self, arns: list[str] | None = None) -> bool:
        """Start one task where there is room; launch an instance when nowhere is."""
        if arns is None:
            arns = self.list_instances()
        tried: set[str] = set()
        described: list[dict[str, Any]] | None = None
        if arns:
            if self.start_on(arns[0]):
                return True
            tried.add(arns[0])
            started, described = self.start_with_room(arns, tried)
            if started:
                return True
        if described is None:
            described = self.describe_instances(arns)
        return self.launch_or_wait(described)

    def launch_or_wait(self, described: list[dict[str, Any]], tasks: int = 1) -> bool:
        """No room for `tasks` tasks: launch the instances they need, less those of this step
        still booting (each holds `per_instance` tasks), in one RunInstances; then wait for them
        within the remaining time and start what fits."""
        registered = {i.get("ec2InstanceId") for i in described}
        per = self.per_instance()
        with LAUNCH_LOCK:
            mine = self.step_instances()
            booting = {i["InstanceId"] for i in mine if i["InstanceId"] not in registered}
            needed = -(-tasks // per) - len(booting)
            if self.config.launch_rule == LAUNCH_ONE_PER_RECONCILE:
                needed = 0 if booting else 1  # the old rule, for the benchmark's comparison
            if needed <= 0:
                # Whoever launched them waits for them; the messages are queued, the reconcile
                # or that dispatcher starts the tasks.
                _log(
                    logging.INFO,
                    "instances already booting",
                    instances=sorted(booting),
                    step=self.config.base,
                )
                return False
            launched = self.launch([i["InstanceId"] for i in mine], needed)
        return self.wait_and_start(set(launched), tasks)

    def fill(self, described: list[dict[str, Any]], wanted: int) -> int:
        """Start up to `wanted` tasks on these container instances, fullest first, counting
        down each one's remaining memory and CPU as tasks start (one describe, no re-reads).
        ECS refusing a start (another dispatcher took the room) drops that instance."""
        config = self.config
        room: list[tuple[str, int, int, int]] = []
        for instance in described:
            if not self._fits(instance):
                continue
            left = {
                r.get("name"): int(r.get("integerValue", 0))
                for r in instance.get("remainingResources", [])
            }
            # GPUs are counted by ECS as a set of ids, not an integer: a GPU step holds at most
            # its tasks-per-instance on an instance, less the tasks already there.
            slots = wanted
            if config.task_gpu:
                busy = int(instance.get("runningTasksCount", 0)) + int(
                    instance.get("pendingTasksCount", 0)
                )
                slots = self.per_instance() - busy
            arn = instance["containerInstanceArn"]
            room.append((arn, left.get("MEMORY", 0), left.get("CPU", 0), slots))
        room.sort(key=lambda r: r[1])  # bin-packing: the fullest first
        started = 0
        for arn, memory, cpu, slots in room:
            while (
                started < wanted
                and slots > 0
                and memory >= config.task_memory
                and cpu >= config.task_cpu
            ):
                if self.deadline is not None and self._time_left() <= 0:
                    return started  # the rest next minute; the Lambda must not time out
                if not self.start_on(arn):
                    break
                started += 1
                slots -= 1
                memory -= config.task_memory
                cpu -= config.task_cpu
            if started >= wanted:
                break
        return started

    # -- the ledger
    def _queued_items(self, records: list[dict[str, Any]], now: str) -> list[dict[str, Any]]:
        table, step = self.config.ledger_table, self.config.step
        puts = []
        for r in records:
            fid = file_id(r)
            obj = r["s3"].get("object") or {}
            item = {
                "pk": {"S": fid},
                "sk": {"S": step},
                "key": {"S": r["_key"]},
                "etag": {"S": fid.rsplit("#", 1)[1]},
                "step": {"S": step},
                "state": {"S": "queued"},
                "attempts": {"N": "0"},
                "queued_at": {"S": now},
                "updated_at": {"S": now},
                "input": {"S": f"s3://{r['_bucket']}/{r['_key']}"},
            }
            if isinstance(obj.get("size"), int):
                item["bytes_in"] = {"N": str(obj["size"])}
            puts.append(
                {
                    "Put": {
                        "TableName": table,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        return puts

    def _counter(self, n: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.config.ledger_table,
                "Key": {"pk": {"S": "#counts"}, "sk": {"S": self.config.step}},
                "UpdateExpression": "ADD queued :n",
                "ExpressionAttributeValues": {":n": {"N": str(n)}},
            }
        }

    def record_queued(self, records: list[dict[str, Any]]) -> int:
        """`queued` items for new uploads with their counter, in one TransactWriteItems per 99
        records; a duplicate event (item already there) changes nothing. Never blocks the
        queueing: a failed write is logged, and the runner's claim creates the item anyway."""
        unique = list({file_id(r): r for r in records}.values())
        written = 0
        now = utc_now()
        for start in range(0, len(unique), 99):
            puts = self._queued_items(unique[start : start + 99], now)
            try:
                written += self._transact_puts(puts)
            except Exception as exc:
                self._error("ledger write failed", exc, table=self.config.ledger_table)
        return written

    def _transact_puts(self, puts: list[dict[str, Any]]) -> int:
        """Write the puts and the counter; drop the ones already in the ledger and retry."""
        while puts:
            try:
                self.clients.dynamodb.transact_write_items(
                    TransactItems=[*puts, self._counter(len(puts))]
                )
                return len(puts)
            except Exception as exc:
                response = getattr(exc, "response", None) or {}
                if response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = response.get("CancellationReasons") or []
                duplicate = {
                    i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"
                }
                if reasons and not duplicate:
                    raise  # a conflict or a throttle, not a duplicate: logged by the caller
                if not reasons:
                    if len(puts) == 1:
                        return 0  # its only condition is the put's: already in the ledger
                    return sum(self._transact_puts([p]) for p in puts)  # tell them apart
                puts = [p for i, p in enumerate(puts) if i not in duplicate]
        return 0

    # -- Batch drain jobs
    def active_jobs(self, enough: int) -> int:
        """This step's drain jobs in an active state: ListJobs per state on the job queue (every
        page), counting the jobs with the step's name. Stops once `enough` are counted."""
        config = self.config
        paginator = self.clients.batch.get_paginator("list_jobs")
        count = 0
        for state in ACTIVE_JOB_STATES:
            for page in paginator.paginate(jobQueue=config.job_queue, jobStatus=state):
                count += sum(
                    1
                    for job in page.get("jobSummaryList", [])
                    if job.get("jobName") == config.job_name
                )
            if count >= enough:
                break
        self.summary["jobs"] = count
        return count

    def submit(self, count: int) -> int:
        """Submit up to `count` drain jobs while the Lambda's time lasts; the first failure ends
        it (logged; the messages stay queued for the next reconcile)."""
        config = self.config
        tags = {TAG_PIPELINE: config.pipeline, TAG_STEP: config.step, TAG_MANAGED: "true"}
        submitted = 0
        while submitted < count:
            if self.deadline is not None and self._time_left() <= 0:
                break  # the rest next minute; the Lambda must not time out
            try:
                answer = self.clients.batch.submit_job(
                    jobName=config.job_name,
                    jobQueue=config.job_queue,
                    jobDefinition=config.job_definition,
                    tags=tags,
                    propagateTags=True,
                )
            except Exception as exc:  # botocore errors: logged, the messages stay queued
                self._error("submit_job failed", exc, job_queue=config.job_queue)
                break
            submitted += 1
            self.summary["submitted"] += 1
            _log(logging.INFO, "job submitted", job=answer.get("jobId"), step=config.base)
        return submitted

    def keep_jobs(self, visible: int, in_flight: int, cap: int | None = None) -> None:
        """Submit the drain jobs the backlog needs, less the active ones (at most `cap`)."""
        config = self.config

        def wanted(active: int) -> int:
            # Each active job may be busy with one in-flight message; the visible ones need more.
            backlog = visible + min(in_flight, active)
            return min(config.max_jobs, -(-backlog // config.files_per_job))

        active = self.active_jobs(enough=wanted(in_flight))
        missing = wanted(active) - active
        if cap is not None:
            missing = min(missing, cap)
        if missing > 0:
            self.submit(missing)

    def on_s3_batch(self, records: list[dict[str, Any]]) -> None:
        if self.config.ledger_table:
            self.summary["ledger"] = self.record_queued(records)
        sent = self.summary["sent"] = self.send(records)
        if sent == 0:
            return
        visible, in_flight = self.depth()
        # The count is approximate and may not show the messages just sent yet.
        self.keep_jobs(max(visible, sent), in_flight, cap=-(-sent // self.config.files_per_job))

    def on_reconcile_batch(self) -> None:
        visible, in_flight = self.depth()
        if visible == 0:
            return  # in-flight messages have a job, or come back visible when theirs died
        self.keep_jobs(visible, in_flight)

    # -- the two event kinds
    def on_s3(self, records: list[dict[str, Any]]) -> None:
        if self.config.backend == BATCH:
            self.on_s3_batch(records)
            return
        if self.config.ledger_table:
            self.summary["ledger"] = self.record_queued(records)
        self.summary["sent"] = self.send(records)
        tasks = self.task_count()
        if tasks > 0:
            return  # a runner drains the queue; the reconcile scales out
        self.start_one()

    def on_reconcile(self) -> None:
        if self.config.backend == BATCH:
            self.on_reconcile_batch()
            return
        visible, in_flight = self.depth()
        if visible == 0:
            return  # in-flight messages have a runner, or come back visible when theirs died
        tasks = self.task_count()
        # Each running task may be busy with one in-flight message; the visible ones need more.
        wanted = min(visible + min(in_flight, tasks), self.config.max_tasks)
        missing = wanted - tasks
        if missing <= 0:
            return
        arns = self.list_instances()
        described = self.describe_instances(arns)
        missing -= self.fill(described, missing)
        if missing > 0:
            # The rest get instances now, all in one launch, not one a minute.
            self.launch_or_wait(described, missing)


def dispatch(
    event: Mapping[str, Any],
    config: DispatcherConfig,
    clients: Mapping[str, Any] | None = None,
    remaining_ms: int | None = None,
) -> dict[str, Any]:
    """Handle one event. `remaining_ms` bounds any wait for a new instance (None: never wait).

    Returns {"sent", "started", "launched", "tasks", "depth" (visible messages), "in_flight",
    "submitted", "jobs" (the last two: backend batch), "errors"}.
    """
    work = _Dispatch(config, _Clients(config, clients), remaining_ms)
    try:
        if is_reconcile(event):
            work.on_reconcile()
        else:
            records = s3_records(event)
            if not records:
                _log(logging.INFO, "nothing to dispatch (test event or no S3 record)")
                return work.summary
            work.on_s3(records)
    except Exception as exc:
        # Anything sent is safe in the queue; the reconcile retries the start.
        work._error("dispatch failed", exc, event_kind="reconcile" if is_reconcile(event) else "s3")
        if work.summary["sent"] == 0 and not is_reconcile(event):
            raise  # the record never reached the queue: let Lambda retry the event
    return work.summary


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logging.getLogger().setLevel(logging.INFO)
    config = DispatcherConfig.from_env(os.environ)
    remaining = None
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        remaining = int(context.get_remaining_time_in_millis())
    return dispatch(event, config, remaining_ms=remaining)
