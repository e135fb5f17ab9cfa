"""The Batch backend's job queue, one per pipeline: every step's dispatcher submits its drain
jobs here (named per step, `names.drain_job`), and Batch places them on the Spot compute
environment first, the on-demand one when Spot has no capacity.

Changes (the environments' order, the priority) are found through the `yunpipe:spec` tag and
made in place with UpdateJobQueue. Teardown removes it early, before its compute environments
(which cannot go while a queue names them): disable, wait, delete, wait until gone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    EARLY,
    MISSING,
    STALE,
    Found,
    Kind,
    Ops,
    Scope,
)
from yunpipe_tui.deploy.kinds.batch_states import (
    QUEUE,
    SPEC_TAG,
    belongs,
    describe,
    disable_then_delete,
    queues,
    settled,
    tags_of,
    valid,
    wait_until,
)
from yunpipe_tui.deploy.kinds.compute_environment import environment_key, purchases
from yunpipe_tui.deploy.kinds.task_definition import spec_hash
from yunpipe_tui.deploy.layout import PipelineLayout
from yunpipe_tui.deploy.model import Resource, tags_for

JOB_QUEUE_KEY = "shared/job-queue"
PRIORITY = 1


class JobQueue(Kind):
    name = "job_queue"
    label = "job queue"
    teardown_stage = EARLY  # before the compute environments (LATE)
    sweep_rank = 48  # before the compute environments' sweep
    scan_rank = 51

    def plan_shared(self, layout: PipelineLayout) -> list[Resource]:
        if not layout.batch:
            return []
        keys = [environment_key(p) for p in purchases(layout)]
        order = [
            {"order": i + 1, "computeEnvironment": "${" + key + ":arn}"}
            for i, key in enumerate(keys)
        ]
        return [
            Resource(
                JOB_QUEUE_KEY,
                self.name,
                layout.job_queue,
                "shared",
                depends_on=tuple(keys),
                config={
                    "jobQueueName": layout.job_queue,
                    "state": "ENABLED",
                    "priority": PRIORITY,
                    "computeEnvironmentOrder": order,
                },
                tags=tags_for(layout.pipeline),
            )
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        found = describe(ops.ctx.client("batch"), QUEUE, r.name)
        if found is None or found.get("status") == "DELETING":
            return MISSING, {}
        same = tags_of(found).get(SPEC_TAG) == spec_hash(cfg) and found.get("state") == "ENABLED"
        return (CURRENT if same else STALE), {"arn": found["jobQueueArn"]}

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        batch = ops.ctx.client("batch")
        out = batch.create_job_queue(**cfg, tags={**r.tags, SPEC_TAG: spec_hash(cfg)})
        wait_until(batch, QUEUE, r.name, valid(QUEUE, r.name), ops.sleep, "become VALID")
        return {"arn": out["jobQueueArn"]}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        batch = ops.ctx.client("batch")
        found = wait_until(batch, QUEUE, r.name, settled, ops.sleep)
        if found is None:
            return self.create(ops, r, cfg)
        batch.update_job_queue(
            jobQueue=r.name,
            state=cfg["state"],
            priority=cfg["priority"],
            computeEnvironmentOrder=cfg["computeEnvironmentOrder"],
        )
        wait_until(batch, QUEUE, r.name, valid(QUEUE, r.name), ops.sleep, "update")
        arn = found["jobQueueArn"]
        batch.tag_resource(resourceArn=arn, tags={**r.tags, SPEC_TAG: spec_hash(cfg)})
        return {"arn": arn}

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        """Disable, wait until not UPDATING, delete, wait until gone (Batch ends the jobs
        still in it)."""
        batch = ctx.client("batch")
        return disable_then_delete(
            batch,
            QUEUE,
            name,
            lambda: batch.update_job_queue(jobQueue=name, state="DISABLED"),
            lambda: batch.delete_job_queue(jobQueue=name),
        )

    def _found(self, scope: Scope) -> Iterator[tuple[str, bool]]:
        """(name, carries this pipeline's tag) of every job queue with its name or its tag."""
        own = names.job_queue(scope.pipeline)
        for item in queues(scope.ctx.client("batch")):
            name, ours = str(item["jobQueueName"]), belongs(item, scope.pipeline)
            if (name == own or ours) and item.get("status") != "DELETING":
                yield name, ours

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        for name, ours in self._found(scope):
            if name not in known:
                yield replace(self.stray(scope, name), tagged=ours)

    def leftovers(self, scope: Scope) -> list[str]:
        return [f"job queue {name}" for name, _ in self._found(scope)]
