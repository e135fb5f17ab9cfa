"""The Batch backend's managed compute environments: on-demand always, Spot in front of it when
the workflow asks for Spot. Both start at zero vCPUs and scale to `compute.max_vcpus`; Batch
picks the instance types ("optimal", plus GPU families when a step needs GPUs) and launches
them with ecsInstanceRole in the default VPC's subnets. No service role is named: Batch uses its
service-linked role (AWSServiceRoleForBatch).

Changes are found through a hash of the wanted definition in a tag (`yunpipe:spec`). What AWS
lets UpdateComputeEnvironment change (the vCPU bounds, instance types, subnets, security
groups: infrastructure updates are allowed for the allocation strategies used here) is changed
in place; a different provisioning model is reported, as it needs a new environment.

Teardown removes an environment after its job queue (stage LATE; the queue is EARLY): disable,
wait, delete, wait until gone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    LATE,
    MISSING,
    STALE,
    Found,
    Kind,
    Ops,
    Scope,
)
from yunpipe_tui.deploy.kinds.batch_states import (
    ENVIRONMENT,
    SPEC_TAG,
    belongs,
    describe,
    disable_then_delete,
    environments,
    settled,
    tags_of,
    valid,
    wait_until,
)
from yunpipe_tui.deploy.kinds.task_definition import spec_hash
from yunpipe_tui.deploy.layout import PipelineLayout
from yunpipe_tui.deploy.model import Resource, tags_for
from yunpipe_tui.errors import YunpipeError

GPU_FAMILIES = ("g4dn", "g5")
ALLOCATION = {"SPOT": "SPOT_PRICE_CAPACITY_OPTIMIZED", "EC2": "BEST_FIT_PROGRESSIVE"}
# What UpdateComputeEnvironment may change in place here (besides state).
UPDATABLE = ("minvCpus", "maxvCpus", "instanceTypes", "subnets", "securityGroupIds")
ALWAYS_SENT = ("minvCpus", "maxvCpus")


def environment_key(purchase: str) -> str:
    """Plan key of the Spot or on-demand compute environment."""
    return f"shared/compute-env-{purchase}"


def purchases(layout: PipelineLayout) -> tuple[str, ...]:
    """The pipeline's environments in the job queue's order: Spot first when asked for."""
    spot = layout.workflow.compute.spot
    return (names.SPOT, names.ON_DEMAND) if spot else (names.ON_DEMAND,)


def instance_types(layout: PipelineLayout) -> list[str]:
    """ "optimal" (Batch's pick of C, M and R families), plus GPU families for a GPU step."""
    gpu = any(step.algorithm.gpu for step in layout.steps)
    return ["optimal", *GPU_FAMILIES] if gpu else ["optimal"]


class ComputeEnvironment(Kind):
    name = "compute_environment"
    label = "compute environment"
    teardown_stage = LATE  # after the job queue that names it
    sweep_rank = 49
    scan_rank = 52

    def plan_shared(self, layout: PipelineLayout) -> list[Resource]:
        if not layout.batch:
            return []
        tags = tags_for(layout.pipeline)
        out = []
        for purchase in purchases(layout):
            name = names.compute_environment(layout.pipeline, purchase)
            model = "SPOT" if purchase == names.SPOT else "EC2"
            resources = {
                "type": model,
                "allocationStrategy": ALLOCATION[model],
                "minvCpus": 0,
                "maxvCpus": layout.workflow.compute.max_vcpus,
                "desiredvCpus": 0,
                "instanceTypes": instance_types(layout),
                "subnets": list(layout.facts.subnet_ids),
                "securityGroupIds": [layout.facts.security_group_id],
                "instanceRole": layout.instance_profile_arn,
                "tags": dict(tags),  # carried by the instances Batch launches
            }
            out.append(
                Resource(
                    environment_key(purchase),
                    self.name,
                    name,
                    "shared",
                    config={
                        "computeEnvironmentName": name,
                        "type": "MANAGED",
                        "state": "ENABLED",
                        "computeResources": resources,
                    },
                    tags=tags,
                )
            )
        return out

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        found = describe(ops.ctx.client("batch"), ENVIRONMENT, r.name)
        if found is None or found.get("status") == "DELETING":
            return MISSING, {}
        outputs = {"arn": found["computeEnvironmentArn"]}
        same = tags_of(found).get(SPEC_TAG) == spec_hash(cfg) and found.get("state") == "ENABLED"
        # INVALID (a role or subnet gone since): the update brings AWS's reason to the user.
        healthy = found.get("status") != "INVALID"
        return (CURRENT if same and healthy else STALE), outputs

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        batch = ops.ctx.client("batch")
        out = batch.create_compute_environment(**cfg, tags={**r.tags, SPEC_TAG: spec_hash(cfg)})
        # A job queue takes only a VALID environment.
        ready = valid(ENVIRONMENT, r.name)
        wait_until(batch, ENVIRONMENT, r.name, ready, ops.sleep, "become VALID")
        return {"arn": out["computeEnvironmentArn"]}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        batch = ops.ctx.client("batch")
        found = wait_until(batch, ENVIRONMENT, r.name, settled, ops.sleep)
        if found is None:
            return self.create(ops, r, cfg)
        wanted = cfg["computeResources"]
        have = found.get("computeResources") or {}
        if found.get("type") != cfg["type"] or have.get("type") != wanted["type"]:
            raise YunpipeError(
                f"compute environment {r.name} is {found.get('type')}/{have.get('type')}, the "
                f"workflow wants {cfg['type']}/{wanted['type']}, which AWS cannot change in "
                "place: tear the pipeline down (`yunpipe teardown`) and deploy again"
            )
        # The vCPU bounds always; the rest only when they differ (an infrastructure update
        # replaces instances). desiredvCpus is Batch's to manage once the environment runs.
        change = {k: wanted[k] for k in UPDATABLE if k in ALWAYS_SENT or have.get(k) != wanted[k]}
        batch.update_compute_environment(
            computeEnvironment=r.name, state="ENABLED", computeResources=change
        )
        wait_until(batch, ENVIRONMENT, r.name, valid(ENVIRONMENT, r.name), ops.sleep, "update")
        arn = found["computeEnvironmentArn"]
        batch.tag_resource(resourceArn=arn, tags={**r.tags, SPEC_TAG: spec_hash(cfg)})
        return {"arn": arn}

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        """Disable, wait, delete, wait until gone (its job queue must be gone already)."""
        batch = ctx.client("batch")
        return disable_then_delete(
            batch,
            ENVIRONMENT,
            name,
            lambda: batch.update_compute_environment(computeEnvironment=name, state="DISABLED"),
            lambda: batch.delete_compute_environment(computeEnvironment=name),
        )

    def _found(self, scope: Scope) -> Iterator[tuple[str, bool]]:
        """(name, carries this pipeline's tag) of every environment with one of its names or
        its tag."""
        own = {names.compute_environment(scope.pipeline, p) for p in (names.SPOT, names.ON_DEMAND)}
        for item in environments(scope.ctx.client("batch")):
            name, ours = str(item["computeEnvironmentName"]), belongs(item, scope.pipeline)
            if (name in own or ours) and item.get("status") != "DELETING":
                yield name, ours

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        for name, ours in self._found(scope):
            if name not in known:
                yield replace(self.stray(scope, name), tagged=ours)

    def leftovers(self, scope: Scope) -> list[str]:
        return [f"compute environment {name}" for name, _ in self._found(scope)]
