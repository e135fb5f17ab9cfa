"""Each step's SQS work queue: it holds the S3 events of files waiting for the step's container.
Events that fail `MAX_RECEIVE_COUNT` times move to the dead-letter queue (`dlq`, which shares the
SQS code below). The sweep and the leftover scan cover both queues of a step (one name pattern).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from yunpipe_tui import pipeline_policies as policies
from yunpipe_tui.aws import AwsContext, error_code, error_message
from yunpipe_tui.catalog import Algorithm
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
    unless_gone,
)
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout
from yunpipe_tui.deploy.model import Resource

MAX_RECEIVE_COUNT = 3
SSE = {"SqsManagedSseEnabled": "true"}


def visibility_timeout(algorithm: Algorithm) -> int:
    """Long enough for one run plus download/upload, within SQS's 12-hour limit."""
    return max(60, min(43200, int(algorithm.timeout_seconds) + 300))


def _redrive_norm(value: Any) -> Any:
    data = json.loads(value) if isinstance(value, str) else value
    if isinstance(data, dict) and "maxReceiveCount" in data:
        data = {**data, "maxReceiveCount": int(data["maxReceiveCount"])}
    return data


class Queue(Kind):
    name = "queue"
    label = "work queue"
    sweep_rank: ClassVar[int | None] = 20
    scan_rank: ClassVar[int | None] = 10
    suffix: ClassVar[str] = "-queue"  # the scans tell the two SQS kinds apart by it

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        k = step.prefix
        return [
            Resource(
                k + "queue",
                self.name,
                step.queue,
                step.id,
                step=step.id,
                depends_on=(k + "dlq", k + "task-role"),
                config={
                    "arn": step.queue_arn,
                    "attributes": {
                        **SSE,
                        "VisibilityTimeout": str(visibility_timeout(step.algorithm)),
                        "MessageRetentionPeriod": str(4 * 24 * 3600),
                        "RedrivePolicy": json.dumps(
                            {
                                "deadLetterTargetArn": step.dlq_arn,
                                "maxReceiveCount": MAX_RECEIVE_COUNT,
                            }
                        ),
                        "Policy": json.dumps(
                            policies.work_queue_policy(
                                queue=step.queue_arn,
                                dispatcher_role=layout.facts.dispatcher_role_arn,
                                task_role=step.role_arn,
                            )
                        ),
                    },
                },
                tags=step.tags,
            )
        ]

    # SQS (shared with the dead-letter queue)

    @staticmethod
    def _url(ops: Ops, name: str) -> str | None:
        try:
            return str(ops.ctx.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
        except Exception as exc:
            if "NonExistentQueue" in error_code(exc) or error_code(exc) == "QueueDoesNotExist":
                return None
            raise

    @staticmethod
    def _diff(ops: Ops, url: str, wanted: Mapping[str, str]) -> dict[str, str]:
        got = ops.ctx.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        attrs = got.get("Attributes", {})
        changed = {}
        for key, value in wanted.items():
            have = attrs.get(key)
            if key in ("Policy", "RedrivePolicy"):
                if have is None or not json_equal(_redrive_norm(have), _redrive_norm(value)):
                    changed[key] = value
            elif str(have).lower() != str(value).lower():
                changed[key] = value
        return changed

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        url = self._url(ops, r.name)
        if url is None:
            return MISSING, {}
        outputs = {"url": url, "arn": cfg["arn"]}
        changed = self._diff(ops, url, cfg["attributes"])
        return (STALE if changed else CURRENT), outputs

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        sqs = ops.ctx.client("sqs")

        def create() -> Any:
            return sqs.create_queue(
                QueueName=r.name, Attributes=dict(cfg["attributes"]), tags=dict(r.tags)
            )

        def transient(exc: BaseException) -> bool:
            # 60 s after a deletion SQS refuses the name; a role created seconds ago may not
            # be visible to SQS yet as a policy principal ("Invalid value for ... Policy").
            code = error_code(exc)
            return "QueueDeletedRecently" in code or (
                "InvalidAttributeValue" in code and "Policy" in error_message(exc)
            )

        try:
            url = ops.retry(create, transient, attempts=8, first=4.0, cap=15.0)["QueueUrl"]
        except Exception as exc:
            if "QueueAlreadyExists" not in error_code(exc) and "QueueNameExists" not in (
                error_code(exc)
            ):
                raise
            url = self._url(ops, r.name)
            self.update(ops, r, cfg, {"url": url})
        return {"url": url, "arn": cfg["arn"]}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        url: Any = (outputs or {}).get("url") or self._url(ops, r.name)
        changed = self._diff(ops, url, cfg["attributes"])
        if changed:
            ops.ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes=changed)
        return {"url": url, "arn": cfg["arn"]}

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        sqs = ctx.client("sqs")
        url = unless_gone(lambda: sqs.get_queue_url(QueueName=name)["QueueUrl"])
        if url is GONE_MARK:
            return False
        return removed(lambda: sqs.delete_queue(QueueUrl=url))

    # the scans: this kind's queue of every step

    def _names(self, scope: Scope) -> Iterator[str]:
        sqs = scope.ctx.client("sqs")
        pages = sqs.get_paginator("list_queues").paginate(QueueNamePrefix=scope.base + "-")
        for page in pages:
            for url in page.get("QueueUrls", []):
                name = url.rsplit("/", 1)[-1]
                if scope.pattern.match(name) and name.endswith(self.suffix):
                    yield name

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        for name in self._names(scope):
            if name not in known:
                yield self.stray(scope, name)

    def leftovers(self, scope: Scope) -> list[str]:
        return [
            f"{'queue' if self.suffix == '-queue' else 'dead-letter queue'} {name}"
            for name in self._names(scope)
        ]
