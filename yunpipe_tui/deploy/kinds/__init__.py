"""The registry of resource kinds: one module per kind, one line per kind in `REGISTRY`.

`REGISTRY` is ordered as a plan lists its resources, and as dependencies allow (a teardown walks
a journal backwards, so later kinds are removed first). The plan builder, the deploy engine,
teardown and the leftover scan are loops over it.

To add a kind:

1. write `kinds/<kind>.py` with a `Kind` subclass (see `kinds/base.py`): `name`, `label`, its
   plan fragment (`plan_shared` and/or `plan_step`; shared kinds precede per-step kinds),
   `inspect`/`create`/`update`, `delete`, and, when strays of it can exist, `sweep` and
   `leftovers` with a `sweep_rank`/`scan_rank` that places its scan among the others;
2. add one line for it to `REGISTRY` below, where it belongs in the order.

Names shared by several kinds (a step's queue ARN, ...) come from `deploy/layout.py`.
"""

from __future__ import annotations

from yunpipe_tui.deploy.kinds import (
    alarm,
    bucket,
    cluster,
    compute_environment,
    dispatcher,
    dlq,
    instance,
    job_definition,
    job_queue,
    ledger_table,
    log_group,
    notification,
    queue,
    s3_permission,
    schedule_permission,
    schedule_rule,
    schedule_target,
    task_definition,
    task_role,
)
from yunpipe_tui.deploy.kinds.base import Kind
from yunpipe_tui.deploy.model import KIND_LABELS

REGISTRY: tuple[Kind, ...] = (
    bucket.Bucket(),
    cluster.Cluster(),  # backend ecs
    compute_environment.ComputeEnvironment(),  # backend batch, like the two below
    job_queue.JobQueue(),
    log_group.LogGroup(),
    ledger_table.LedgerTable(),
    schedule_rule.ScheduleRule(),
    task_role.TaskRole(),
    dlq.DeadLetterQueue(),
    queue.Queue(),
    task_definition.TaskDefinition(),  # backend ecs
    job_definition.JobDefinition(),  # backend batch
    dispatcher.Dispatcher(),
    s3_permission.S3Permission(),
    notification.Notification(),
    schedule_permission.SchedulePermission(),
    schedule_target.ScheduleTarget(),
    instance.Instance(),  # launched by the dispatchers: swept and scanned, never planned
    alarm.Alarm(),  # put on those instances by the dispatchers: likewise
)

BY_NAME: dict[str, Kind] = {k.name: k for k in REGISTRY}
PLANNED: tuple[Kind, ...] = tuple(k for k in REGISTRY if k.in_plan)
# Resource kinds a plan holds, in the order teardown deletes them backwards.
KINDS: tuple[str, ...] = tuple(k.name for k in PLANNED)
KIND_LABELS.update({k.name: k.label for k in PLANNED})


def get(name: str) -> Kind | None:
    """The kind called `name`, or None (an entry from a newer or older journal)."""
    return BY_NAME.get(name)


def swept() -> list[Kind]:
    """Kinds whose strays the teardown sweep removes, in the order its AWS calls run."""
    return sorted((k for k in REGISTRY if k.sweep_rank is not None), key=_sweep_rank)


def scanned() -> list[Kind]:
    """Kinds the leftover scan looks for, in the order its AWS calls run."""
    return sorted((k for k in REGISTRY if k.scan_rank is not None), key=_scan_rank)


def _sweep_rank(kind: Kind) -> int:
    return kind.sweep_rank or 0


def _scan_rank(kind: Kind) -> int:
    return kind.scan_rank or 0
