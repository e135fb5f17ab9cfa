"""The reconcile schedule: EventBridge rules that invoke the dispatchers every minute, so files
waiting in a queue get a task even when an S3 event was missed. One rule holds five targets
(EventBridge's limit), so a long sequence gets several rules."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

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
    removed,
    tag_list,
    unless_gone,
)
from yunpipe_tui.deploy.layout import PipelineLayout, schedule_key
from yunpipe_tui.deploy.model import Resource, tags_for

SCHEDULE_EXPRESSION = "rate(1 minute)"


def schedule_rules(ctx: AwsContext, pipeline: str) -> list[str]:
    """This pipeline's reconcile rules (`...-reconcile`, `...-reconcile-2`, ...)."""
    first = names.schedule_rule(pipeline)
    pattern = re.compile(rf"^{re.escape(first)}(-\d+)?$")
    events = ctx.client("events")
    found: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"NamePrefix": first}
        if token:
            kwargs["NextToken"] = token
        page = events.list_rules(**kwargs)
        found += [r["Name"] for r in page.get("Rules", []) if pattern.match(r["Name"])]
        token = page.get("NextToken")
        if not token:
            return found


class ScheduleRule(Kind):
    name = "schedule_rule"
    label = "reconcile schedule"
    sweep_rank = 30
    scan_rank = 60

    def plan_shared(self, layout: PipelineLayout) -> list[Resource]:
        p = layout.pipeline
        return [
            Resource(
                schedule_key(j),
                self.name,
                names.schedule_rule(p, j),
                "shared",
                config={
                    "expression": SCHEDULE_EXPRESSION,
                    "description": f"yunpipe: start tasks for files waiting in {p}'s queues",
                },
                tags=tags_for(p),
            )
            for j in range(layout.rule_count)
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        try:
            rule = ops.ctx.client("events").describe_rule(Name=r.name)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return MISSING, {}
            raise
        same = rule.get("ScheduleExpression") == cfg["expression"] and rule.get("State") == (
            "ENABLED"
        )
        return (CURRENT if same else STALE), {"arn": rule["Arn"]}

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        out = ops.ctx.client("events").put_rule(
            Name=r.name,
            ScheduleExpression=cfg["expression"],
            State="ENABLED",
            Description=cfg["description"],
            Tags=tag_list(r.tags),
        )
        return {"arn": out["RuleArn"]}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        out = ops.ctx.client("events").put_rule(
            Name=r.name,
            ScheduleExpression=cfg["expression"],
            State="ENABLED",
            Description=cfg["description"],
        )
        return {"arn": out["RuleArn"]}

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        events = ctx.client("events")
        targets = unless_gone(lambda: events.list_targets_by_rule(Rule=name)["Targets"])
        if targets is GONE_MARK:
            return False
        if targets:
            events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
        return removed(lambda: events.delete_rule(Name=name))

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        for name in schedule_rules(scope.ctx, scope.pipeline):
            if name not in known:
                yield self.stray(scope, name)

    def leftovers(self, scope: Scope) -> list[str]:
        return [f"schedule rule {name}" for name in schedule_rules(scope.ctx, scope.pipeline)]
