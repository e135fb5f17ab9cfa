"""The names and ARNs a pipeline's resources share, worked out once before any kind plans.

Several kinds need the same derived values (a step's queue ARN appears in the task role's policy
and in the queue; the function ARN in the permissions, the notification and the schedule
target). `PipelineLayout` and `StepLayout` compute them in one place, so each kind module only
arranges them into its `Resource`s. Pure: no AWS calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from yunpipe_tui import pipeline_policies as policies
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Algorithm
from yunpipe_tui.deploy.model import AccountFacts, StepPlan, tags_for
from yunpipe_tui.workflow import BATCH, SEQUENCE_RUN, Step, Workflow


def bucket_key(name: str) -> str:
    """Plan key of a bucket."""
    return f"bucket/{name}"


def schedule_key(index: int) -> str:
    """Plan key of the index-th reconcile rule (the first keeps its historical key)."""
    return "shared/schedule" + (f"-{index + 1}" if index else "")


def cpu_units(algorithm: Algorithm) -> int:
    """The seed's `CPU` counts vCPUs; ECS counts units of 1/1024 vCPU."""
    if not algorithm.cpu:
        return 0
    return round(algorithm.cpu * 1024)


def job_vcpus(algorithm: Algorithm) -> int:
    """Batch reserves whole vCPUs per job: the algorithm's `CPU` rounded up, at least one."""
    return max(1, math.ceil(algorithm.cpu or 0))


@dataclass(frozen=True)
class StepLayout:
    """One step's names, ARNs and sizes."""

    index: int
    id: str
    step: Step
    algorithm: Algorithm
    in_bucket: str
    out_bucket: str
    tags: dict[str, str]
    queue: str
    dlq: str
    queue_arn: str
    dlq_arn: str
    role: str
    role_arn: str
    family: str
    function: str
    function_arn: str
    memory: int
    units: int
    instance_type: str
    rule: str
    rule_key: str
    job_definition: str = ""  # the Batch backend's job definition (named like the family)

    @property
    def vcpus(self) -> int:
        """The vCPUs one Batch job of this step reserves."""
        return job_vcpus(self.algorithm)

    @property
    def prefix(self) -> str:
        """What this step's plan keys start with (`s1/`)."""
        return f"{self.id}/"

    def to_step_plan(self) -> StepPlan:
        return StepPlan(
            id=self.id,
            algorithm=self.algorithm.name,
            input_bucket=self.in_bucket,
            output_bucket=self.out_bucket,
            queue=self.queue,
            dead_letter_queue=self.dlq,
            task_family=self.family,
            task_role=self.role,
            dispatcher=self.function,
            instance_type=self.instance_type,
            memory=self.memory,
            cpu_units=self.units,
        )


@dataclass(frozen=True)
class PipelineLayout:
    """The pipeline-wide names: the bucket chain, the steps' ids, cluster, log group, rules."""

    workflow: Workflow
    facts: AccountFacts
    algorithms: Mapping[str, Algorithm]
    chain: tuple[str, ...]  # input, the intermediates of a sequence, output
    step_ids: tuple[str, ...]
    steps: tuple[StepLayout, ...] = field(default=())

    @property
    def pipeline(self) -> str:
        return self.workflow.name

    @property
    def region(self) -> str:
        return self.facts.region

    @property
    def account(self) -> str:
        return self.facts.account_id

    @property
    def cluster(self) -> str:
        return names.cluster(self.pipeline)

    @property
    def batch(self) -> bool:
        """The steps run as AWS Batch jobs (else as ECS tasks on instances of our own)."""
        return self.workflow.compute.backend == BATCH

    @property
    def job_queue(self) -> str:
        return names.job_queue(self.pipeline)

    @property
    def instance_profile_arn(self) -> str:
        """ecsInstanceRole's instance profile, which Batch's instances are launched with."""
        partition = policies.partition(self.region)
        return f"arn:{partition}:iam::{self.account}:instance-profile/{names.ECS_INSTANCE_ROLE}"

    @property
    def log_group(self) -> str:
        return names.log_group(self.pipeline)

    @property
    def rule_count(self) -> int:
        """Reconcile rules hold five targets each (EventBridge's limit)."""
        return names.schedule_rule_index(len(self.step_ids) - 1) + 1 if self.step_ids else 0


def layout_for(
    workflow: Workflow, algorithms: Mapping[str, Algorithm], facts: AccountFacts
) -> PipelineLayout:
    """Every shared name of the pipeline (the workflow is already checked)."""
    p = workflow.name
    region, account = facts.region, facts.account_id
    step_ids = [names.step_id(i) for i in range(len(workflow.steps))]
    chain = [workflow.input_bucket]
    if workflow.type == SEQUENCE_RUN:
        chain += [names.intermediate_bucket(p, s, account) for s in step_ids[:-1]]
    else:
        step_ids = step_ids[:1]
    chain.append(workflow.output_bucket)
    steps = []
    for index, s in enumerate(step_ids):
        step = workflow.steps[index]
        algorithm = algorithms[step.algorithm]
        queue, dlq = names.queue(p, s), names.dead_letter_queue(p, s)
        role = names.task_role(p, s)
        function = names.dispatcher(p, s)
        rule_index = names.schedule_rule_index(index)
        steps.append(
            StepLayout(
                index=index,
                id=s,
                step=step,
                algorithm=algorithm,
                in_bucket=chain[index],
                out_bucket=chain[index + 1],
                tags=tags_for(p, s),
                queue=queue,
                dlq=dlq,
                queue_arn=policies.queue_arn(region, account, queue),
                dlq_arn=policies.queue_arn(region, account, dlq),
                role=role,
                role_arn=policies.role_arn(account, role, names.ROLE_PATH, region),
                family=names.task_family(p, s),
                function=function,
                function_arn=policies.function_arn(region, account, function),
                memory=algorithm.memory_mib,
                units=cpu_units(algorithm),
                instance_type=algorithm.resolved_instance_type(),
                rule=names.schedule_rule(p, rule_index),
                rule_key=schedule_key(rule_index),
                job_definition=names.job_definition(p, s),
            )
        )
    return PipelineLayout(
        workflow=workflow,
        facts=facts,
        algorithms=algorithms,
        chain=tuple(chain),
        step_ids=tuple(step_ids),
        steps=tuple(steps),
    )
