"""The plan: every AWS resource of a pipeline, with its name, tags, dependencies and desired
configuration. Pure: no AWS calls. `yunpipe_tui.deploy` applies it; `--dry-run` prints it.

Values that only exist once a dependency exists (a queue's URL) are written as references
`${KEY:ATTR}` (e.g. `${s1/queue:url}`); the engine resolves them from the dependency's outputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yunpipe_tui import pipeline_policies as policies
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Algorithm
from yunpipe_tui.errors import InputError, Problem
from yunpipe_tui.workflow import SEQUENCE_RUN, Workflow

CONTAINER_NAME = "algorithm"
MAX_RECEIVE_COUNT = 3
LAMBDA_RUNTIME = "python3.12"
LAMBDA_HANDLER = "dispatcher.handler"
LAMBDA_TIMEOUT = 60
LAMBDA_MEMORY = 128
LOG_RETENTION_DAYS = 30
SCHEDULE_EXPRESSION = "rate(1 minute)"
# Steps are numbered s1..s99 (names stay within AWS's 64-character limits); reconcile rules hold
# five targets each (EventBridge's limit), so a long sequence gets several rules.
MAX_STEPS = 99
RECONCILE_INPUT = json.dumps({"yunpipe": "reconcile"})
IDLE_SECONDS = 60
WAIT_SECONDS = 20
MAX_TASKS = 10
FORBIDDEN_VARIABLES = frozenset(
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}
)
_REF = re.compile(r"\$\{([^}:]+):([^}]+)\}")

# Resource kinds, in the order teardown deletes them backwards.
KINDS = (
    "bucket",
    "cluster",
    "log_group",
    "schedule_rule",
    "task_role",
    "dlq",
    "queue",
    "task_definition",
    "dispatcher",
    "s3_permission",
    "notification",
    "schedule_permission",
    "schedule_target",
)
KIND_LABELS = {
    "bucket": "S3 bucket",
    "cluster": "ECS cluster",
    "log_group": "log group",
    "schedule_rule": "reconcile schedule",
    "task_role": "task role",
    "dlq": "dead-letter queue",
    "queue": "work queue",
    "task_definition": "task definition",
    "dispatcher": "dispatcher Lambda",
    "s3_permission": "S3 → Lambda permission",
    "notification": "bucket notification",
    "schedule_permission": "schedule → Lambda permission",
    "schedule_target": "schedule target",
}


@dataclass(frozen=True)
class AccountFacts:
    """What the plan needs to know about the account; gathered by `preflight.account_facts`."""

    account_id: str
    region: str
    ami_id: str = ""
    subnet_ids: tuple[str, ...] = ()
    security_group_id: str = ""
    lambda_role_arn: str = ""  # the real ARN of lambda_exec_role (it may have a path)
    endpoint_url: str = ""  # non-empty only against an emulated AWS (the sandbox)

    @property
    def dispatcher_role_arn(self) -> str:
        return self.lambda_role_arn or policies.role_arn(
            self.account_id, names.LAMBDA_EXEC_ROLE, region=self.region
        )


@dataclass(frozen=True)
class Resource:
    key: str
    kind: str
    name: str
    group: str
    step: str = ""
    depends_on: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    tags: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return f"{KIND_LABELS.get(self.kind, self.kind)} {self.name}"


@dataclass(frozen=True)
class StepPlan:
    id: str
    algorithm: str
    input_bucket: str
    output_bucket: str
    queue: str
    dead_letter_queue: str
    task_family: str
    task_role: str
    dispatcher: str
    instance_type: str
    memory: int
    cpu_units: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Plan:
    workflow: Workflow
    facts: AccountFacts
    resources: tuple[Resource, ...]
    steps: tuple[StepPlan, ...]

    @property
    def pipeline(self) -> str:
        return self.workflow.name

    @property
    def cluster(self) -> str:
        return names.cluster(self.pipeline)

    @property
    def log_group(self) -> str:
        return names.log_group(self.pipeline)

    @property
    def buckets(self) -> list[Resource]:
        return [r for r in self.resources if r.kind == "bucket"]

    def get(self, key: str) -> Resource:
        for r in self.resources:
            if r.key == key:
                return r
        raise KeyError(key)

    def keys(self) -> list[str]:
        return [r.key for r in self.resources]

    def groups(self) -> list[str]:
        seen: list[str] = []
        for r in self.resources:
            if r.group not in seen:
                seen.append(r.group)
        return seen


def schedule_key(index: int) -> str:
    """Plan key of the index-th reconcile rule (the first keeps its historical key)."""
    return "shared/schedule" + (f"-{index + 1}" if index else "")


def tags_for(pipeline: str, step: str = "") -> dict[str, str]:
    tags = {names.TAG_PIPELINE: pipeline, names.TAG_MANAGED: "true"}
    if step:
        tags[names.TAG_STEP] = step
    return tags


def cpu_units(algorithm: Algorithm) -> int:
    """The seed's `CPU` counts vCPUs; ECS counts units of 1/1024 vCPU."""
    if not algorithm.cpu:
        return 0
    return round(algorithm.cpu * 1024)


def visibility_timeout(algorithm: Algorithm) -> int:
    """Long enough for one run plus download/upload, within SQS's 12-hour limit."""
    return max(60, min(43200, int(algorithm.timeout_seconds) + 300))


def references(value: Any) -> list[tuple[str, str]]:
    """Every `${KEY:ATTR}` inside a (nested) configuration value."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        found.extend(_REF.findall(value))
    elif isinstance(value, Mapping):
        for v in value.values():
            found.extend(references(v))
    elif isinstance(value, list | tuple):
        for v in value:
            found.extend(references(v))
    return found


class Unresolved(Exception):
    """A reference whose resource has no output yet (dry-run before the resource exists)."""


def resolve(value: Any, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    """Replace references with dependency outputs; raise Unresolved when one is missing."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            got = outputs.get(match.group(1), {}).get(match.group(2))
            if got is None:
                raise Unresolved(match.group(0))
            return str(got)

        return _REF.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: resolve(v, outputs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, outputs) for v in value]
    return value


def _check(workflow: Workflow, algorithms: Mapping[str, Algorithm]) -> None:
    file = workflow.source or workflow.name
    problems = []
    if not workflow.steps:
        problems.append(Problem(file, "the workflow has no algorithm", path="process.algorithms"))
    if len(workflow.steps) > MAX_STEPS:
        problems.append(
            Problem(
                file,
                f"a pipeline holds at most {MAX_STEPS} steps (found {len(workflow.steps)}); "
                "split it into several workflows",
                path="process.algorithms",
            )
        )
    for i, step in enumerate(workflow.steps):
        where = f"process.algorithms[{i}]"
        if step.algorithm not in algorithms:
            problems.append(
                Problem(
                    file,
                    f"algorithm {step.algorithm!r} is not in the catalog; "
                    "register it with `yunpipe wrap -f FILE`",
                    path=f"{where}.name",
                )
            )
        for var in step.variables:
            if var.upper() in FORBIDDEN_VARIABLES:
                problems.append(
                    Problem(
                        file,
                        f"variable {var!r} would put AWS credentials in the task definition; "
                        "remove it (tasks get AWS access from their task role)",
                        path=f"{where}.variables.{var}",
                    )
                )
            elif var.startswith("YUNPIPE_"):
                problems.append(
                    Problem(
                        file,
                        f"variable {var!r} is reserved for yunpipe's runner; rename it",
                        path=f"{where}.variables.{var}",
                    )
                )
    if problems:
        raise InputError(problems)


def build_plan(
    workflow: Workflow, algorithms: Mapping[str, Algorithm], facts: AccountFacts
) -> Plan:
    """Every resource of the pipeline, in an order that respects dependencies."""
    _check(workflow, algorithms)
    p = workflow.name
    region, account = facts.region, facts.account_id
    resources: list[Resource] = []
    steps: list[StepPlan] = []

    # Buckets: input, the intermediates of a sequence, output.
    step_ids = [names.step_id(i) for i in range(len(workflow.steps))]
    chain = [workflow.input_bucket]
    if workflow.type == SEQUENCE_RUN:
        chain += [names.intermediate_bucket(p, s, account) for s in step_ids[:-1]]
    else:
        step_ids = step_ids[:1]
    chain.append(workflow.output_bucket)

    def bucket_key(name: str) -> str:
        return f"bucket/{name}"

    for i, bucket in enumerate(chain):
        role = "input" if i == 0 else "output" if i == len(chain) - 1 else "intermediate"
        resources.append(
            Resource(
                key=bucket_key(bucket),
                kind="bucket",
                name=bucket,
                group="buckets",
                config={"role": role, "region": region},
                tags=tags_for(p, step_ids[i - 1] if role == "intermediate" else ""),
            )
        )

    cluster = names.cluster(p)
    log_group = names.log_group(p)
    resources += [
        Resource("shared/cluster", "cluster", cluster, "shared", tags=tags_for(p)),
        Resource(
            "shared/log-group",
            "log_group",
            log_group,
            "shared",
            config={"retention_days": LOG_RETENTION_DAYS},
            tags=tags_for(p),
        ),
    ]
    rule_count = names.schedule_rule_index(len(step_ids) - 1) + 1 if step_ids else 0
    for j in range(rule_count):
        resources.append(
            Resource(
                schedule_key(j),
                "schedule_rule",
                names.schedule_rule(p, j),
                "shared",
                config={
                    "expression": SCHEDULE_EXPRESSION,
                    "description": f"yunpipe: start tasks for files waiting in {p}'s queues",
                },
                tags=tags_for(p),
            )
        )

    for index, s in enumerate(step_ids):
        step = workflow.steps[index]
        rule = names.schedule_rule(p, names.schedule_rule_index(index))
        rule_key = schedule_key(names.schedule_rule_index(index))
        algorithm = algorithms[step.algorithm]
        in_bucket, out_bucket = chain[index], chain[index + 1]
        tags = tags_for(p, s)
        k = f"{s}/"
        queue, dlq = names.queue(p, s), names.dead_letter_queue(p, s)
        queue_arn = policies.queue_arn(region, account, queue)
        dlq_arn = policies.queue_arn(region, account, dlq)
        role = names.task_role(p, s)
        role_arn = policies.role_arn(account, role, names.ROLE_PATH, region)
        family = names.task_family(p, s)
        function = names.dispatcher(p, s)
        function_arn = policies.function_arn(region, account, function)
        memory = algorithm.memory_mib
        units = cpu_units(algorithm)
        instance_type = algorithm.resolved_instance_type()
        steps.append(
            StepPlan(
                id=s,
                algorithm=algorithm.name,
                input_bucket=in_bucket,
                output_bucket=out_bucket,
                queue=queue,
                dead_letter_queue=dlq,
                task_family=family,
                task_role=role,
                dispatcher=function,
                instance_type=instance_type,
                memory=memory,
                cpu_units=units,
            )
        )
        resources.append(
            Resource(
                k + "task-role",
                "task_role",
                role,
                s,
                step=s,
                config={
                    "path": names.ROLE_PATH,
                    "arn": role_arn,
                    "trust": policies.ecs_tasks_trust(),
                    "policy_name": policies.TASK_POLICY_NAME,
                    "policy": policies.task_role_policy(
                        queue=queue_arn,
                        input_bucket=in_bucket,
                        output_bucket=out_bucket,
                        region=region,
                    ),
                    "description": f"yunpipe {p} step {s}: the container's access",
                },
                tags=tags,
            )
        )
        sse = {"SqsManagedSseEnabled": "true"}
        resources.append(
            Resource(
                k + "dlq",
                "dlq",
                dlq,
                s,
                step=s,
                config={
                    "arn": dlq_arn,
                    "attributes": {
                        **sse,
                        "MessageRetentionPeriod": str(14 * 24 * 3600),
                        "Policy": json.dumps(policies.dead_letter_queue_policy(queue=dlq_arn)),
                    },
                },
                tags=tags,
            )
        )
        resources.append(
            Resource(
                k + "queue",
                "queue",
                queue,
                s,
                step=s,
                depends_on=(k + "dlq", k + "task-role"),
                config={
                    "arn": queue_arn,
                    "attributes": {
                        **sse,
                        "VisibilityTimeout": str(visibility_timeout(algorithm)),
                        "MessageRetentionPeriod": str(4 * 24 * 3600),
                        "RedrivePolicy": json.dumps(
                            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
                        ),
                        "Policy": json.dumps(
                            policies.work_queue_policy(
                                queue=queue_arn,
                                dispatcher_role=facts.dispatcher_role_arn,
                                task_role=role_arn,
                            )
                        ),
                    },
                },
                tags=tags,
            )
        )
        env = dict(step.variables)
        env.update(
            {
                "YUNPIPE_QUEUE_URL": "${" + k + "queue:url}",
                "YUNPIPE_OUTPUT_BUCKET": out_bucket,
                "YUNPIPE_ALGORITHM": algorithm.name,
                "YUNPIPE_RUN_COMMAND": algorithm.run_command,
                "YUNPIPE_INPUT_PATH": algorithm.input_file_path,
                "YUNPIPE_OUTPUT_PATH": algorithm.output_file_path,
                "YUNPIPE_TIMEOUT_SECONDS": str(algorithm.timeout_seconds),
                "YUNPIPE_IDLE_SECONDS": str(IDLE_SECONDS),
                "YUNPIPE_WAIT_SECONDS": str(WAIT_SECONDS),
                "YUNPIPE_ENDPOINT_URL": facts.endpoint_url,
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
            }
        )
        wanted = {(port.port, port.protocol) for port in step.ports}
        port_mappings = [
            {"containerPort": port.port, "hostPort": port.port, "protocol": port.protocol}
            for port in algorithm.ports
            if (port.port, port.protocol) in wanted
        ]
        container: dict[str, Any] = {
            "name": CONTAINER_NAME,
            "image": algorithm.run_image,
            "essential": True,
            "memory": memory,
            "cpu": units,
            "environment": [{"name": n, "value": env[n]} for n in sorted(env)],
            "portMappings": port_mappings,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": s,
                },
            },
        }
        if algorithm.memory_minimal and algorithm.memory_minimal <= memory:
            container["memoryReservation"] = algorithm.memory_minimal
        resources.append(
            Resource(
                k + "task-definition",
                "task_definition",
                family,
                s,
                step=s,
                depends_on=(k + "task-role", k + "queue", "shared/log-group"),
                config={
                    "family": family,
                    "taskRoleArn": role_arn,
                    "networkMode": "bridge",
                    "requiresCompatibilities": ["EC2"],
                    "containerDefinitions": [container],
                },
                tags=tags,
            )
        )
        subnet = facts.subnet_ids[0] if facts.subnet_ids else ""
        lambda_env = {
            "YUNPIPE_PIPELINE": p,
            "YUNPIPE_STEP": s,
            "YUNPIPE_QUEUE_URL": "${" + k + "queue:url}",
            "YUNPIPE_CLUSTER": cluster,
            "YUNPIPE_TASK_DEFINITION": family,
            "YUNPIPE_CONTAINER": CONTAINER_NAME,
            "YUNPIPE_TASK_MEMORY": str(memory),
            "YUNPIPE_TASK_CPU": str(units),
            "YUNPIPE_INSTANCE_TYPE": instance_type,
            "YUNPIPE_AMI_ID": facts.ami_id,
            "YUNPIPE_INSTANCE_PROFILE": names.ECS_INSTANCE_ROLE,
            "YUNPIPE_KEY_PAIR": workflow.key_pair,
            "YUNPIPE_SUBNET_ID": subnet,
            "YUNPIPE_SECURITY_GROUP_ID": facts.security_group_id,
            "YUNPIPE_MAX_TASKS": str(MAX_TASKS),
            "YUNPIPE_ENDPOINT_URL": facts.endpoint_url,
        }
        resources.append(
            Resource(
                k + "dispatcher",
                "dispatcher",
                function,
                s,
                step=s,
                depends_on=(k + "queue", k + "task-definition", "shared/cluster"),
                config={
                    "arn": function_arn,
                    "runtime": LAMBDA_RUNTIME,
                    "handler": LAMBDA_HANDLER,
                    "role": facts.dispatcher_role_arn,
                    "timeout": LAMBDA_TIMEOUT,
                    "memory": LAMBDA_MEMORY,
                    "environment": lambda_env,
                    "description": f"yunpipe {p} step {s}: queue S3 events and start tasks",
                },
                tags=tags,
            )
        )
        resources.append(
            Resource(
                k + "s3-permission",
                "s3_permission",
                f"{function}/s3",
                s,
                step=s,
                depends_on=(k + "dispatcher", bucket_key(in_bucket)),
                config={
                    "function": function,
                    "statement_id": "yunpipe-s3-invoke",
                    "principal": "s3.amazonaws.com",
                    "source_arn": policies.bucket_arn(in_bucket, region),
                    "source_account": account,
                },
                tags=tags,
            )
        )
        resources.append(
            Resource(
                k + "notification",
                "notification",
                f"{in_bucket}/{names.base(p, s)}",
                s,
                step=s,
                depends_on=(k + "s3-permission", bucket_key(in_bucket)),
                config={
                    "bucket": in_bucket,
                    "id": names.base(p, s),
                    "function_arn": function_arn,
                    "events": ["s3:ObjectCreated:*"],
                },
                tags=tags,
            )
        )
        resources.append(
            Resource(
                k + "schedule-permission",
                "schedule_permission",
                f"{function}/events",
                s,
                step=s,
                depends_on=(k + "dispatcher", rule_key),
                config={
                    "function": function,
                    "statement_id": "yunpipe-reconcile-invoke",
                    "principal": "events.amazonaws.com",
                    "source_arn": policies.rule_arn(region, account, rule),
                    "source_account": account,
                },
                tags=tags,
            )
        )
        resources.append(
            Resource(
                k + "schedule-target",
                "schedule_target",
                f"{rule}/{s}",
                s,
                step=s,
                depends_on=(k + "schedule-permission", rule_key),
                config={
                    "rule": rule,
                    "target_id": s,
                    "arn": function_arn,
                    "input": RECONCILE_INPUT,
                },
                tags=tags,
            )
        )
    return Plan(workflow=workflow, facts=facts, resources=tuple(resources), steps=tuple(steps))


def algorithms_for(workflow: Workflow, catalog: Any) -> dict[str, Algorithm]:
    """The catalog entries the workflow names (missing ones are reported by build_plan)."""
    out = {}
    for step in workflow.steps:
        algorithm = catalog.get(step.algorithm)
        if algorithm is not None:
            out[step.algorithm] = algorithm
    return out


def format_tree(plan: Plan, actions: Mapping[str, str] | None = None) -> str:
    """The plan as indented text; `actions` maps keys to create/update/keep (dry-run)."""
    lines = [f"pipeline {plan.pipeline} ({plan.facts.region}, account {plan.facts.account_id})"]
    groups = plan.groups()
    for gi, group in enumerate(groups):
        last_group = gi == len(groups) - 1
        title = {"buckets": "buckets", "shared": "shared"}.get(group, f"step {group}")
        if group.startswith("s") and group[1:].isdigit():
            step = next(st for st in plan.steps if st.id == group)
            title = f"step {group}: {step.algorithm} ({step.instance_type})"
        lines.append(("└── " if last_group else "├── ") + title)
        members = [r for r in plan.resources if r.group == group]
        for ri, r in enumerate(members):
            pad = "    " if last_group else "│   "
            branch = "└── " if ri == len(members) - 1 else "├── "
            action = (actions or {}).get(r.key, "")
            lines.append(f"{pad}{branch}{f'[{action}] ' if action else ''}{r.label}")
    return "\n".join(lines)
