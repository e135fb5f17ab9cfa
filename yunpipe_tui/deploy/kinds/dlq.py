"""Each step's dead-letter queue: S3 events its container failed on `MAX_RECEIVE_COUNT` times,
kept 14 days for a look. Deployed, deleted, swept and scanned with the work queue's SQS code."""

from __future__ import annotations

import json

from yunpipe_tui import pipeline_policies as policies
from yunpipe_tui.deploy.kinds.queue import SSE, Queue
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout
from yunpipe_tui.deploy.model import Resource


class DeadLetterQueue(Queue):
    name = "dlq"
    label = "dead-letter queue"
    sweep_rank = 21
    scan_rank = 11
    suffix = "-dlq"

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        return [
            Resource(
                step.prefix + "dlq",
                self.name,
                step.dlq,
                step.id,
                step=step.id,
                config={
                    "arn": step.dlq_arn,
                    "attributes": {
                        **SSE,
                        "MessageRetentionPeriod": str(14 * 24 * 3600),
                        "Policy": json.dumps(policies.dead_letter_queue_policy(queue=step.dlq_arn)),
                    },
                },
                tags=step.tags,
            )
        ]
