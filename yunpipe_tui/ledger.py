"""Reading a pipeline's file ledger (DynamoDB, one item per input file version and step).

The table's shape is the ledger contract (/work/wt/LEDGER.md): `pk` = file id
(`<input key>#<etag or version>`), `sk` = step id; counter items under pk `#counts`; the GSIs
`by-state` (state, updated_at) and `by-key` (key, queued_at). The dispatcher and the runners
write it; `yunpipe files`, `yunpipe logs`, the monitor and the demo read it through this module.

Costs: `counts` is ONE Query whatever the number of files (the monitor's poll); `files(state=...)`
reads the `by-state` index and fetches the other steps of those files only; `files()` without a
state pages a Scan (for `yunpipe files`, never for a poll). Pure core: no Textual, no Rich.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.errors import AwsError, YunpipeError

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext

STATES = ("queued", "running", "done", "failed")
COUNTS_PK = "#counts"
BY_STATE = "by-state"
BY_KEY = "by-key"
COST_LABEL = "estimated"  # every cost shown is an estimate: on-demand price × instance-seconds


class NoLedger(YunpipeError):
    """The pipeline has no ledger table (deployed before yunpipe kept one, or torn down)."""


# --------------------------------------------------------------------------- cost


@cache
def _prices() -> dict[str, float]:
    from yunpipe_tui.assets import load_json

    return {
        t["name"]: float(t.get("price", 0.0)) for t in load_json("instance_types.json")["types"]
    }


def cost_usd(instance_type: str | None, instance_seconds: float | None) -> float | None:
    """An ESTIMATE: the instance type's on-demand price per hour (assets/instance_types.json,
    us-east-1) × the instance-seconds the step used. None when either is unknown."""
    if not instance_type or instance_seconds is None:
        return None
    price = _prices().get(instance_type)
    if price is None:
        return None
    return price * float(instance_seconds) / 3600.0


# --------------------------------------------------------------------------- records


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FileStep:
    """One ledger item: what one step did (or is doing) with one input file version."""

    file_id: str
    step: str
    key: str = ""
    etag: str = ""
    state: str = "queued"
    attempts: int = 0
    queued_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    runner: str | None = None
    instance_type: str | None = None
    exit_code: int | None = None
    error: str | None = None
    stderr_tail: str | None = None
    input: str | None = None
    result: str | None = None
    log_group: str | None = None
    log_stream: str | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    instance_seconds: float | None = None
    lease_until: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> FileStep:
        """From a deserialized item (plain Python values; numbers may be Decimal)."""

        def text(name: str) -> str | None:
            value = item.get(name)
            return None if value is None else str(value)

        def integer(name: str) -> int | None:
            value = item.get(name)
            return None if value is None else int(value)

        seconds = item.get("instance_seconds")
        return cls(
            file_id=str(item["pk"]),
            step=str(item.get("step") or item["sk"]),
            key=str(item.get("key") or str(item["pk"]).rpartition("#")[0]),
            etag=str(item.get("etag") or ""),
            state=str(item.get("state") or "queued"),
            attempts=int(item.get("attempts") or 0),
            queued_at=text("queued_at"),
            started_at=text("started_at"),
            finished_at=text("finished_at"),
            updated_at=text("updated_at"),
            runner=text("runner"),
            instance_type=text("instance_type"),
            exit_code=integer("exit_code"),
            error=text("error"),
            stderr_tail=text("stderr_tail"),
            input=text("input"),
            result=text("result"),
            log_group=text("log_group"),
            log_stream=text("log_stream"),
            bytes_in=integer("bytes_in"),
            bytes_out=integer("bytes_out"),
            instance_seconds=None if seconds is None else float(seconds),
            lease_until=text("lease_until"),
        )

    def seconds(self, now: datetime | None = None) -> float | None:
        """Run time: started → finished, or → now while it runs; None before it started."""
        start = _parse_time(self.started_at)
        if start is None:
            return None
        end = _parse_time(self.finished_at)
        if end is None:
            if self.state != "running":
                return None
            end = now or datetime.now(UTC)
        return max(0.0, (end - start).total_seconds())

    @property
    def cost_usd(self) -> float | None:
        return cost_usd(self.instance_type, self.instance_seconds)

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "step": self.step,
            "state": self.state,
            "attempts": self.attempts,
            "seconds": _round(self.seconds(now)),
            "result": self.result,
            "error": self.error,
            "stderr_tail": self.stderr_tail,
            "log_stream": self.log_stream,
            "exit_code": self.exit_code,
            "cost_usd": _money(self.cost_usd),
        }


def overall_state(steps: Sequence[FileStep], last_step: str | None = None) -> str:
    """failed if any step failed; done if the last step is done; running if any runs; else
    queued. `last_step` is the pipeline's last step id (default: the last step recorded)."""
    states = [s.state for s in steps]
    if "failed" in states:
        return "failed"
    last = last_step or (steps[-1].step if steps else None)
    if any(s.step == last and s.state == "done" for s in steps):
        return "done"
    if "running" in states:
        return "running"
    return "queued"


def _step_order(step: str) -> tuple[int, str]:
    digits = step[1:] if step.startswith("s") else ""
    return (int(digits), step) if digits.isdigit() else (1 << 30, step)


@dataclass(frozen=True)
class FileRecord:
    """One input file version across its steps, with the overall figures `yunpipe files` shows."""

    key: str
    file_id: str
    state: str
    steps: tuple[FileStep, ...]
    attempts: int
    seconds: float | None
    result: str | None
    error: str | None
    cost_usd: float | None
    queued_at: str | None = field(default=None, compare=False)

    @classmethod
    def from_steps(
        cls, steps: Sequence[FileStep], last_step: str | None = None, now: datetime | None = None
    ) -> FileRecord:
        ordered = tuple(sorted(steps, key=lambda s: _step_order(s.step)))
        first = ordered[0]
        state = overall_state(ordered, last_step)
        durations = [d for s in ordered if (d := s.seconds(now)) is not None]
        costs = [c for s in ordered if (c := s.cost_usd) is not None]
        failing = next((s for s in ordered if s.state == "failed"), None)
        error = None
        if failing is not None:
            error = f"{failing.step}: {failing.error or 'failed'}"
            if failing.stderr_tail:
                error += "\n" + failing.stderr_tail.rstrip("\n")
        return cls(
            key=first.key,
            file_id=first.file_id,
            state=state,
            steps=ordered,
            attempts=sum(s.attempts for s in ordered),
            seconds=sum(durations) if durations else None,
            result=ordered[-1].result if state == "done" else None,
            error=error,
            cost_usd=sum(costs) if costs else None,
            queued_at=first.queued_at,
        )

    def step(self, step: str) -> FileStep | None:
        return next((s for s in self.steps if s.step == step), None)

    @property
    def current(self) -> FileStep:
        """The step that matters now: the failed one, else the furthest one reached."""
        return next((s for s in self.steps if s.state == "failed"), self.steps[-1])

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """The `yunpipe files --json` object."""
        return {
            "key": self.key,
            "state": self.state,
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
            "seconds": _round(self.seconds),
            "cost_usd": _money(self.cost_usd),
            "steps": [s.to_json(now) for s in self.steps],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# --------------------------------------------------------------------------- reading


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _item(raw: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    d = TypeDeserializer()
    return {k: _plain(d.deserialize(v)) for k, v in raw.items()}


def _fail(pipeline: str, exc: Exception) -> YunpipeError:
    from yunpipe_tui.aws import error_code, error_message

    table = names.ledger_table(pipeline)
    if error_code(exc) == "ResourceNotFoundException":
        return NoLedger(
            f"pipeline {pipeline!r} has no file ledger ({table}): it was deployed before yunpipe "
            "kept one, or torn down; deploy it again to follow its files"
        )
    return AwsError(f"reading the file ledger {table}: {error_message(exc)}")


def counts(ctx: AwsContext, pipeline: str) -> dict[str, dict[str, int]]:
    """step → {state: number of files}, from the counter items: ONE Query (paged only past
    1 MB, i.e. never in practice)."""
    ddb = ctx.client("dynamodb")
    out: dict[str, dict[str, int]] = {}
    kwargs: dict[str, Any] = {
        "TableName": names.ledger_table(pipeline),
        "KeyConditionExpression": "pk = :c",
        "ExpressionAttributeValues": {":c": {"S": COUNTS_PK}},
    }
    try:
        while True:
            page = ddb.query(**kwargs)
            for raw in page.get("Items", []):
                item = _item(raw)
                out[str(item["sk"])] = {s: max(0, int(item.get(s) or 0)) for s in STATES}
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except YunpipeError:
        raise
    except Exception as exc:
        raise _fail(pipeline, exc) from None
    return dict(sorted(out.items(), key=lambda kv: _step_order(kv[0])))


def _known_steps(ctx: AwsContext, pipeline: str) -> list[str]:
    """The pipeline's step ids: its deploy journal, else the steps the counters name."""
    try:
        from yunpipe_tui.deploy import journal

        record = journal.load(pipeline)
        if record is not None and record.steps:
            return [s.id for s in record.steps]
    except Exception:  # a broken journal: the ledger's own counters still know the steps
        pass
    return list(counts(ctx, pipeline))


def _group(items: Iterator[dict[str, Any]]) -> Iterator[list[FileStep]]:
    """Consecutive items of the same file id, as lists (a Scan returns a partition's items
    together)."""
    batch: list[FileStep] = []
    for item in items:
        if item.get("pk") == COUNTS_PK:
            continue
        step = FileStep.from_item(item)
        if batch and batch[0].file_id != step.file_id:
            yield batch
            batch = []
        batch.append(step)
    if batch:
        yield batch


def _pages(ddb: Any, method: str, kwargs: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    while True:
        page = getattr(ddb, method)(**kwargs)
        yield [_item(raw) for raw in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def _batch_get(
    ddb: Any, table: str, file_ids: Sequence[str], steps: Sequence[str]
) -> dict[str, list[FileStep]]:
    """Every step item of these files (BatchGetItem, 100 keys a call, unprocessed retried)."""
    keys = [{"pk": {"S": f}, "sk": {"S": s}} for f in file_ids for s in steps]
    found: dict[str, list[FileStep]] = {}
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": keys[start : start + 100]}}
        for _ in range(10):
            answer = ddb.batch_get_item(RequestItems=request)
            for raw in answer.get("Responses", {}).get(table, []):
                step = FileStep.from_item(_item(raw))
                found.setdefault(step.file_id, []).append(step)
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
    return found


def files(
    ctx: AwsContext,
    pipeline: str,
    state: str | None = None,
    limit: int | None = None,
    *,
    steps: Sequence[str] | None = None,
) -> Iterator[FileRecord]:
    """Every input file of the pipeline (one FileRecord per file version), paged lazily.

    With `state`: the `by-state` index (newest first), then the other steps' items of those files
    only (BatchGetItem); a file is listed when its OVERALL state is `state`. Without: a paged Scan.
    `steps` are the pipeline's step ids (default: its journal, else the counters).
    """
    if state is not None and state not in STATES:
        from yunpipe_tui.errors import InputError

        raise InputError(f"--state {state!r}: use one of {', '.join(STATES)}")
    ddb = ctx.client("dynamodb")
    table = names.ledger_table(pipeline)
    try:
        order = list(steps) if steps else _known_steps(ctx, pipeline)
        last = order[-1] if order else None
        now = datetime.now(UTC)
        shown = 0
        if state is None:
            items = (i for page in _pages(ddb, "scan", {"TableName": table}) for i in page)
            for group in _group(items):
                yield FileRecord.from_steps(group, last, now)
                shown += 1
                if limit is not None and shown >= limit:
                    return
            return
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": BY_STATE,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {":s": {"S": state}},
            "ScanIndexForward": False,
        }
        if state == "done" and last:  # a file is done when its LAST step is
            kwargs["FilterExpression"] = "sk = :last"
            kwargs["ExpressionAttributeValues"][":last"] = {"S": last}
        seen: set[str] = set()
        for page in _pages(ddb, "query", kwargs):
            ids = list(dict.fromkeys(str(i["pk"]) for i in page if str(i["pk"]) not in seen))
            seen.update(ids)
            if not ids:
                continue
            found = _batch_get(ddb, table, ids, order) if order else {}
            for item in page:  # the page's own items, in case the steps are not known
                step = FileStep.from_item(item)
                have = found.setdefault(step.file_id, [])
                if not any(s.step == step.step for s in have):
                    have.append(step)
            for file_id in ids:
                record = FileRecord.from_steps(found[file_id], last, now)
                if record.state != state:
                    continue
                yield record
                shown += 1
                if limit is not None and shown >= limit:
                    return
    except YunpipeError:
        raise
    except Exception as exc:
        raise _fail(pipeline, exc) from None


def file_story(
    ctx: AwsContext, pipeline: str, key: str, *, steps: Sequence[str] | None = None
) -> list[FileRecord]:
    """Every version of the input `key` (oldest first), each across its steps: the `by-key`
    index."""
    ddb = ctx.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": names.ledger_table(pipeline),
        "IndexName": BY_KEY,
        "KeyConditionExpression": "#k = :k",
        "ExpressionAttributeNames": {"#k": "key"},
        "ExpressionAttributeValues": {":k": {"S": key}},
    }
    try:
        order = list(steps) if steps else _known_steps(ctx, pipeline)
        by_file: dict[str, list[FileStep]] = {}
        for page in _pages(ddb, "query", kwargs):
            for item in page:
                step = FileStep.from_item(item)
                by_file.setdefault(step.file_id, []).append(step)
    except YunpipeError:
        raise
    except Exception as exc:
        raise _fail(pipeline, exc) from None
    last = order[-1] if order else None
    now = datetime.now(UTC)
    records = [FileRecord.from_steps(group, last, now) for group in by_file.values()]
    return sorted(records, key=lambda r: r.queued_at or "")


def story_lines(record: FileRecord) -> list[str]:
    """One file's story as plain lines, for `yunpipe files show`, the demo and the Files view."""
    from yunpipe_tui.monitor_rows import format_duration

    head = f"{record.key}  {record.state}"
    if record.cost_usd is not None:
        head += f"  ~${record.cost_usd:.6f} ({COST_LABEL})"
    lines = [head, f"  file id {record.file_id}"]
    for s in record.steps:
        took = format_duration(s.seconds())
        attempts = f"{s.attempts} attempt{'s' if s.attempts != 1 else ''}"
        lines.append(f"  {s.step}: {s.state}, {attempts}, {took}")
        for label, value in (
            ("queued", s.queued_at),
            ("started", s.started_at),
            ("finished", s.finished_at),
            ("ran on", s.runner),
            ("read", s.input),
            ("wrote", s.result),
            ("log", f"{s.log_group} {s.log_stream}" if s.log_stream else None),
        ):
            if value:
                lines.append(f"      {label:<8} {value}")
        if s.exit_code is not None and s.exit_code != 0:
            lines.append(f"      exit     {s.exit_code}")
        if s.error:
            lines.append(f"      reason   {s.error}")
        if s.stderr_tail:
            lines.append("      stderr (last lines):")
            lines.extend(f"        {line}" for line in s.stderr_tail.rstrip("\n").splitlines())
    return lines


def dumps(records: Sequence[FileRecord]) -> str:
    return json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False)
