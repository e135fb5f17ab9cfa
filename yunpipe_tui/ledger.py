"""Reading a pipeline's file ledger (DynamoDB, one item per input file version and step).

The table's shape is the ledger contract (/work/wt/LEDGER.md): `pk` = file id
(`<input key>#<etag or version>`), `sk` = step id; counter items under pk `#counts`; the GSIs
`by-state` (state, updated_at) and `by-key` (key, queued_at). The dispatcher and the runners
write it; `yunpipe files`, `yunpipe logs`, the monitor and the demo read it through this module.
One action besides reading: `redrive_failed` moves failed files back to their work queues.

Costs: `counts`/`totals` is ONE Query whatever the number of files (the monitor's poll);
`files(state=...)` reads the `by-state` index and fetches the other steps of those files only;
`files()` without a state pages a Scan (for `yunpipe files`, never for a poll).

A pipeline without a ledger table (deployed before yunpipe kept one, or torn down with
--delete-buckets) raises `NoLedger` from every reader: `yunpipe files` says so in one line, the
monitor asks once and stops, the demo falls back to the dead-letter queue.

Every cost is an estimate: instance-seconds × the instance type's on-demand hourly price.
Pure core: no Textual, no Rich.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.errors import AwsError, InputError, YunpipeError

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext

STATES = ("queued", "running", "done", "failed")
COUNTS_PK = "#counts"
BY_STATE = BY_STATE_INDEX = "by-state"
BY_KEY = BY_KEY_INDEX = "by-key"
COST_LABEL = "estimated"  # every cost shown is an estimate: on-demand price × instance-seconds
BATCH_GET_MAX = 100  # keys per BatchGetItem
MICROS = 1_000_000  # the counters keep cost in micro-dollars (integers add exactly)


class NoLedger(YunpipeError):
    """The pipeline has no ledger table (deployed before yunpipe kept one, or torn down)."""


class UnknownState(InputError, ValueError):
    """A state that is none of STATES (a usage error for the CLI, a ValueError for code)."""


# --------------------------------------------------------------------------- cost


@cache
def _prices() -> dict[str, float]:
    from yunpipe_tui.assets import load_json

    return {
        t["name"]: float(t.get("price", 0.0)) for t in load_json("instance_types.json")["types"]
    }


def price_per_hour(instance_type: str | None) -> float | None:
    """On-demand USD/hour (us-east-1) of an instance type listed in instance_types.json."""
    return _prices().get(instance_type) if instance_type else None


def cost_usd(instance_type: str | None, instance_seconds: float | None) -> float | None:
    """An ESTIMATE: the instance type's on-demand price per hour (assets/instance_types.json,
    us-east-1) × the instance-seconds the step used. None when either is unknown."""
    price = price_per_hour(instance_type)
    if price is None or instance_seconds is None:
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


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _step_order(step: str) -> tuple[int, str]:
    digits = step[1:] if step.startswith("s") else ""
    return (int(digits), step) if digits.isdigit() else (1 << 30, step)


@dataclass(frozen=True)
class FileStep:
    """One ledger item: what one step did (or is doing) with one input file version.

    Text attributes the writers have not set (yet) are None."""

    file_id: str
    step: str
    key: str = ""
    state: str = "queued"
    etag: str = ""
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
        """From a deserialized item (plain Python values; numbers may be Decimal or, from a
        raw attribute map, numeric strings). Reads every attribute the dispatcher (`queued`)
        and the runner (claim, outcome, next step's `queued`) write."""

        def text(name: str) -> str | None:
            value = item.get(name)
            return None if value is None or value == "" else str(value)

        return cls(
            file_id=str(item["pk"]),
            step=str(item.get("step") or item["sk"]),
            key=str(item.get("key") or str(item["pk"]).rpartition("#")[0]),
            state=str(item.get("state") or "queued"),
            etag=str(item.get("etag") or ""),
            attempts=_int(item.get("attempts")) or 0,
            queued_at=text("queued_at"),
            started_at=text("started_at"),
            finished_at=text("finished_at"),
            updated_at=text("updated_at"),
            runner=text("runner"),
            instance_type=text("instance_type"),
            exit_code=_int(item.get("exit_code")),
            error=text("error"),
            stderr_tail=text("stderr_tail"),
            input=text("input"),
            result=text("result"),
            log_group=text("log_group"),
            log_stream=text("log_stream"),
            bytes_in=_int(item.get("bytes_in")),
            bytes_out=_int(item.get("bytes_out")),
            instance_seconds=_float(item.get("instance_seconds")),
            lease_until=text("lease_until"),
        )

    def seconds(self, now: datetime | None = None) -> float | None:
        """How long the algorithm ran for this file at this step: the runner's measured
        instance-seconds (every attempt's), plus the current attempt's until `now` while it
        runs; from the timestamps when the runner measured none. None before it started."""
        start = _parse_time(self.started_at)
        if self.state == "running" and start is not None:
            live = ((now or datetime.now(UTC)) - start).total_seconds()
            return (self.instance_seconds or 0.0) + max(0.0, live)
        if self.instance_seconds is not None:
            return self.instance_seconds
        end = _parse_time(self.finished_at)
        if start is None or end is None:
            return None
        return max(0.0, (end - start).total_seconds())

    @property
    def cost_usd(self) -> float | None:
        """Estimated cost of this step's finished runs."""
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


def overall_state(steps: Iterable[FileStep], last_step: str | None = None) -> str:
    """failed if any step failed; done if the last step is done; running if any runs; else
    queued. `last_step` is the pipeline's last step id; by default the last step recorded (the
    runner writes step k's `done` and step k+1's `queued` in one transaction, so the last item
    present being `done` means the file went through every step)."""
    ordered = sorted(steps, key=lambda s: _step_order(s.step))
    states = {s.state for s in ordered}
    if "failed" in states:
        return "failed"
    last = last_step or (ordered[-1].step if ordered else None)
    if any(s.step == last and s.state == "done" for s in ordered):
        return "done"
    if "running" in states:
        return "running"
    return "queued"


@dataclass(frozen=True)
class FileRecord:
    """One input file version (one upload: key + ETag/version) across its steps, with the
    overall figures `yunpipe files` shows."""

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
        cls, steps: Iterable[FileStep], last_step: str | None = None, now: datetime | None = None
    ) -> FileRecord:
        ordered = tuple(sorted(steps, key=lambda s: _step_order(s.step)))
        if not ordered:
            raise ValueError("a file record needs at least one step item")
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
    def failed_step(self) -> FileStep | None:
        return next((s for s in self.steps if s.state == "failed"), None)

    @property
    def current(self) -> FileStep:
        """The step that matters now: the failed one, else the furthest one reached."""
        return self.failed_step or self.steps[-1]

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


def _pages(ddb: Any, method: str, kwargs: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Pages of deserialized items of a Query/Scan."""
    while True:
        page = getattr(ddb, method)(**kwargs)
        yield [_item(raw) for raw in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


@dataclass(frozen=True)
class StepTotals:
    """One step's counter item: files per state and what its finished runs cost so far."""

    counts: dict[str, int]
    instance_seconds: float
    cost_usd: float


def totals(ctx: AwsContext, pipeline: str) -> dict[str, StepTotals]:
    """Every step's counter item, in ONE Query whatever the number of files (paged only past
    1 MB, i.e. never in practice), in step order."""
    out: dict[str, StepTotals] = {}
    kwargs: dict[str, Any] = {
        "TableName": names.ledger_table(pipeline),
        "KeyConditionExpression": "pk = :c",
        "ExpressionAttributeValues": {":c": {"S": COUNTS_PK}},
    }
    try:
        for page in _pages(ctx.client("dynamodb"), "query", kwargs):
            for item in page:
                out[str(item["sk"])] = StepTotals(
                    counts={s: max(0, _int(item.get(s)) or 0) for s in STATES},
                    instance_seconds=_float(item.get("instance_seconds")) or 0.0,
                    cost_usd=(_float(item.get("cost_usd_micros")) or 0.0) / MICROS,
                )
    except YunpipeError:
        raise
    except Exception as exc:
        raise _fail(pipeline, exc) from None
    return dict(sorted(out.items(), key=lambda kv: _step_order(kv[0])))


def counts(ctx: AwsContext, pipeline: str) -> dict[str, dict[str, int]]:
    """step → {state: number of files}, from the counter items: ONE Query."""
    return {step: t.counts for step, t in totals(ctx, pipeline).items()}


def _file_items(items: Iterable[dict[str, Any]]) -> dict[str, list[FileStep]]:
    """File id → its step items (counter items left out)."""
    grouped: dict[str, list[FileStep]] = {}
    for item in items:
        pk = str(item.get("pk", ""))
        if not pk or pk == COUNTS_PK:
            continue
        grouped.setdefault(pk, []).append(FileStep.from_item(item))
    return grouped


def _scan_all(ddb: Any, table: str) -> Iterator[list[FileStep]]:
    """Every file's items, page by page. A partition's items come together in a scan, but a
    page may end inside one: the last file of a page waits for the next page."""
    pending: dict[str, list[FileStep]] = {}
    for page in _pages(ddb, "scan", {"TableName": table}):
        for pk, steps in _file_items(page).items():
            pending.setdefault(pk, []).extend(steps)
        last = str(page[-1].get("pk", "")) if page else ""
        for pk in [p for p in pending if p != last]:
            yield pending.pop(pk)
    yield from pending.values()


def _batch_get(ddb: Any, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items for the keys (BatchGetItem, 100 keys a call, unprocessed keys asked again)."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_MAX):
        request: dict[str, Any] = {table: {"Keys": keys[start : start + BATCH_GET_MAX]}}
        for _ in range(10):
            answer = ddb.batch_get_item(RequestItems=request)
            found += [_item(raw) for raw in answer.get("Responses", {}).get(table, [])]
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
    return found


def _by_state(ddb: Any, table: str, state: str, order: Sequence[str]) -> Iterator[list[FileStep]]:
    """The items of the files that have an item in `state`, newest change first: the `by-state`
    index, plus one BatchGetItem per 100 keys for those files' other steps."""
    last = order[-1] if order else None
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
        fresh: list[dict[str, Any]] = []
        for item in page:
            pk = str(item["pk"])
            if pk not in seen:
                seen.add(pk)
                fresh.append(item)
        if not fresh:
            continue
        keys = [
            {"pk": {"S": str(item["pk"])}, "sk": {"S": s}}
            for item in fresh
            for s in order
            if s != str(item["sk"])
        ]
        grouped = _file_items(fresh + (_batch_get(ddb, table, keys) if keys else []))
        for item in fresh:
            yield grouped[str(item["pk"])]


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
    only (BatchGetItem); a file is listed when its OVERALL state is `state`. Without: a paged Scan,
    in no particular order. `steps` are the pipeline's step ids (default: the ones its counters
    name, one Query). Raises NoLedger when the pipeline has none.
    """
    if state is not None and state not in STATES:
        raise UnknownState(f"--state {state!r}: use one of {', '.join(STATES)}")
    if limit is not None and limit <= 0:
        return
    ddb = ctx.client("dynamodb")
    table = names.ledger_table(pipeline)
    try:
        order = list(steps) if steps else list(totals(ctx, pipeline))
        last = order[-1] if order else None
        now = datetime.now(UTC)
        source = _scan_all(ddb, table) if state is None else _by_state(ddb, table, state, order)
        shown = 0
        for group in source:
            record = FileRecord.from_steps(group, last, now)
            if state is not None and record.state != state:
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
    index. Raises NoLedger when the pipeline has none."""
    ddb = ctx.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": names.ledger_table(pipeline),
        "IndexName": BY_KEY,
        "KeyConditionExpression": "#k = :k",
        "ExpressionAttributeNames": {"#k": "key"},
        "ExpressionAttributeValues": {":k": {"S": key}},
    }
    try:
        items = [item for page in _pages(ddb, "query", kwargs) for item in page]
    except Exception as exc:
        raise _fail(pipeline, exc) from None
    last = steps[-1] if steps else None
    now = datetime.now(UTC)
    records = [FileRecord.from_steps(group, last, now) for group in _file_items(items).values()]
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


# --------------------------------------------------------------------------- redrive


def _records_of(body: str) -> list[tuple[str, str]]:
    """(bucket, key) of each S3 record in a queue message body."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return []
    out = []
    for record in (data.get("Records") or []) if isinstance(data, dict) else []:
        s3 = record.get("s3") if isinstance(record, dict) else None
        if isinstance(s3, dict):
            bucket = (s3.get("bucket") or {}).get("name")
            obj = (s3.get("object") or {}).get("key")
            if bucket and obj:
                out.append((str(bucket), urllib.parse.unquote_plus(str(obj))))
    return out


def _split_s3(uri: str | None) -> tuple[str, str] | None:
    if not uri or not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[len("s3://") :].partition("/")
    return (bucket, key) if bucket and key else None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _requeue_item(ctx: AwsContext, table: str, step: FileStep) -> None:
    """failed → queued for a redriven file, with its counters, in one transaction."""
    now = _now()
    try:
        ctx.client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": step.file_id}, "sk": {"S": step.step}},
                        "UpdateExpression": "SET #s = :q, updated_at = :now, queued_at = :now",
                        "ConditionExpression": "#s = :f",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {
                            ":q": {"S": "queued"},
                            ":f": {"S": "failed"},
                            ":now": {"S": now},
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": COUNTS_PK}, "sk": {"S": step.step}},
                        "UpdateExpression": "ADD failed :m, queued :p",
                        "ExpressionAttributeValues": {":m": {"N": "-1"}, ":p": {"N": "1"}},
                    }
                },
            ]
        )
    except Exception as exc:
        # Someone else changed it first (a runner claimed it): nothing left to mark.
        if "TransactionCanceled" not in type(exc).__name__ and "Conditional" not in str(exc):
            raise


def redrive_failed(ctx: AwsContext, pipeline: str, key: str | None = None) -> int:
    """Move failed files' messages from the steps' dead-letter queues back to their work
    queues (one file's when `key` is given, every failed file's otherwise), and mark their
    ledger items `queued` again. Returns how many messages were moved. The dispatchers'
    schedule starts tasks for the backlog as it does for any queued work. Raises NoLedger
    when the pipeline has none (the monitor's redrive moves dead letters without one)."""
    from yunpipe_tui.aws import is_gone

    table = names.ledger_table(pipeline)
    failed = (
        file_story(ctx, pipeline, key) if key is not None else list(files(ctx, pipeline, "failed"))
    )
    wanted: dict[tuple[str, str], FileStep] = {}
    for record in failed:
        for step in record.steps:
            where = _split_s3(step.input) if step.state == "failed" else None
            if where:
                wanted[where] = step
    step_ids = {s.step for s in wanted.values()}
    if key is None:
        step_ids |= set(totals(ctx, pipeline))
    sqs = ctx.client("sqs")
    moved = 0
    for step_id in sorted(step_ids, key=_step_order):
        try:
            dlq = sqs.get_queue_url(QueueName=names.dead_letter_queue(pipeline, step_id))
            queue = sqs.get_queue_url(QueueName=names.queue(pipeline, step_id))
        except Exception as exc:
            if is_gone(exc):
                continue
            raise
        moved += _move(ctx, table, dlq["QueueUrl"], queue["QueueUrl"], wanted, key is None)
    return moved


def _move(
    ctx: AwsContext,
    table: str,
    dlq_url: str,
    queue_url: str,
    wanted: Mapping[tuple[str, str], FileStep],
    everything: bool,
) -> int:
    sqs = ctx.client("sqs")
    moved = 0
    skipped: list[str] = []
    seen: set[str] = set()
    while True:
        answer = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
        )
        messages = answer.get("Messages") or []
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for m in fresh:
            seen.add(m["MessageId"])
            records = _records_of(m.get("Body", ""))
            hits = [wanted[r] for r in records if r in wanted]
            if not (hits or everything):
                skipped.append(m["ReceiptHandle"])
                continue
            sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
            for step in hits:
                _requeue_item(ctx, table, step)
    for handle in skipped:  # others' messages: visible again at once
        sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return moved
