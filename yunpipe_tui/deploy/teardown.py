"""Teardown: remove what yunpipe added for a pipeline, in reverse order, idempotently.

    result = teardown("mypipe", ctx, sink, delete_buckets=False)   # -> TeardownResult
    counts = bucket_object_counts(record, ctx)                     # before --delete-buckets

It reads the journal (`journal.load`) and also sweeps the account by name and tag, so a deploy
killed at any instant is cleaned up. Each resource kind (`yunpipe_tui.deploy.kinds`) knows how to
delete itself and how to find its strays; this module only orders the work:

1. the journal's entries, newest first (notification entries of ours — the user's stay —,
   Lambda permissions, dispatchers, schedule targets, queues, task or job definitions, the job
   queue, task roles, rules);
2. the sweep: strays of this pipeline the journal does not list, the instances the dispatchers
   launched (tag `yunpipe:pipeline`) and their idle alarms;
3. what those still needed: the log group and the cluster or the compute environments;
4. data: buckets and their objects, and the ledger table, stay, unless `delete_buckets=True`,
   which deletes the ledger and only the buckets yunpipe created.

Prerequisite roles (lambda_exec_role, ecsInstanceRole) stay. Already-gone is fine everywhere.
It ends with a leftover scan (`leftovers`), reported in the result.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_message, is_gone
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy import journal as jr
from yunpipe_tui.deploy import records
from yunpipe_tui.deploy.guarded import locked_teardown
from yunpipe_tui.deploy.kinds import get as kind_named
from yunpipe_tui.deploy.kinds import swept
from yunpipe_tui.deploy.kinds.base import DATA, EARLY, GONE_MARK, LATE, Scope, unless_gone
from yunpipe_tui.deploy.kinds.bucket import Bucket
from yunpipe_tui.deploy.kinds.notification import Notification
from yunpipe_tui.deploy.leftovers import leftovers
from yunpipe_tui.errors import YunpipeError
from yunpipe_tui.state import scan
from yunpipe_tui.state.scan import Found
from yunpipe_tui.state.target import Target

__all__ = [
    "NothingToTearDown",
    "Resolved",
    "TargetMismatch",
    "Teardown",
    "TeardownResult",
    "bucket_object_counts",
    "buckets_created",
    "describe_error",
    "leftovers",
    "resolve",
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
    # look-alikes: match this pipeline's names but carry no yunpipe tag (reported, kept)
    not_removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.leftovers


class NothingToTearDown(YunpipeError):
    exit_code = 0


class TargetMismatch(YunpipeError):
    """The record belongs to another account or endpoint than the credentials in use."""


class _Unsaved(jr.Journal):
    """A journal that is never written: teardown from the account's tags alone, when the file
    on disk belongs to another account or endpoint (it must stay as it is)."""

    def save(self) -> None:
        return None


def tag_only_record(pipeline: str, target: Target) -> jr.PipelineRecord:
    """A record with no entries, made against `target`: teardown then works from the tags."""
    data = {
        "pipeline": pipeline,
        "status": "",
        "account_id": target.account_id,
        "region": target.region,
        "endpoint_url": target.endpoint,
        "resources": {},
        "order": [],
        "steps": [],
    }
    return jr.PipelineRecord(pipeline, jr.path_for(pipeline), data)


class Teardown:
    """Remove one pipeline. `persist=False`: never write its journal file (see `_Unsaved`)."""

    def __init__(
        self,
        record: jr.PipelineRecord,
        ctx: AwsContext,
        sink: ev.EventSink | None = None,
        *,
        persist: bool = True,
    ) -> None:
        self.record = record
        self.p = record.pipeline
        self.ctx = ctx.for_region(record.region) if record.region else ctx
        self.sink = sink or ev.null_sink
        self.result = TeardownResult(self.p)
        journal_class = jr.Journal if persist else _Unsaved
        self.journal = journal_class(self.p, record.data)
        self._done: set[tuple[str, str]] = set()  # (kind, name) handled in this run
        self._lookalikes: set[str] = set()

    def _do(self, key: str, kind: str, name: str, group: str, fn: Callable[[], bool]) -> None:
        """Run one delete (True: removed, False: already gone), report it, journal it."""
        self._done.add((kind, name))
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

    def check_target(self) -> None:
        """Before the first delete: the credentials in use reach the record's account and
        endpoint, or nothing is sent (TargetMismatch names where the record belongs)."""
        target = records.current_target(self.ctx)
        if not records.belongs(self.record, target):
            raise TargetMismatch(records.elsewhere_line(self.record))

    def run(self, delete_buckets: bool = False, only: list[str] | None = None) -> TeardownResult:
        full = only is None
        if full:
            self.check_target()
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
        tagged: list[Found] = self._tagged() if full else []
        buckets = self._buckets(tagged) if full else []
        for key in live:
            if self._stage(resources[key]) in (EARLY, None):
                self._delete_entry(key, resources[key])
        if full:
            self._notifications(buckets)
            self._tag_sweep(tagged, EARLY)
            self._sweep(tagged, data=False)
        for key in live:
            if self._stage(resources[key]) == LATE:
                self._delete_entry(key, resources[key])
        if full:
            self._tag_sweep(tagged, LATE)
        for key in live:
            entry = resources[key]
            if self._stage(entry) != DATA:
                continue
            if delete_buckets:  # buckets yunpipe created, the ledger table
                if entry.get("kind") == "bucket":
                    self.delete_bucket(key, entry["name"])
                else:
                    self._delete_entry(key, entry)
            elif entry.get("kind") == "bucket":
                self.result.kept_buckets.append(entry["name"])
            else:
                self.result.kept_data.append(entry["name"])
        for entry in resources.values():
            if entry.get("kind") == "bucket" and entry.get("status") == jr.EXISTING:
                self.result.kept_buckets.append(entry["name"])
        if full:
            self._sweep(tagged, data=True, delete=delete_buckets)
            self._tagged_buckets(tagged, delete_buckets)
            self.sink(ev.Event(ev.INFO, kind="phase", name="scan", message=self.p))
            self.result.leftovers = [
                item
                for item in leftovers(self.ctx, self.p, buckets, delete_buckets)
                if _leftover_name(item) not in self._lookalikes
            ]
            for item in self.result.leftovers:
                self.sink(ev.Event(ev.WARNING, message=f"still present: {item}"))
        failed = bool(self.result.failed or self.result.leftovers)
        if full:
            self.journal.set_status(jr.FAILED if failed else jr.TORN_DOWN)
        else:
            self.journal.set_status(jr.FAILED, "rolled back after a failed deploy")
        return self.result

    # --- the account is the truth ------------------------------------------------------------

    def _tagged(self) -> list[Found]:
        """Everything in the account tagged yunpipe:pipeline=<p> (state.scan)."""
        try:
            return list(scan.pipelines(self.ctx, self.p).get(self.p, []))
        except Exception as exc:
            if isinstance(exc, YunpipeError):
                raise
            line = f"the tag scan failed ({error_message(exc)}); removing by the journal only"
            self.result.failed.append(line)
            self.sink(ev.Event(ev.WARNING, message=line))
            return []

    def _buckets(self, tagged: list[Found]) -> list[str]:
        """Buckets that may hold this pipeline's notification entries: the journal's, the
        tagged ones, and the sources the dispatchers' S3 permissions name (read before any
        delete: the permissions go with the dispatchers)."""
        found = [
            e["name"]
            for e in self.journal.data.get("resources", {}).values()
            if e.get("kind") == "bucket" and e.get("name")
        ]
        found += [f.name for f in tagged if f.kind == "bucket"]
        lam = self.ctx.client("lambda")
        functions = {f.name for f in tagged if f.kind == "dispatcher"}
        functions |= {s.dispatcher for s in self.record.steps if s.dispatcher}
        for function in sorted(functions):
            got = unless_gone(partial(lam.get_policy, FunctionName=function))
            if got is GONE_MARK:
                continue
            for statement in json.loads(got.get("Policy") or "{}").get("Statement", []):
                arn = json.dumps(statement.get("Condition", {}))
                found += re.findall(r"arn:aws[a-z-]*:s3:::([a-z0-9.\-]+)", arn)
        return sorted(set(found))

    def _notifications(self, buckets: list[str]) -> None:
        """This pipeline's entries on those buckets, whatever the journal says (a bucket with
        none of ours left is not mentioned)."""
        kind = Notification()
        for bucket in buckets:
            key, name = f"tagged/notification/{bucket}", f"{bucket}/{names.base(self.p)}-s*"
            try:
                removed, odd = kind.sweep_bucket(self.ctx, bucket, self.p)
            except Exception as exc:
                message = error_message(exc)
                self.result.failed.append(f"notification {name}: {message}")
                self.sink(ev.Event(ev.FAILED, key, "notification", name, "buckets", "delete"))
                continue
            if removed:
                self.result.deleted.append(f"notification {name}")
                self.sink(ev.Event(ev.DONE, key, "notification", name, "buckets", "delete"))
            for entry in odd:
                self._lookalike("notification", f"{bucket}/{entry}")

    def _tag_sweep(self, tagged: list[Found], stage: int) -> None:
        """Delete each tagged resource of a planned kind (buckets aside) not handled yet."""
        for found in tagged:
            handler = kind_named(found.kind)
            if handler is None or not handler.in_plan or handler.teardown_stage != stage:
                continue
            name = _resource_name(found)
            if (found.kind, name) in self._done:
                continue
            key = f"tagged/{found.kind}/{name}"
            delete = _deleter(handler, self.ctx, name)
            self._do(key, found.kind, name, found.step or "shared", delete)

    def _tagged_buckets(self, tagged: list[Found], delete_buckets: bool) -> None:
        """Buckets tagged with the pipeline that the journal does not list (yunpipe made them)."""
        listed = {e.get("name") for e in self.journal.data.get("resources", {}).values()}
        for found in tagged:
            if found.kind != "bucket" or found.name in listed:
                continue
            if delete_buckets:
                self.delete_bucket(f"tagged/bucket/{found.name}", found.name)
            else:
                self.result.kept_buckets.append(found.name)

    def _lookalike(self, what: str, name: str) -> None:
        line = (
            f"not removed: {what} {name} matches this pipeline's names but carries no yunpipe tag"
        )
        self._lookalikes.add(name)
        self.result.not_removed.append(line)
        self.sink(ev.Event(ev.WARNING, message=line))

    def _sweep(self, tagged: list[Found], data: bool, delete: bool = True) -> None:
        """What matches this pipeline's names but neither the journal walk nor the tag sweep
        handled: tagged finds (instances, their alarms) are deleted, look-alikes reported.
        Data kinds (the ledger table) are swept with the data: deleted when `delete`, else
        kept and reported like the journal's."""
        known = {name for _, name in self._done}
        if data:  # the journal's data entries were kept or deleted already; tagged ones not
            known |= {e.get("name", "") for e in self.journal.data.get("resources", {}).values()}
        else:
            known |= {_resource_name(f) for f in tagged}
            # The journal's live LATE entries (compute environments after their job queue) are
            # the LATE walk's, which comes next: the sweep must not take them first.
            known |= {
                e.get("name", "")
                for e in self.journal.data.get("resources", {}).values()
                if e.get("status") in (jr.INTENT, jr.CREATED) and self._stage(e) == LATE
            }
        scope = Scope(self.ctx, self.p, include_data=data)
        for kind in swept():
            if (kind.teardown_stage == DATA) != data:
                continue
            for found in kind.sweep(scope, known):
                if not found.tagged:
                    self._lookalike(kind.label, found.name)
                elif delete:
                    self._do(found.key, found.kind, found.name, found.group, found.delete)
                else:
                    self.result.kept_data.append(found.name)


def _deleter(handler: Any, ctx: AwsContext, name: str) -> Callable[[], bool]:
    return lambda: bool(handler.delete(ctx, name, {}))


_REVISIONED = ("task_definition", "job_definition")


def _resource_name(found: Found) -> str:
    """The name a kind deletes by: a task or job definition's name, without its revision."""
    return found.name.split(":", 1)[0] if found.kind in _REVISIONED else found.name


def _leftover_name(line: str) -> str:
    """The resource name in a leftover line ("queue NAME", "task definition FAMILY:REV")."""
    name = line.rsplit(" ", 1)[-1]
    revisioned = line.startswith(("task definition ", "job definition "))
    return name.split(":", 1)[0] if revisioned else name


@dataclass(frozen=True)
class Resolved:
    """What `yunpipe teardown` acts on: a record (or one built for the tags), whether its
    journal may be written, and lines for the user (damaged or foreign journal)."""

    record: jr.PipelineRecord
    persist: bool = True
    lines: list[str] = field(default_factory=list)
    from_tags: bool = False


def resolve(pipeline: str | None, ctx: AwsContext) -> Resolved:
    """The pipeline to tear down, of the account and endpoint in use.

    Without a name: the newest record of this target not torn down. With one: its journal when
    usable and ours; otherwise (missing, damaged, another account's) the account's tags, with
    one line saying why. NothingToTearDown (exit 0) when neither knows the pipeline."""
    if pipeline is None:
        record, found = records.most_recent(ctx)
        if record is None:
            notes = "".join(f"\n{line}" for line in found.lines())
            raise NothingToTearDown(f"nothing to tear down: no deployed pipeline found{notes}")
        if not record.account_id:  # an old journal naming no account: by its tags instead
            return resolve(record.pipeline, ctx)
        return Resolved(record, lines=found.warnings)
    record, warning = jr.load_checked(pipeline)
    target = records.current_target(ctx)
    lines = [warning] if warning else []
    persist = True
    if record is not None:
        if records.belongs(record, target):
            return Resolved(record, lines=lines)
        lines.append(records.elsewhere_line(record))
        persist = False  # the file is another account's record: it stays as it is
    tagged = scan.pipelines(ctx, pipeline).get(pipeline, [])
    if not tagged:
        why = "" if lines else f"no journal for pipeline {pipeline!r} and "
        lines.append(
            f"nothing to tear down: {why}nothing in {target.describe()} carries the tag "
            f"{names.TAG_PIPELINE}={pipeline}"
        )
        raise NothingToTearDown("\n".join(lines))
    if record is None and not warning:
        lines.append(f"no journal for pipeline {pipeline}; removing what carries its tag")
    if warning:
        jr.Journal.open(pipeline)  # moves the damaged file aside (kept for inspection)
    return Resolved(tag_only_record(pipeline, target), persist, lines, from_tags=True)


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
    """Tear down `pipeline` (None: the most recent of the account in use) by its journal and
    its tags, as the pipeline's one writer. Raises NothingToTearDown (exit 0) or TargetMismatch."""
    found = resolve(pipeline, ctx)
    record = found.record
    return locked_teardown(  # the lock first, then the journal as it is now
        ctx,
        record,
        lambda: Teardown(
            (jr.load(record.pipeline) if found.persist and not found.from_tags else None) or record,
            ctx,
            sink,
            persist=found.persist,
        ).run(delete_buckets=delete_buckets),
    )


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
