"""The leftover scan covers every kind a plan can create, kind by kind: each kind of the
registry that a plan creates is found in an account where a pipeline is deployed (every
resource tagged as the engine tags it; permissions, schedule targets and notification entries
through their tagged parents), and none of them once it is torn down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import deploy_file, write_workflow
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy.kinds import PLANNED
from yunpipe_tui.deploy.leftovers import present
from yunpipe_tui.deploy.teardown import teardown

# Kinds only one backend's plan has; every other planned kind is in both.
BACKEND_KINDS = {
    "ecs": {"cluster", "task_definition"},
    "batch": {"compute_environment", "job_queue", "job_definition"},
}
OTHER = {"ecs": "batch", "batch": "ecs"}


def test_every_planned_kind_has_a_scan() -> None:
    missing = [k.name for k in PLANNED if k.scan_rank is None]
    assert missing == []


@pytest.mark.parametrize("backend", ["ecs", "batch"])
def test_the_scan_finds_every_kind_a_plan_creates_and_none_after_teardown(
    batch_aws: Any, tmp_path: Path, catalog: Catalog, code: Any, backend: str
) -> None:
    ctx = batch_aws
    compute = {"backend": backend, "spot": True}
    path = write_workflow(tmp_path, sequence=True, compute=compute)
    plan, _ = deploy_file(ctx, path, catalog, code)
    buckets = [r.name for r in plan.resources if r.kind == "bucket"]
    planned = {r.kind for r in plan.resources}
    found = present(ctx, "demo", buckets)
    for kind in PLANNED:
        if kind.name in BACKEND_KINDS[OTHER[backend]]:
            assert kind.name not in planned, kind.name  # the other backend's
            continue
        assert kind.name in planned, kind.name  # the plan creates it ...
        assert found[kind.name], f"the leftover scan misses {kind.name}"  # ... and it is found
    teardown("demo", ctx, delete_buckets=True)
    after = present(ctx, "demo", buckets)
    assert {k: v for k, v in after.items() if v} == {}


def test_task_definitions_of_every_step_are_found(aws: Any) -> None:
    """ListTaskDefinitions(familyPrefix=) matches whole families: `yunpipe-p` never found
    `yunpipe-p-s2`. Families of another pipeline sharing the prefix stay out."""
    ecs = aws.client("ecs")
    for family in ("yunpipe-p-s1", "yunpipe-p-s2", "yunpipe-p-x-s1"):
        ecs.register_task_definition(
            family=family, containerDefinitions=[{"name": "a", "image": "x", "memory": 128}]
        )
    assert present(aws, "p")["task_definition"] == [
        "task definition yunpipe-p-s1:1",
        "task definition yunpipe-p-s2:1",
    ]
