"""Each step's entry in its input bucket's notification configuration: ObjectCreated → the
step's dispatcher. Merged with the user's own entries and other pipelines' (they stay, on deploy
and on teardown), checked after writing and retried on a lost update (`bucket_config`).

Real S3 validates the destination and may not see a fresh Lambda permission yet ("Unable to
validate the following destination configurations"): that error alone is retried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_message
from yunpipe_tui.deploy import bucket_config
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    GONE_MARK,
    MISSING,
    STALE,
    Kind,
    Ops,
    Scope,
    unless_gone,
)
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout, bucket_key
from yunpipe_tui.deploy.model import Resource

DESTINATION_INVALID = "Unable to validate the following destination configurations"
_configuration = bucket_config.writable


class Notification(Kind):
    name = "notification"
    label = "bucket notification"
    scan_rank = 110

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        k, entry_id = step.prefix, names.base(layout.pipeline, step.id)
        return [
            Resource(
                k + "notification",
                self.name,
                f"{step.in_bucket}/{entry_id}",
                step.id,
                step=step.id,
                depends_on=(k + "s3-permission", bucket_key(step.in_bucket)),
                config={
                    "bucket": step.in_bucket,
                    "id": entry_id,
                    "function_arn": step.function_arn,
                    "events": ["s3:ObjectCreated:*"],
                },
                tags=step.tags,
            )
        ]

    @staticmethod
    def _current(ops: Ops, bucket: str) -> dict[str, Any]:
        return _configuration(
            ops.ctx.client("s3").get_bucket_notification_configuration(Bucket=bucket)
        )

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        current = self._current(ops, cfg["bucket"])
        for entry in current.get("LambdaFunctionConfigurations", []):
            if entry.get("Id") == cfg["id"]:
                same = entry.get("LambdaFunctionArn") == cfg["function_arn"] and sorted(
                    entry.get("Events", [])
                ) == sorted(cfg["events"])
                return (CURRENT if same else STALE), {"id": cfg["id"]}
        return MISSING, {}

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        """Merged into the bucket's configuration and checked after writing (bucket_config)."""
        s3 = ops.ctx.client("s3")

        def put(config: dict[str, Any]) -> None:
            ops.retry(
                partial(
                    s3.put_bucket_notification_configuration,
                    Bucket=cfg["bucket"],
                    NotificationConfiguration=config,
                ),
                lambda exc: DESTINATION_INVALID in error_message(exc),
                attempts=6,
                first=1.0,
                cap=8.0,
            )

        entry = {"LambdaFunctionArn": cfg["function_arn"], "Events": list(cfg["events"])}
        bucket_config.set_entry(ops.ctx, cfg["bucket"], cfg["id"], entry, put=put)
        return {"id": cfg["id"]}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.create(ops, r, cfg)

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        """Our entry only; the user's entries stay (merged and checked, as on create)."""
        bucket, our_id = params.get("bucket", ""), params.get("id", "")
        s3 = ctx.client("s3")
        got = unless_gone(lambda: s3.get_bucket_notification_configuration(Bucket=bucket))
        if got is GONE_MARK:
            return False
        if not any(e.get("Id") == our_id for e in got.get("LambdaFunctionConfigurations", [])):
            return False
        return bucket_config.set_entry(ctx, bucket, our_id, None)

    def leftovers(self, scope: Scope) -> list[str]:
        """Entries of ours still on the pipeline's buckets."""
        s3 = scope.ctx.client("s3")
        ours = re.compile(re.escape(scope.base) + r"-s\d+$")
        found: list[str] = []
        for bucket in scope.buckets:
            got = unless_gone(partial(s3.get_bucket_notification_configuration, Bucket=bucket))
            if got is GONE_MARK:
                continue
            found += [
                f"notification {bucket}/{e['Id']}"
                for e in got.get("LambdaFunctionConfigurations", [])
                if ours.match(e.get("Id", ""))
            ]
        return found

    def sweep_bucket(self, ctx: AwsContext, bucket: str, pipeline: str) -> tuple[bool, list[str]]:
        """Remove this pipeline's entries from `bucket` whatever the journal says: an entry is
        ours when its id is `yunpipe-<p>-s<k>` and it points to the dispatcher of that name.
        Returns (removed any, ids that look like ours but point elsewhere: left alone)."""
        s3 = ctx.client("s3")
        got = unless_gone(lambda: s3.get_bucket_notification_configuration(Bucket=bucket))
        if got is GONE_MARK:
            return False, []
        config = _configuration(got)
        entries = config.get("LambdaFunctionConfigurations", [])
        id_pattern = re.compile(re.escape(names.base(pipeline)) + r"-(s\d+)$")
        mine, odd = [], []
        for e in entries:
            m = id_pattern.match(e.get("Id", ""))
            if not m:
                continue
            function = str(e.get("LambdaFunctionArn", "")).rsplit(":", 1)[-1]
            if function == names.dispatcher(pipeline, m.group(1)):
                mine.append(e)
            else:
                odd.append(str(e.get("Id")))
        if not mine:
            return False, odd
        keep = [e for e in entries if e not in mine]
        if keep:
            config["LambdaFunctionConfigurations"] = keep
        else:
            config.pop("LambdaFunctionConfigurations", None)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
        return True, odd
