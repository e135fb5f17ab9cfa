"""Each step's permission for its reconcile rule (EventBridge) to invoke its dispatcher."""

from __future__ import annotations

from yunpipe_tui import pipeline_policies as policies
from yunpipe_tui.deploy.kinds.lambda_permission import LambdaPermission
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout
from yunpipe_tui.deploy.model import Resource


class SchedulePermission(LambdaPermission):
    name = "schedule_permission"
    label = "schedule → Lambda permission"
    statement_id = "yunpipe-reconcile-invoke"
    scan_rank = 22

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        k = step.prefix
        return [
            Resource(
                k + "schedule-permission",
                self.name,
                f"{step.function}/events",
                step.id,
                step=step.id,
                depends_on=(k + "dispatcher", step.rule_key),
                config={
                    "function": step.function,
                    "statement_id": self.statement_id,
                    "principal": "events.amazonaws.com",
                    "source_arn": policies.rule_arn(layout.region, layout.account, step.rule),
                    "source_account": layout.account,
                },
                tags=step.tags,
            )
        ]
