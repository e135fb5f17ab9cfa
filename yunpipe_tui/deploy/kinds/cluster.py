"""The pipeline's ECS cluster, shared by its steps. Deleted late in a teardown (after the
sweep terminated the instances): its tasks are stopped and container instances deregistered."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    GONE_MARK,
    LATE,
    MISSING,
    Kind,
    Ops,
    Scope,
    removed,
    tag_list,
    unless_gone,
)
from yunpipe_tui.deploy.layout import PipelineLayout
from yunpipe_tui.deploy.model import Resource, tags_for


class Cluster(Kind):
    name = "cluster"
    label = "ECS cluster"
    teardown_stage = LATE
    scan_rank = 50

    def plan_shared(self, layout: PipelineLayout) -> list[Resource]:
        if layout.batch:  # Batch makes and owns its own clusters
            return []
        return [
            Resource(
                "shared/cluster",
                self.name,
                layout.cluster,
                "shared",
                tags=tags_for(layout.pipeline),
            )
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        found = ops.ctx.client("ecs").describe_clusters(clusters=[r.name]).get("clusters", [])
        for c in found:
            if c.get("status") == "ACTIVE":
                return CURRENT, {"arn": c["clusterArn"]}
        return MISSING, {}

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        out = ops.ctx.client("ecs").create_cluster(
            clusterName=r.name, tags=tag_list(r.tags, "key", "value")
        )
        return {"arn": out["cluster"]["clusterArn"]}

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        ecs = ctx.client("ecs")
        found = unless_gone(lambda: ecs.describe_clusters(clusters=[name]).get("clusters", []))
        if found is GONE_MARK:
            return False
        if not any(c.get("status") == "ACTIVE" for c in found):
            return False
        for arn in ecs.list_tasks(cluster=name).get("taskArns", []):
            removed(partial(ecs.stop_task, cluster=name, task=arn, reason="teardown"))
        for arn in ecs.list_container_instances(cluster=name).get("containerInstanceArns", []):
            removed(
                partial(
                    ecs.deregister_container_instance,
                    cluster=name,
                    containerInstance=arn,
                    force=True,
                )
            )
        return removed(lambda: ecs.delete_cluster(cluster=name))

    def leftovers(self, scope: Scope) -> list[str]:
        ecs = scope.ctx.client("ecs")
        clusters = ecs.describe_clusters(clusters=[names.cluster(scope.pipeline)]).get(
            "clusters", []
        )
        return [f"cluster {c['clusterName']}" for c in clusters if c.get("status") == "ACTIVE"]
