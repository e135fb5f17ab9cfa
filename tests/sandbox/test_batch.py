"""The sandbox runs AWS Batch: jobs of a `yunpipe-*-jobs` queue go through Batch's states and run
the real runner as a local process, within the compute environment's vCPUs, which scale up from
zero and back; teardown's calls work as on AWS. Resources are made with boto3 directly (not
through yunpipe's deploy), so these tests pin the sandbox alone."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from yunpipe_tui.sandbox import Sandbox, flow
from yunpipe_tui.sandbox.batch_runner import Capacity, job_environment

ORDER = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"]
DONE = ("SUCCEEDED", "FAILED")


@dataclass
class Batch:
    """One pipeline's Batch resources in the sandbox, named as yunpipe names them."""

    ctx: Any
    pipeline: str
    subnets: list[str]
    security_group: str
    instance_role: str
    environments: list[str] = field(default_factory=list)

    @property
    def client(self) -> Any:
        return self.ctx.client("batch")

    @property
    def queue(self) -> str:
        return f"yunpipe-{self.pipeline}-jobs"

    @property
    def definition(self) -> str:
        return f"yunpipe-{self.pipeline}-s1"

    def environment(self, kind: str = "ondemand", max_vcpus: int = 2) -> str:
        name = f"yunpipe-{self.pipeline}-{kind}"
        self.client.create_compute_environment(
            computeEnvironmentName=name,
            type="MANAGED",
            state="ENABLED",
            computeResources={
                "type": "EC2",
                "allocationStrategy": "BEST_FIT_PROGRESSIVE",
                "minvCpus": 0,
                "desiredvCpus": 0,
                "maxvCpus": max_vcpus,
                "instanceTypes": ["optimal"],
                "subnets": self.subnets,
                "securityGroupIds": [self.security_group],
                "instanceRole": self.instance_role,
            },
        )
        self.environments.append(name)
        return name

    def job_queue(self) -> None:
        self.client.create_job_queue(
            jobQueueName=self.queue,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": i + 1, "computeEnvironment": name}
                for i, name in enumerate(self.environments)
            ],
        )

    def job_definition(self, environment: dict[str, str], log_group: str = "") -> None:
        properties: dict[str, Any] = {
            "image": "yunpipe/demo-text",
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "128"},
            ],
            "environment": [{"name": k, "value": v} for k, v in environment.items()],
        }
        if log_group:
            properties["logConfiguration"] = {
                "logDriver": "awslogs",
                "options": {"awslogs-group": log_group, "awslogs-stream-prefix": "s1"},
            }
        self.client.register_job_definition(
            jobDefinitionName=self.definition, type="container", containerProperties=properties
        )

    def submit(self, n: int = 1, **extra: Any) -> list[str]:
        return [
            self.client.submit_job(
                jobName=f"{self.definition}-drain",
                jobQueue=self.queue,
                jobDefinition=self.definition,
                **extra,
            )["jobId"]
            for _ in range(n)
        ]

    def jobs(self, ids: list[str]) -> list[dict[str, Any]]:
        return list(self.client.describe_jobs(jobs=ids)["jobs"])

    def desired(self, name: str) -> int:
        found = self.client.describe_compute_environments(computeEnvironments=[name])
        return int(found["computeEnvironments"][0]["computeResources"]["desiredvCpus"])

    def wait(self, ids: list[str], statuses: tuple[str, ...], timeout: float = 60) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs(ids)
            if all(j["status"] in statuses for j in jobs) or time.monotonic() > deadline:
                return jobs
            time.sleep(0.05)


@pytest.fixture
def batch(sandbox: Sandbox, prepared: Any) -> Iterator[Batch]:
    ctx = prepared
    ec2 = ctx.client("ec2")
    profile = ctx.client("iam").get_instance_profile(InstanceProfileName="ecsInstanceRole")
    yield Batch(
        ctx=ctx,
        pipeline=f"b{uuid.uuid4().hex[:6]}",
        subnets=[s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]],
        security_group=ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"],
        instance_role=profile["InstanceProfile"]["Arn"],
    )


def runner_environment(ctx: Any, pipeline: str, files: dict[str, bytes], op: str) -> dict[str, str]:
    """Buckets and a queue holding S3 records of `files`, and the runner's environment to drain
    it with the demo transform (as the step's task definition would give it)."""
    s3, sqs = ctx.client("s3"), ctx.client("sqs")
    source, target = f"{pipeline}-in", f"{pipeline}-out"
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    url = sqs.create_queue(QueueName=f"{pipeline}-s1")["QueueUrl"]
    for key, body in files.items():
        s3.put_object(Bucket=source, Key=key, Body=body)
        record = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": source}}}
        record["s3"]["object"] = {"key": key}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [record]}))
    return {
        "YUNPIPE_QUEUE_URL": url,
        "YUNPIPE_OUTPUT_BUCKET": target,
        "YUNPIPE_ALGORITHM": "demo-upper",
        "YUNPIPE_RUN_COMMAND": f"{flow.TRANSFORM} {op} $input $output",
        "YUNPIPE_INPUT_PATH": "/data/input/",
        "YUNPIPE_OUTPUT_PATH": "/data/output/",
        "YUNPIPE_TIMEOUT_SECONDS": "60",
    }


def test_jobs_run_the_runner_within_max_vcpus_and_capacity_returns_to_zero(
    sandbox: Sandbox, batch: Batch
) -> None:
    files = {f"in/{i}.txt": f"file {i}\n".encode() for i in range(6)}
    env = runner_environment(batch.ctx, batch.pipeline, files, "upper")
    environment = batch.environment(max_vcpus=2)
    batch.job_queue()
    batch.job_definition(env, log_group=f"/yunpipe/{batch.pipeline}")
    batch.ctx.client("logs").create_log_group(logGroupName=f"/yunpipe/{batch.pipeline}")
    assert batch.desired(environment) == 0

    seen: dict[str, list[str]] = {}
    most, desired = 0, [0]
    done = threading.Event()
    ids: list[str] = []

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            ours = [j for j in sandbox.local_jobs() if j["queue"] == batch.queue]
            most = max(most, len(ours))
            if ids:
                for job in batch.jobs(list(ids)):
                    states = seen.setdefault(job["jobId"], [])
                    if not states or states[-1] != job["status"]:
                        states.append(job["status"])
            value = batch.desired(environment)
            if value != desired[-1]:
                desired.append(value)
            time.sleep(0.03)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        ids.extend(batch.submit(4))
        jobs = batch.wait(ids, DONE)
        deadline = time.monotonic() + 30
        while desired[-1] != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        done.set()
        watcher.join(timeout=5)

    assert [j["status"] for j in jobs] == ["SUCCEEDED"] * 4, jobs
    for job in jobs:
        assert job["statusReason"] == "Essential container in task exited"
        assert job["container"]["exitCode"] == 0
        assert job["startedAt"] <= job["stoppedAt"]
        names = {e["name"]: e["value"] for e in job["container"]["environment"]}
        assert names["AWS_BATCH_JOB_ID"] == job["jobId"]
        states = seen[job["jobId"]]
        assert states == sorted(states, key=ORDER.index), states  # never a step back
        assert states[-1] == "SUCCEEDED"
    assert any("RUNNING" in states for states in seen.values()), seen
    # 1 vCPU a job, maxvCpus 2: never more than two at once.
    assert 1 <= most <= 2, most
    assert max(desired) == 2 and desired[-1] == 0, desired
    out = batch.ctx.client("s3")
    for key, body in files.items():
        result = flow.result_name("demo-upper", key)
        got = out.get_object(Bucket=f"{batch.pipeline}-out", Key=result)["Body"].read()
        assert got == body.upper()
    # The runner's output is in the job definition's log group, under the job's stream.
    stream = jobs[0]["container"]["logStreamName"]
    assert stream == f"s1/default/{jobs[0]['jobId']}"
    events = batch.ctx.client("logs").get_log_events(
        logGroupName=f"/yunpipe/{batch.pipeline}", logStreamName=stream
    )["events"]
    assert events


def test_the_job_gets_batch_variables_and_its_overrides(sandbox: Sandbox, batch: Batch) -> None:
    env = runner_environment(batch.ctx, batch.pipeline, {}, "upper")
    batch.environment()
    batch.job_queue()
    batch.job_definition({**env, "YUNPIPE_ALGORITHM": "from-definition"})
    # The runner fails to start on a command that cannot be split: the override reached it.
    [job_id] = batch.submit(
        containerOverrides={
            "environment": [{"name": "YUNPIPE_RUN_COMMAND", "value": "unbalanced 'quote"}]
        }
    )
    [job] = batch.wait([job_id], DONE)
    assert job["status"] == "FAILED", job
    assert job["statusReason"] == "Essential container in task exited"
    assert job["container"]["exitCode"] != 0
    # Without awslogs in the job definition: Batch's default group, `<definition>/default/<id>`.
    stream = job["container"]["logStreamName"]
    assert stream == f"{batch.definition}/default/{job_id}"
    logs = batch.ctx.client("logs")
    events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)["events"]
    assert any("YUNPIPE_RUN_COMMAND" in e["message"] for e in events), events
    names = [e["name"] for e in job["container"]["environment"]]
    assert names.count("AWS_BATCH_JOB_ID") == 1  # describing again does not grow it
    [again] = batch.jobs([job_id])
    assert again["container"]["environment"] == job["container"]["environment"]
    moto_job = sandbox.moto_backend("batch")._jobs[job_id]
    given = job_environment(moto_job, "yunpipe-x-ondemand")
    assert given["YUNPIPE_RUN_COMMAND"] == "unbalanced 'quote"
    assert given["YUNPIPE_ALGORITHM"] == "from-definition"
    assert given["AWS_BATCH_JQ_NAME"] == batch.queue
    assert given["AWS_BATCH_CE_NAME"] == "yunpipe-x-ondemand"
    assert given["AWS_BATCH_JOB_ID"] == job_id


def test_a_job_over_its_timeout_or_terminated_fails_with_the_reason(
    sandbox: Sandbox, batch: Batch
) -> None:
    files = {f"slow/{i}.txt": b"slow\n" for i in range(2)}
    env = runner_environment(batch.ctx, batch.pipeline, files, "slow")  # 5 s a file
    batch.environment()
    batch.job_queue()
    batch.job_definition(env)
    [timed] = batch.submit(timeout={"attemptDurationSeconds": 1})
    [terminated] = batch.submit()
    running = batch.wait([terminated], ("RUNNING", *DONE))
    assert running[0]["status"] == "RUNNING"
    batch.client.terminate_job(jobId=terminated, reason="stopped by the test")
    jobs = {j["jobId"]: j for j in batch.wait([timed, terminated], DONE)}
    assert jobs[timed]["status"] == "FAILED"
    assert jobs[timed]["statusReason"] == "Job attempt duration exceeded timeout"
    assert jobs[terminated]["status"] == "FAILED"
    assert jobs[terminated]["statusReason"] == "stopped by the test"


def test_a_disabled_queue_or_environment_starts_no_job(sandbox: Sandbox, batch: Batch) -> None:
    env = runner_environment(batch.ctx, batch.pipeline, {}, "upper")
    environment = batch.environment()
    batch.job_queue()
    batch.job_definition(env)
    batch.client.update_compute_environment(computeEnvironment=environment, state="DISABLED")
    [job_id] = batch.submit()
    assert batch.wait([job_id], ("RUNNABLE",))[0]["status"] == "RUNNABLE"
    batch.client.update_job_queue(jobQueue=batch.queue, state="DISABLED")
    batch.client.update_compute_environment(computeEnvironment=environment, state="ENABLED")
    with pytest.raises(ClientError, match="accepts no new jobs"):
        batch.submit()
    # Many loop ticks and instance boots later, nothing was placed or launched.
    started = sandbox.activity.snapshot()["jobs_started"]
    time.sleep(5 * (sandbox.timings.poll + sandbox.timings.batch_boot))
    assert batch.jobs([job_id])[0]["status"] == "RUNNABLE"
    assert batch.desired(environment) == 0
    assert sandbox.activity.snapshot()["jobs_started"] == started
    batch.client.update_job_queue(jobQueue=batch.queue, state="ENABLED")
    assert batch.wait([job_id], DONE)[0]["status"] == "SUCCEEDED"


def test_the_second_environment_takes_what_the_first_cannot(sandbox: Sandbox, batch: Batch) -> None:
    env = runner_environment(batch.ctx, batch.pipeline, {}, "upper")
    spot = batch.environment("spot", max_vcpus=1)
    ondemand = batch.environment("ondemand", max_vcpus=1)
    batch.job_queue()
    batch.job_definition(env)
    first, second = batch.submit(2)
    jobs = batch.wait([first, second], DONE)
    assert [j["status"] for j in jobs] == ["SUCCEEDED", "SUCCEEDED"]
    ran_on = sandbox._loop.batch.ran_on if sandbox._loop else {}
    # Each environment holds one 1-vCPU job: the first in order takes the first job.
    assert (ran_on[first], ran_on[second]) == (spot, ondemand)


def test_teardown_disables_then_deletes_as_on_aws(sandbox: Sandbox, batch: Batch) -> None:
    env = runner_environment(batch.ctx, batch.pipeline, {}, "upper")
    environment = batch.environment()
    batch.job_queue()
    batch.job_definition(env)
    client = batch.client
    # The service-linked role stands in for a serviceRole, as on AWS.
    described = client.describe_compute_environments(computeEnvironments=[environment])
    assert described["computeEnvironments"][0]["serviceRole"].endswith(
        "/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"
    )
    # Batch's own ECS cluster, named as on AWS; it goes with the environment.
    cluster = described["computeEnvironments"][0]["ecsClusterArn"]
    assert cluster.rsplit("/", 1)[-1].startswith(f"{environment}_Batch_")
    ecs = batch.ctx.client("ecs")
    assert ecs.describe_clusters(clusters=[cluster])["clusters"][0]["status"] == "ACTIVE"
    assert not [c for c in ecs.list_clusters()["clusterArns"] if "/OnDemand_Batch_" in c]
    with pytest.raises(ClientError, match="must be DISABLED"):
        client.delete_job_queue(jobQueue=batch.queue)
    client.update_job_queue(jobQueue=batch.queue, state="DISABLED")
    client.update_compute_environment(computeEnvironment=environment, state="DISABLED")
    with pytest.raises(ClientError, match="used by job queue"):
        client.delete_compute_environment(computeEnvironment=environment)
    client.delete_job_queue(jobQueue=batch.queue)
    client.delete_compute_environment(computeEnvironment=environment)
    for revision in client.describe_job_definitions(jobDefinitionName=batch.definition)[
        "jobDefinitions"
    ]:
        client.deregister_job_definition(jobDefinition=revision["jobDefinitionArn"])
    assert client.describe_job_queues(jobQueues=[batch.queue])["jobQueues"] == []
    left = client.describe_compute_environments(computeEnvironments=[environment])
    assert left["computeEnvironments"] == []
    [gone] = ecs.describe_clusters(clusters=[cluster])["clusters"]
    assert gone["status"] == "INACTIVE"
    active = client.describe_job_definitions(jobDefinitionName=batch.definition, status="ACTIVE")
    assert active["jobDefinitions"] == []


def test_a_bare_job_definition_name_means_its_latest_active_revision(
    sandbox: Sandbox, batch: Batch
) -> None:
    env = runner_environment(batch.ctx, batch.pipeline, {}, "upper")
    batch.environment()
    batch.job_queue()
    batch.job_definition(env)
    batch.job_definition(env)  # revision 2
    client = batch.client
    client.deregister_job_definition(jobDefinition=f"{batch.definition}:2")
    [job_id] = batch.submit()
    assert batch.jobs([job_id])[0]["jobDefinition"].endswith(f"{batch.definition}:1")
    with pytest.raises(ClientError, match="INACTIVE"):
        batch.client.submit_job(
            jobName="old", jobQueue=batch.queue, jobDefinition=f"{batch.definition}:2"
        )
    client.deregister_job_definition(jobDefinition=f"{batch.definition}:1")
    with pytest.raises(ClientError, match="no ACTIVE revision"):
        batch.submit()
    assert batch.wait([job_id], DONE)[0]["status"] == "SUCCEEDED"


def test_update_compute_environment_applies_its_vcpus(sandbox: Sandbox, batch: Batch) -> None:
    environment = batch.environment(max_vcpus=2)
    batch.client.update_compute_environment(
        computeEnvironment=environment, computeResources={"maxvCpus": 16}
    )
    found = batch.client.describe_compute_environments(computeEnvironments=[environment])
    assert found["computeEnvironments"][0]["computeResources"]["maxvCpus"] == 16


def test_a_job_bigger_than_max_vcpus_stays_runnable_and_launches_nothing(
    sandbox: Sandbox, batch: Batch
) -> None:
    env = runner_environment(batch.ctx, batch.pipeline, {}, "upper")
    environment = batch.environment(max_vcpus=2)
    batch.job_queue()
    batch.job_definition(env)
    four = {"resourceRequirements": [{"type": "VCPU", "value": "4"}]}
    [big] = batch.submit(containerOverrides=four)
    [small] = batch.submit()
    # The small job, submitted later, runs; the big one never fits (as on AWS: RUNNABLE).
    assert batch.wait([small], DONE)[0]["status"] == "SUCCEEDED"
    assert batch.jobs([big])[0]["status"] == "RUNNABLE"
    deadline = time.monotonic() + 30
    while batch.desired(environment) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert batch.desired(environment) == 0
    assert batch.jobs([big])[0]["status"] == "RUNNABLE"
    batch.client.cancel_job(jobId=big, reason="does not fit")
    cancelled = batch.wait([big], DONE)[0]
    assert (cancelled["status"], cancelled["statusReason"]) == ("FAILED", "does not fit")


def test_capacity_gives_back_the_oldest_vcpus_first() -> None:
    capacity = Capacity()
    capacity.launch(2, ready=1.0)
    capacity.launch(3, ready=5.0)
    assert (capacity.launched, capacity.usable(now=2.0), capacity.usable(now=5.0)) == (5, 2, 5)
    capacity.release(3)
    assert capacity.launches == [(2, 5.0)]  # what is still booting stays booting
    capacity.release(2)
    assert capacity.launched == 0
