"""Each step's target on its reconcile rule: the rule invokes the step's dispatcher every minute
with a fixed input (`{"yunpipe": "reconcile"}`) so files waiting in the queue get a task."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from yunpipe_tui.aws import AwsContext, error_code
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    GONE_MARK,
    MISSING,
    STALE,
    Kind,
    Ops,
    Scope,
    json_equal,
    unless_gone,
)
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout
from yunpipe_tui.deploy.model import Resource
from yunpipe_tui.errors import AwsError

RECONCILE_INPUT = json.dumps({"yunpipe": "reconcile"})


class ScheduleTarget(Kind):
    """Not taggable: found through its tagged parent, the rule (and removed with it)."""

    name = "schedule_target"
    label = "schedule target"
    scan_rank = 61

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        k = step.prefix
        return [
            Resource(
                k + "schedule-target",
                self.name,
                f"{step.rule}/{step.id}",
                step.id,
                step=step.id,
                depends_on=(k + "schedule-permission", step.rule_key),
                config={
                    "rule": step.rule,
                    "target_id": step.id,
                    "arn": step.function_arn,
                    "input": RECONCILE_INPUT,
                },
                tags=step.tags,
            )
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        try:
            targets = ops.ctx.client("events").list_targets_by_rule(Rule=cfg["rule"])["Targets"]
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return MISSING, {}
            raise
        for t in targets:
            if t.get("Id") == cfg["target_id"]:
                same = t.get("Arn") == cfg["arn"] and json_equal(t.get("Input"), cfg["input"])
                return (CURRENT if same else STALE), {"id": cfg["target_id"]}
        return MISSING, {}

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        out = ops.ctx.client("events").put_targets(
            Rule=cfg["rule"],
            Targets=[{"Id": cfg["target_id"], "Arn": cfg["arn"], "Input": cfg["input"]}],
        )
        if out.get("FailedEntryCount"):
            entry = out["FailedEntries"][0]
            code, message = entry.get("ErrorCode"), entry.get("ErrorMessage")
            raise AwsError(f"PutTargets failed: {code}: {message}")
        return {"id": cfg["target_id"]}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.create(ops, r, cfg)

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        events = ctx.client("events")
        rule, target = params.get("rule", ""), params.get("target_id", "")
        targets = unless_gone(lambda: events.list_targets_by_rule(Rule=rule)["Targets"])
        if targets is GONE_MARK:
            return False
        if not any(t.get("Id") == target for t in targets):
            return False
        events.remove_targets(Rule=rule, Ids=[target])
        return True

    def leftovers(self, scope: Scope) -> list[str]:
        """Targets still on the pipeline's reconcile rules."""
        from yunpipe_tui.deploy.kinds.schedule_rule import schedule_rules

        events = scope.ctx.client("events")
        found: list[str] = []
        for rule in schedule_rules(scope.ctx, scope.pipeline):
            got = unless_gone(partial(events.list_targets_by_rule, Rule=rule))
            if got is GONE_MARK:
                continue
            found += [f"schedule target {rule}/{t['Id']}" for t in got.get("Targets", [])]
        return found
