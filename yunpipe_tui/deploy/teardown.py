"""Teardown: remove what yunpipe added for a pipeline, in reverse order, idempotently.

    result = teardown("mypipe", ctx, sink, delete_buckets=False)   # -> TeardownResult
    counts = bucket_object_counts(record, ctx)                     # before --delete-buckets

It reads the journal (`journal.load`) and also sweeps the account by name and tag, so a deploy
killed at any instant is cleaned up. Each resource kind (`yunpipe_tui.deploy.kinds`) knows how to
delete itself and how to find its strays; this module only orders the work:

1. the journal's entries, newest first (notification entries of ours — the user's stay —,
   Lambda permissions, dispatchers, schedule targets, queues, task definitions, task roles, rules);
2. the sweep: strays of this pipeline the journal does not list, the instances the dispatchers
   launched (tag `yunpipe:pipeline`) and their idle alarms;
3. what those still needed: the log group and the cluster;
4. data: buckets and their objects, and the ledger table, stay, unless `delete_buckets=True`,
   which deletes the ledger and only the buckets yunpipe created.

Prerequisite roles (lambda_exec_role, ecsInstanceRole) stay. Already-gone is fine everywhere.
It ends with a leftover scan (`leftovers`), reported in the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from yunpipe_tui.aws import AwsContext, error_message, is_gone
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy import journal as jr
from yunpipe_tui.deploy.kinds import get as kind_named
from yunpipe_tui.deploy.kinds import swept
from yunpipe_tui.deploy.kinds.base import DATA, EARLY, GONE_MARK, LATE, Scope, unless_gone
from yunpipe_tui.deploy.kinds.bucket import Bucket
from yunpipe_tui.deploy.leftovers import leftovers
from yunpipe_tui.errors import YunpipeError

__all__ = [
    "NothingToTearDown",
    "Teardown",
    "TeardownResult",
    "bucket_object_counts",
    "buckets_created",
    "describe_error",
    "leftovers",
    "resolve_pipeline",
    "rollback",
    "teardown",
]


@dataclass
class TeardownResult:
    pipeline: str
    deleted: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    kept_buckets: list[str] = field(default_factory=list)
    kept_data: list[str] = field(default_factory=list)  # the ledger table, kept like buckets
    failed: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.leftovers


class NothingToTearDown(YunpipeError):
    exit_code = 0


class Teardown:
    def __init__(
        self,
        record: jr.PipelineRecord,
        ctx: AwsContext,
        sink: ev.EventSink | None = None,
    ) -> None:
        self.record = record
        self.p = record.pipeline
        self.ctx = ctx.for_region(record.region) if record.region else ctx
        self.sink = sink or ev.null_sink
        self.result = TeardownResult(self.p)
        self.journal = jr.Journal(self.p, record.data)

    def _do(self, key: str, kind: str, name: str, group: str, fn: Callable[[], bool]) -> None:
        """Run one delete (True: removed, False: already gone), report it, journal it."""
        start = time.monotonic()
        self.sink(ev.Event(ev.STARTED, key, kind, name, group, "delete"))
        try:
            removed = fn()
        except Exception as exc:
            message = str(exc) if isinstance(exc, YunpipeError) else error_message(exc)
            self.result.failed.append(f"{kind} {name}: {message}")
            self.sink(ev.Event(ev.FAILED, key, kind, name, group, "delete", message))
            return
        elapsed = time.monotonic() - start
        if removed:
            self.result.deleted.append(f"{kind} {name}")
            self.sink(ev.Event(ev.DONE, key, kind, name, group, "delete", elapsed=elapsed))
        else:
            self.result.already_gone.append(f"{kind} {name}")
            self.sink(
                ev.Event(ev.SKIPPED, key, kind, name, group, "delete", "already gone", elapsed)
            )
        if key in self.journal.data.get("resources", {}):
            self.journal.result(key, jr.DELETED)

    def _delete_entry(self, key: str, entry: dict[str, Any]) -> None:
        kind, name = entry.get("kind", ""), entry.get("name", "")
        params = entry.get("params", {})
        group = entry.get("step") or ("buckets" if kind == "bucket" else "shared")
        handler = kind_named(kind)
        if handler is None:
            return
        delete = handler.delete
        self._do(key, kind, name, group, lambda: bool(delete(self.ctx, name, params)))

    def delete_bucket(self, key: str, name: str) -> None:
        """Delete one bucket yunpipe created, with every object in it."""
        self._do(key, "bucket", name, "buckets", lambda: Bucket().delete(self.ctx, name, {}))

    def _stage(self, entry: dict[str, Any]) -> int | None:
        kind = kind_named(entry.get("kind", ""))
        return kind.teardown_stage if kind is not None else None

    def run(self, delete_buckets: bool = False, only: list[str] | None = None) -> TeardownResult:
        data = self.journal.data
        data["status"] = jr.TEARING_DOWN
        self.journal.save()
        self.sink(ev.Event(ev.INFO, kind="phase", name="teardown", message=self.p))
        resources = data.get("resources", {})
        order = [k for k in data.get("order", list(resources)) if k in resources]
        live = [
            k
            for k in reversed(order)
            if resources[k].get("status") in (jr.INTENT, jr.CREATED) and (only is None or k in only)
        ]
        for key in live:
            if self._stage(resources[key]) in (EARLY, None):
                self._delete_entry(key, resources[key])
        if only is None:
            self._sweep(data=False)
        for key in live:
            if self._stage(resources[key]) == LATE:
                self._delete_entry(key, resources[key])
        for key in live:
            entry = resources[key]
            if self._stage(entry) != DATA:
                continue
            if delete_buckets:
                self._delete_entry(key, entry)  # buckets yunpipe created, the ledger table
            elif entry.get("kind") == "bucket":
                self.result.kept_buckets.append(entry["name"])
            else:
                self.result.kept_data.append(entry["name"])
        if only is None:
            self._sweep(data=True, delete=delete_buckets)
        for entry in resources.values():
            if entry.get("kind") == "bucket" and entry.get("status") == jr.EXISTING:
                self.result.kept_buckets.append(entry["name"])
        if only is None:
            self.sink(ev.Event(ev.INFO, kind="phase", name="scan", message=self.p))
            buckets = [e["name"] for e in resources.values() if e.get("kind") == "bucket"]
            self.result.leftovers = leftovers(self.ctx, self.p, buckets, delete_buckets)
            for item in self.result.leftovers:
                self.sink(ev.Event(ev.WARNING, message=f"still present: {item}"))
        failed = bool(self.result.failed or self.result.leftovers)
        if only is None:
            self.journal.set_status(jr.FAILED if failed else jr.TORN_DOWN)
        else:
            self.journal.set_status(jr.FAILED, "rolled back after a failed deploy")
        return self.result

    def _sweep(self, data: bool, delete: bool = True) -> None:
        """What carries this pipeline's names or tag but the journal did not list, and the
        instances and alarms the dispatchers made. Data kinds (the ledger table) are swept
        with the data: deleted when `delete`, else kept and reported like the journal's."""
        resources = self.journal.data.get("resources", {}).values()
        known: set[str] = {e.get("name", "") for e in resources}
        scope = Scope(self.ctx, self.p, include_data=data)
        for kind in swept():
            if (kind.teardown_stage == DATA) != data:
                continue
            for found in kind.sweep(scope, known):
                if delete:
                    self._do(found.key, found.kind, found.name, found.group, found.delete)
                else:
                    self.result.kept_data.append(found.name)


def resolve_pipeline(pipeline: str | None, delete_buckets: bool = False) -> jr.PipelineRecord:
    """The named pipeline's journal (even if torn down: teardown is idempotent and its
    cross-check still runs), or the most recent one not torn down; NothingToTearDown when none.
    """
    if pipeline is None:
        record = jr.most_recent()
        if record is None:
            raise NothingToTearDown("nothing to tear down: no deployed pipeline found")
        return record
    record = jr.load(pipeline)
    if record is None:
        raise NothingToTearDown(
            f"nothing to tear down: no journal for pipeline {pipeline!r} "
            "(see `yunpipe status` for the known ones)"
        )
    return record


def buckets_created(record: jr.PipelineRecord) -> list[str]:
    """Buckets yunpipe created for this pipeline (and that may still exist)."""
    return [
        e["name"]
        for e in record.resources.values()
        if e.get("kind") == "bucket" and e.get("status") in (jr.INTENT, jr.CREATED)
    ]


def bucket_object_counts(record: jr.PipelineRecord, ctx: AwsContext) -> dict[str, int]:
    """Objects in each bucket yunpipe created (shown before --delete-buckets asks)."""
    ctx = ctx.for_region(record.region) if record.region else ctx
    s3 = ctx.client("s3")
    counts: dict[str, int] = {}
    for bucket in buckets_created(record):
        total = 0
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                total += page.get("KeyCount", 0)
        except Exception as exc:
            if is_gone(exc):
                continue
            raise
        counts[bucket] = total
    return counts


def teardown(
    pipeline: str | None,
    ctx: AwsContext,
    sink: ev.EventSink | None = None,
    *,
    delete_buckets: bool = False,
) -> TeardownResult:
    """Tear down `pipeline` (None: the most recent). Raises NothingToTearDown (exit 0)."""
    record = resolve_pipeline(pipeline, delete_buckets)
    return Teardown(record, ctx, sink).run(delete_buckets=delete_buckets)


def _is_empty(s3: Any, bucket: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, MaxKeys=1).get("KeyCount", 0) == 0)


def _table_is_empty(ddb: Any, table: str) -> bool:
    return not ddb.scan(TableName=table, Limit=1, Select="COUNT").get("Count", 0)


def rollback(
    pipeline: str, keys: list[str], ctx: AwsContext, sink: ev.EventSink | None = None
) -> TeardownResult:
    """Remove what one deploy run created (its journal intents), buckets and the ledger table
    included if empty (a table with items already holds files' history: kept)."""
    record = jr.load(pipeline)
    if record is None:
        return TeardownResult(pipeline)
    td = Teardown(record, ctx, sink)
    result = td.run(delete_buckets=False, only=keys)
    s3, ddb = td.ctx.client("s3"), td.ctx.client("dynamodb")
    for key in keys:
        entry = record.resources.get(key, {})
        kind = entry.get("kind")
        if kind not in ("bucket", "ledger_table") or entry.get("status") not in (
            jr.INTENT,
            jr.CREATED,
        ):
            continue
        name = entry["name"]
        check = _is_empty if kind == "bucket" else _table_is_empty
        empty = unless_gone(partial(check, s3 if kind == "bucket" else ddb, name))
        if empty is GONE_MARK or not empty:
            continue
        if kind == "bucket":
            td.delete_bucket(key, name)
            result.kept_buckets = [b for b in result.kept_buckets if b != name]
        else:
            td._delete_entry(key, entry)
            result.kept_data = [t for t in result.kept_data if t != name]
    return result


def describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, YunpipeError) else error_message(exc)
