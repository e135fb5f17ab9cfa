"""Each step's ECS task definition: the algorithm's container, its task role, its environment
(the queue to drain, where results go) and its logging. Changes are detected through a hash of
the wanted definition kept in a tag (`yunpipe:spec`); an update registers a new revision and
retires the old one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from yunpipe_tui import ledger
from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_code, error_message
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    MISSING,
    STALE,
    Found,
    Kind,
    Ops,
    Scope,
    removed,
    tag_list,
)
from yunpipe_tui.deploy.kinds.queue import MAX_RECEIVE_COUNT
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout
from yunpipe_tui.deploy.model import Resource
from yunpipe_tui.state.scan import task_definition_families, task_definitions

CONTAINER_NAME = "algorithm"
SPEC_TAG = "yunpipe:spec"
IDLE_SECONDS = 60
WAIT_SECONDS = 20


def ledger_environment(layout: PipelineLayout, step: StepLayout) -> dict[str, str]:
    """What the runner needs to keep the file ledger (issue 12): the table, the log group of
    the per-file streams, its step and the next, the last receive, and the instance type and
    its on-demand price (for the estimated cost)."""
    index = layout.step_ids.index(step.id)
    following = layout.step_ids[index + 1] if index + 1 < len(layout.step_ids) else ""
    price = ledger.price_per_hour(step.instance_type)
    return {
        "YUNPIPE_LEDGER_TABLE": names.ledger_table(layout.pipeline),
        "YUNPIPE_FILE_LOG_GROUP": layout.log_group,
        "YUNPIPE_STEP": step.id,
        "YUNPIPE_NEXT_STEP": following,
        "YUNPIPE_MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
        "YUNPIPE_INSTANCE_TYPE": step.instance_type,
        "YUNPIPE_INSTANCE_PRICE": "" if price is None else repr(price),
    }


def spec_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:32]


def runner_environment(layout: PipelineLayout, step: StepLayout) -> list[dict[str, str]]:
    """The container environment the runner (assets/runner.py) reads, sorted by name: the
    step's own variables, then the queue to drain, where results go, the command, the ledger.
    The ECS task definition and the Batch job definition both carry exactly this."""
    algorithm, region = step.algorithm, layout.region
    env = dict(step.step.variables)
    env.update(
        {
            "YUNPIPE_QUEUE_URL": "${" + step.prefix + "queue:url}",
            "YUNPIPE_OUTPUT_BUCKET": step.out_bucket,
            "YUNPIPE_ALGORITHM": algorithm.name,
            "YUNPIPE_RUN_COMMAND": algorithm.run_command,
            "YUNPIPE_INPUT_PATH": algorithm.input_file_path,
            "YUNPIPE_OUTPUT_PATH": algorithm.output_file_path,
            "YUNPIPE_TIMEOUT_SECONDS": str(algorithm.timeout_seconds),
            "YUNPIPE_IDLE_SECONDS": str(IDLE_SECONDS),
            "YUNPIPE_WAIT_SECONDS": str(WAIT_SECONDS),
            "YUNPIPE_ENDPOINT_URL": layout.facts.endpoint_url,
            **ledger_environment(layout, step),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }
    )
    return [{"name": n, "value": env[n]} for n in sorted(env)]


def awslogs(layout: PipelineLayout, step: StepLayout) -> dict[str, Any]:
    """The awslogs driver into the pipeline's log group, one stream prefix per step."""
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": layout.log_group,
            "awslogs-region": layout.region,
            "awslogs-stream-prefix": step.id,
        },
    }


class TaskDefinition(Kind):
    name = "task_definition"
    label = "task definition"
    sweep_rank = 45
    scan_rank = 40

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        if layout.batch:
            return []
        s, k, algorithm = step.id, step.prefix, step.algorithm
        wanted = {(port.port, port.protocol) for port in step.step.ports}
        port_mappings = [
            {"containerPort": port.port, "hostPort": port.port, "protocol": port.protocol}
            for port in algorithm.ports
            if (port.port, port.protocol) in wanted
        ]
        container: dict[str, Any] = {
            "name": CONTAINER_NAME,
            "image": algorithm.run_image,
            "essential": True,
            "memory": step.memory,
            "cpu": step.units,
            "environment": runner_environment(layout, step),
            "portMappings": port_mappings,
            "logConfiguration": awslogs(layout, step),
        }
        if algorithm.gpu:
            # ECS pins this many of the GPU instance's GPUs to the container.
            container["resourceRequirements"] = [{"type": "GPU", "value": str(algorithm.gpu)}]
        if algorithm.memory_minimal and algorithm.memory_minimal <= step.memory:
            container["memoryReservation"] = algorithm.memory_minimal
        return [
            Resource(
                k + "task-definition",
                self.name,
                step.family,
                s,
                step=s,
                depends_on=(k + "task-role", k + "queue", "shared/log-group"),
                config={
                    "family": step.family,
                    "taskRoleArn": step.role_arn,
                    "networkMode": "bridge",
                    "requiresCompatibilities": ["EC2"],
                    "containerDefinitions": [container],
                },
                tags=step.tags,
            )
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        try:
            out = ops.ctx.client("ecs").describe_task_definition(
                taskDefinition=r.name, include=["TAGS"]
            )
        except Exception as exc:
            if error_code(exc) in ("ClientException", "ResourceNotFoundException"):
                return MISSING, {}
            raise
        td = out["taskDefinition"]
        outputs = {"arn": td["taskDefinitionArn"], "revision": td.get("revision")}
        if td.get("status") != "ACTIVE":
            return MISSING, {}
        tags = {t["key"]: t["value"] for t in out.get("tags", [])}
        same = tags.get(SPEC_TAG) == spec_hash(cfg)
        return (CURRENT if same else STALE), outputs

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        ecs = ops.ctx.client("ecs")
        tags = {**r.tags, SPEC_TAG: spec_hash(cfg)}
        out = ecs.register_task_definition(**cfg, tags=tag_list(tags, "key", "value"))
        td = out["taskDefinition"]
        return {"arn": td["taskDefinitionArn"], "revision": td.get("revision")}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        old = (outputs or {}).get("arn")
        new = self.create(ops, r, cfg)
        if old and old != new["arn"]:
            try:
                ops.ctx.client("ecs").deregister_task_definition(taskDefinition=old)
            except Exception as exc:  # the new revision is what matters; report, go on
                ops.warn(f"could not retire {old}: {error_message(exc)}")
        return new

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        """Every active revision of the family."""
        ecs = ctx.client("ecs")
        arns: list[str] = []
        for page in ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix=name, status="ACTIVE"
        ):
            arns += [
                a for a in page["taskDefinitionArns"] if a.split("/")[-1].split(":")[0] == name
            ]
        for arn in arns:
            removed(partial(ecs.deregister_task_definition, taskDefinition=arn))
        return bool(arns)

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        for family in task_definition_families(scope.ctx, scope.pipeline):
            if family not in known:
                yield self.stray(scope, family)

    def leftovers(self, scope: Scope) -> list[str]:
        # ListTaskDefinitions(familyPrefix=) matches a whole family name, not a prefix: the
        # families are listed by real prefix first (state.scan), then their revisions.
        return [
            f"task definition {arn.split('/')[-1]}"
            for arn in task_definitions(scope.ctx, scope.pipeline)
        ]
