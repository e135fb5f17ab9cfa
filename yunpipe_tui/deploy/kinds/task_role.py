"""Each step's ECS task role: the container's only AWS access (its own queue and buckets).
No AWS keys ever go into a task definition."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from yunpipe_tui import pipeline_policies as policies
from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_code
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    GONE_MARK,
    MISSING,
    STALE,
    Found,
    Kind,
    Ops,
    Scope,
    json_equal,
    removed,
    tag_list,
    unless_gone,
)
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout
from yunpipe_tui.deploy.model import Resource


class TaskRole(Kind):
    name = "task_role"
    label = "task role"
    sweep_rank = 40
    scan_rank = 30

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        s = step.id
        return [
            Resource(
                step.prefix + "task-role",
                self.name,
                step.role,
                s,
                step=s,
                config={
                    "path": names.ROLE_PATH,
                    "arn": step.role_arn,
                    "trust": policies.ecs_tasks_trust(),
                    "policy_name": policies.TASK_POLICY_NAME,
                    "policy": policies.task_role_policy(
                        queue=step.queue_arn,
                        input_bucket=step.in_bucket,
                        output_bucket=step.out_bucket,
                        region=layout.region,
                        ledger_table=policies.table_arn(
                            layout.region, layout.account, names.ledger_table(layout.pipeline)
                        ),
                        log_group=policies.log_group_arn(
                            layout.region, layout.account, layout.log_group
                        ),
                    ),
                    "description": f"yunpipe {layout.pipeline} step {s}: the container's access",
                },
                tags=step.tags,
            )
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        iam = ops.ctx.client("iam")
        try:
            role = iam.get_role(RoleName=r.name)["Role"]
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                return MISSING, {}
            raise
        outputs = {"arn": role["Arn"]}
        if not json_equal(role.get("AssumeRolePolicyDocument"), cfg["trust"]):
            return STALE, outputs
        try:
            doc = iam.get_role_policy(RoleName=r.name, PolicyName=cfg["policy_name"])
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                return STALE, outputs
            raise
        same = json_equal(doc.get("PolicyDocument"), cfg["policy"])
        return (CURRENT if same else STALE), outputs

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        iam = ops.ctx.client("iam")
        try:
            role = iam.create_role(
                Path=cfg["path"],
                RoleName=r.name,
                AssumeRolePolicyDocument=json.dumps(cfg["trust"]),
                Description=cfg["description"],
                Tags=tag_list(r.tags),
            )["Role"]
        except Exception as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            role = iam.get_role(RoleName=r.name)["Role"]
        iam.put_role_policy(
            RoleName=r.name, PolicyName=cfg["policy_name"], PolicyDocument=json.dumps(cfg["policy"])
        )
        return {"arn": role["Arn"]}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        iam = ops.ctx.client("iam")
        iam.update_assume_role_policy(RoleName=r.name, PolicyDocument=json.dumps(cfg["trust"]))
        iam.put_role_policy(
            RoleName=r.name, PolicyName=cfg["policy_name"], PolicyDocument=json.dumps(cfg["policy"])
        )
        return {}

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        iam = ctx.client("iam")
        inline = unless_gone(lambda: iam.list_role_policies(RoleName=name)["PolicyNames"])
        if inline is GONE_MARK:
            return False
        for policy in inline:
            removed(partial(iam.delete_role_policy, RoleName=name, PolicyName=policy))
        for att in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
            iam.detach_role_policy(RoleName=name, PolicyArn=att["PolicyArn"])
        return removed(lambda: iam.delete_role(RoleName=name))

    def _roles(self, scope: Scope) -> Iterator[str]:
        iam = scope.ctx.client("iam")
        for page in iam.get_paginator("list_roles").paginate(PathPrefix=names.ROLE_PATH):
            for role in page.get("Roles", []):
                if scope.pattern.match(role["RoleName"]):
                    yield role["RoleName"]

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        for name in self._roles(scope):
            if name not in known:
                yield self.stray(scope, name)

    def leftovers(self, scope: Scope) -> list[str]:
        return [f"role {name}" for name in self._roles(scope)]
