"""Each step's permission for S3 to invoke its dispatcher, only from the step's input bucket
and the pipeline's account. S3 validates a notification's destination, so the notification
depends on this permission."""

from __future__ import annotations

from yunpipe_tui import pipeline_policies as policies
from yunpipe_tui.deploy.kinds.lambda_permission import LambdaPermission
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout, bucket_key
from yunpipe_tui.deploy.model import Resource


class S3Permission(LambdaPermission):
    name = "s3_permission"
    label = "S3 → Lambda permission"
    statement_id = "yunpipe-s3-invoke"
    scan_rank = 21

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        k = step.prefix
        return [
            Resource(
                k + "s3-permission",
                self.name,
                f"{step.function}/s3",
                step.id,
                step=step.id,
                depends_on=(k + "dispatcher", bucket_key(step.in_bucket)),
                config={
                    "function": step.function,
                    "statement_id": self.statement_id,
                    "principal": "s3.amazonaws.com",
                    "source_arn": policies.bucket_arn(step.in_bucket, layout.region),
                    "source_account": layout.account,
                },
                tags=step.tags,
            )
        ]
