"""A pipeline on AWS Batch built by hand on mock_aws (no deploy engine): its queues, one on-demand
compute environment (plus a Spot one when asked), the job queue and a job definition per step,
as the contract names them; jobs are submitted with the real SubmitJob and moved between states
on moto's own job records (moto would run them through Docker; `jobs_stay_put` stops that, as
the sandbox's executor does)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from tests.monitor.helpers import Built, build_pipeline
from yunpipe_tui import resource_names as names

ACCOUNT, REGION = "123456789012", "us-east-1"


@dataclass
class BatchBuilt:
    built: Built
    definitions: dict[str, str]  # step → job definition ARN


@contextmanager
def jobs_stay_put() -> Iterator[None]:
    """moto's Job is a thread that runs the container through Docker once started: not here."""
    with mock.patch("moto.batch.models.Job.start", lambda self: None):
        yield


def build_batch_pipeline(
    aws: Any,
    pipeline: str = "demo",
    steps: int = 2,
    *,
    max_vcpus: int = 16,
    spot: bool = False,
    instance_types: Sequence[str] = ("optimal",),
    needs: dict[str, tuple[str, str, str | None]] | None = None,
) -> BatchBuilt:
    """Queues as for ECS but no cluster; CEs, the job queue and job definitions instead.
    `needs`: step → (vCPU, MEMORY, GPU or None) of its job definition (default 1, 2048)."""
    built = build_pipeline(aws, pipeline, steps, urls=True)
    aws.client("ecs").delete_cluster(cluster=names.cluster(pipeline))
    iam, ec2, batch = aws.client("iam"), aws.client("ec2"), aws.client("batch")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    trust = '{"Version": "2012-10-17", "Statement": []}'
    role = iam.create_role(RoleName=f"{pipeline}-batch", AssumeRolePolicyDocument=trust)["Role"]
    profile = iam.create_instance_profile(InstanceProfileName=f"{pipeline}-instance")
    order = []
    for place, purchase in enumerate([names.SPOT, names.ON_DEMAND] if spot else [names.ON_DEMAND]):
        name = names.compute_environment(pipeline, purchase)
        batch.create_compute_environment(
            computeEnvironmentName=name,
            type="MANAGED",
            state="ENABLED",
            serviceRole=role["Arn"],  # moto insists on one; yunpipe uses the service-linked role
            computeResources={
                "type": "SPOT" if purchase == names.SPOT else "EC2",
                "minvCpus": 0,
                "desiredvCpus": 0,
                "maxvCpus": max_vcpus,
                "instanceTypes": list(instance_types),
                "subnets": subnets,
                "securityGroupIds": [group],
                "instanceRole": profile["InstanceProfile"]["Arn"],
            },
        )
        order.append({"order": place + 1, "computeEnvironment": name})
    batch.create_job_queue(
        jobQueueName=names.job_queue(pipeline),
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=order,
    )
    definitions = {}
    for s in [names.step_id(i) for i in range(steps)]:
        vcpu, memory, gpu = (needs or {}).get(s, ("1", "2048", None))
        requirements = [{"type": "VCPU", "value": vcpu}, {"type": "MEMORY", "value": memory}]
        if gpu:
            requirements.append({"type": "GPU", "value": gpu})
        definitions[s] = batch.register_job_definition(
            jobDefinitionName=names.job_definition(pipeline, s),
            type="container",
            containerProperties={"image": "alg", "resourceRequirements": requirements},
        )["jobDefinitionArn"]
    aws.counter.reset()
    return BatchBuilt(built=built, definitions=definitions)


def backend() -> Any:
    from moto.batch.models import batch_backends

    return batch_backends[ACCOUNT][REGION]


def submit(
    aws: Any,
    pipeline: str,
    step: str,
    state: str,
    n: int = 1,
    *,
    reason: str | None = None,
    exit_code: int | None = None,
    name: str | None = None,
) -> list[str]:
    """`n` drain jobs of `step` submitted as the dispatcher does, then put in `state` the way
    the sandbox's executor moves them (moto's job record)."""
    ids = []
    for _ in range(n):
        job_id = aws.client("batch").submit_job(
            jobName=name or names.drain_job(pipeline, step),
            jobQueue=names.job_queue(pipeline),
            jobDefinition=names.job_definition(pipeline, step),
        )["jobId"]
        job = backend().get_job_by_id(job_id)
        job.status = state
        if state in ("SUCCEEDED", "FAILED"):
            job.job_stopped = True
            job.job_stopped_reason = reason
            job.exit_code = exit_code
        ids.append(job_id)
    return ids


def set_desired(pipeline: str, purchase: str, desired: int) -> None:
    """The CE's desired vCPUs, as Batch (or the sandbox's executor) scales it."""
    env = backend().get_compute_environment_by_name(names.compute_environment(pipeline, purchase))
    env.compute_resources["desiredvCpus"] = desired
