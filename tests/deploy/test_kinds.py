"""The kind registry: its order is the plan's order, and every planned kind can be deployed and
torn down (so a new kind that forgets a piece fails here, not in an account)."""

from __future__ import annotations

from pathlib import Path

from tests.deploy.helpers import pure_plan
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy.kinds import KIND_LABELS, KINDS, PLANNED, REGISTRY, scanned, swept
from yunpipe_tui.deploy.kinds.base import Kind

HISTORICAL_ORDER = (
    "bucket",
    "cluster",
    "compute_environment",  # issue 13: the Batch backend, in place of the cluster
    "job_queue",
    "log_group",
    "ledger_table",  # issue 12: the file ledger
    "schedule_rule",
    "task_role",
    "dlq",
    "queue",
    "task_definition",
    "job_definition",  # issue 13: the Batch backend, in place of the task definition
    "dispatcher",
    "s3_permission",
    "notification",
    "schedule_permission",
    "schedule_target",
)


def test_registry_order_is_the_plan_kinds_order() -> None:
    assert KINDS == HISTORICAL_ORDER
    assert set(KIND_LABELS) == set(KINDS)
    assert len({k.name for k in REGISTRY}) == len(REGISTRY)


def test_every_planned_kind_inspects_creates_and_deletes() -> None:
    for kind in PLANNED:
        for method in ("inspect", "create", "delete"):
            assert getattr(type(kind), method) is not getattr(Kind, method), (kind.name, method)
        assert kind.label, kind.name


def test_scans_have_distinct_ranks() -> None:
    sweep_ranks = [k.sweep_rank for k in swept()]
    scan_ranks = [k.scan_rank for k in scanned()]
    assert len(set(sweep_ranks)) == len(sweep_ranks)
    assert len(set(scan_ranks)) == len(scan_ranks)
    assert [k.name for k in swept()][-2:] == ["instance", "alarm"]


def test_plan_lists_shared_kinds_then_each_step_in_registry_order(
    tmp_path: Path, catalog: Catalog
) -> None:
    plan = pure_plan(tmp_path, catalog)
    shared = [r.kind for r in plan.resources if not r.step]
    per_step = [r.kind for r in plan.resources if r.step == "s1"]
    assert shared + per_step == [r.kind for r in plan.resources]
    assert [KINDS.index(k) for k in shared + per_step] == sorted(
        KINDS.index(k) for k in shared + per_step
    )
