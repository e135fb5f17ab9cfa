"""The pipeline's CloudWatch log group, where every step's containers log.

The leftover scan also reports the dispatchers' own Lambda log groups here (`/aws/lambda/...`):
Lambda creates them when a function runs, and the dispatcher kind deletes them with the function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_code
from yunpipe_tui.deploy.kinds.base import CURRENT, LATE, MISSING, STALE, Kind, Ops, Scope, removed
from yunpipe_tui.deploy.layout import PipelineLayout
from yunpipe_tui.deploy.model import Resource, tags_for

LOG_RETENTION_DAYS = 30


class LogGroup(Kind):
    name = "log_group"
    label = "log group"
    teardown_stage = LATE
    scan_rank = 70

    def plan_shared(self, layout: PipelineLayout) -> list[Resource]:
        return [
            Resource(
                "shared/log-group",
                self.name,
                layout.log_group,
                "shared",
                config={"retention_days": LOG_RETENTION_DAYS},
                tags=tags_for(layout.pipeline),
            )
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        logs = ops.ctx.client("logs")
        for g in logs.describe_log_groups(logGroupNamePrefix=r.name).get("logGroups", []):
            if g["logGroupName"] == r.name:
                same = g.get("retentionInDays") == cfg["retention_days"]
                return (CURRENT if same else STALE), {"arn": g.get("arn", "")}
        return MISSING, {}

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        logs = ops.ctx.client("logs")
        try:
            logs.create_log_group(logGroupName=r.name, tags=dict(r.tags))
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        return self.update(ops, r, cfg)

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        ops.ctx.client("logs").put_retention_policy(
            logGroupName=r.name, retentionInDays=cfg["retention_days"]
        )
        return {}

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        return removed(lambda: ctx.client("logs").delete_log_group(logGroupName=name))

    def leftovers(self, scope: Scope) -> list[str]:
        logs = scope.ctx.client("logs")
        own = names.log_group(scope.pipeline)
        groups = logs.describe_log_groups(logGroupNamePrefix=own)
        found = [
            f"log group {g['logGroupName']}"
            for g in groups.get("logGroups", [])
            if g["logGroupName"] == own
        ]
        lambda_groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{scope.base}-")
        found += [
            f"log group {g['logGroupName']}"
            for g in lambda_groups.get("logGroups", [])
            if scope.pattern.match(g["logGroupName"].rsplit("/", 1)[-1])
        ]
        return found
