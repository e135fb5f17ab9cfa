"""The file ledger, read side: what happened to each input file, step by step (issue 12).

The table (`yunpipe-<pipeline>-ledger`, one per pipeline) holds one item per input file version
and step, written by the dispatcher (`queued`) and the runner (claim, outcome); see
/work/wt/LEDGER.md for the contract. This module only reads it, plus one action: moving failed
files' messages back from the dead-letter queues (`redrive_failed`).

Polls stay cheap at any size: `counts` is one Query of the counter items, `files(state=...)`
reads the `by-state` index, `file_story` the `by-key` index. Only `files()` without a state
scans the table (the `files` command's full listing, never the monitor's poll).

A pipeline deployed before the ledger existed has no table: every reader returns nothing.
Costs are estimates: instance-seconds times the instance type's on-demand hourly price.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.assets import load_json
from yunpipe_tui.aws import AwsContext, is_gone

STATES = ("queued", "running", "done", "failed")
COUNTS_PK = "#counts"
BY_STATE_INDEX = "by-state"
BY_KEY_INDEX = "by-key"
COST_LABEL = "estimated"  # every cost shown is an estimate (on-demand price × instance-seconds)
BATCH_GET_MAX = 100  # keys per BatchGetItem
MICROS = 1_000_000


# --------------------------------------------------------------------------- cost


def price_per_hour(instance_type: str) -> float | None:
    """On-demand USD/hour (us-east-1) of an instance type listed in instance_types.json."""
    for t in load_json("instance_types.json")["types"]:
        if t["name"] == instance_type:
            return float(t["price"])
    return None


def cost_usd(instance_type: str, instance_seconds: float | None) -> float | None:
    """Estimated cost of `instance_seconds` on `instance_type`; None when either is unknown."""
    price = price_per_hour(instance_type) if instance_type else None
    if price is None or instance_seconds is None:
        return None
    return round(price * instance_seconds / 3600.0, 6)


# --------------------------------------------------------------------------- records


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


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


def _step_number(step: str) -> int:
    try:
        return int(step.lstrip("s"))
    except ValueError:
        return 0


@dataclass(frozen=True)
class FileStep:
    """One ledger item: one input file version at one step."""

    file_id: str
    step: str
    key: str
    state: str
    etag: str = ""
    attempts: int = 0
    queued_at: str = ""
    started_at: str = ""
    finished_at: str = ""
    updated_at: str = ""
    runner: str = ""
    instance_type: str = ""
    exit_code: int | None = None
    error: str = ""
    stderr_tail: str = ""
    input: str = ""
    result: str = ""
    log_group: str = ""
    log_stream: str = ""
    bytes_in: int | None = None
    bytes_out: int | None = None
    instance_seconds: float | None = None
    lease_until: str = ""

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> FileStep:
        """From a deserialized item (boto3's resource or TypeDeserializer form)."""
        text = {
            k: str(item.get(k) or "")
            for k in (
                "etag",
                "queued_at",
                "started_at",
                "finished_at",
                "updated_at",
                "runner",
                "instance_type",
                "error",
                "stderr_tail",
                "input",
                "result",
                "log_group",
                "log_stream",
                "lease_until",
            )
        }
        return cls(
            file_id=str(item["pk"]),
            step=str(item["sk"]),
            key=str(item.get("key") or ""),
            state=str(item.get("state") or "queued"),
            attempts=_int(item.get("attempts")) or 0,
            exit_code=_int(item.get("exit_code")),
            bytes_in=_int(item.get("bytes_in")),
            bytes_out=_int(item.get("bytes_out")),
            instance_seconds=_float(item.get("instance_seconds")),
            **text,
        )

    @property
    def seconds(self) -> float | None:
        """How long the step ran: the runner's measured wall time, else from its timestamps
        (until now while it runs)."""
        if self.instance_seconds is not None:
            return self.instance_seconds
        start = _parse_time(self.started_at)
        if start is None:
            return None
        end = _parse_time(self.finished_at)
        if end is None:
            if self.state != "running":
                return None
            end = datetime.now(UTC)
        return max(0.0, (end - start).total_seconds())

    @property
    def cost_usd(self) -> float | None:
        """Estimated cost of this step's finished runs."""
        return cost_usd(self.instance_type, self.instance_seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "state": self.state,
            "attempts": self.attempts,
            "seconds": _round(self.seconds),
            "result": self.result or None,
            "error": self.error or None,
            "stderr_tail": self.stderr_tail or None,
            "log_stream": self.log_stream or None,
            "exit_code": self.exit_code,
            "cost_usd": self.cost_usd,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def overall_state(steps: Iterable[FileStep]) -> str:
    """failed if any step failed; done if the last step is done; running if any runs; else
    queued. The runner writes step k's `done` and step k+1's `queued` in one transaction, so
    the last item present being `done` means the file went through every step."""
    ordered = sorted(steps, key=lambda s: _step_number(s.step))
    if not ordered:
        return "queued"
    states = {s.state for s in ordered}
    if "failed" in states:
        return "failed"
    if ordered[-1].state == "done":
        return "done"
    if "running" in states:
        return "running"
    return "queued"


@dataclass(frozen=True)
class FileRecord:
    """One input file (one upload: key + ETag/version) across the pipeline's steps."""

    key: str
    file_id: str
    state: str
    steps: tuple[FileStep, ...]
    attempts: int
    seconds: float | None
    result: str | None
    error: str | None
    cost_usd: float | None
    queued_at: str = field(default="")

    @classmethod
    def from_steps(cls, steps: Iterable[FileStep]) -> FileRecord:
        ordered = tuple(sorted(steps, key=lambda s: _step_number(s.step)))
        if not ordered:
            raise ValueError("a file record needs at least one step item")
        first, last = ordered[0], ordered[-1]
        state = overall_state(ordered)
        durations = [s.seconds for s in ordered if s.seconds is not None]
        costs = [c for c in (s.cost_usd for s in ordered) if c is not None]
        error = None
        if state == "failed":
            bad = next(s for s in ordered if s.state == "failed")
            error = f"{bad.step}: {bad.error or 'failed'}"
            if bad.stderr_tail:
                error += "\n" + bad.stderr_tail
        return cls(
            key=first.key,
            file_id=first.file_id,
            state=state,
            steps=ordered,
            attempts=sum(s.attempts for s in ordered),
            seconds=sum(durations) if durations else None,
            result=(last.result or None) if state == "done" else None,
            error=error,
            cost_usd=round(sum(costs), 6) if costs else None,
            queued_at=first.queued_at,
        )

    @property
    def failed_step(self) -> FileStep | None:
        return next((s for s in self.steps if s.state == "failed"), None)

    def to_json(self) -> dict[str, Any]:
        """The object `files --json` prints for this file."""
        return {
            "key": self.key,
            "file_id": self.file_id,
            "state": self.state,
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
            "seconds": _round(self.seconds),
            "cost_usd": self.cost_usd,
            "steps": [s.to_json() for s in self.steps],
        }


# --------------------------------------------------------------------------- reading


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    d = TypeDeserializer()
    return {k: d.deserialize(v) for k, v in item.items()}


def _client(ctx: AwsContext) -> Any:
    return ctx.client("dynamodb")


def _pages(call: Any, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
    """Pages of deserialized items of a Query/Scan; nothing when the table does not exist."""
    start: dict[str, Any] | None = None
    while True:
        if start:
            kwargs["ExclusiveStartKey"] = start
        try:
            answer = call(**kwargs)
        except Exception as exc:
            if is_gone(exc):
                return
            raise
        yield [_deserialize(i) for i in answer.get("Items", [])]
        start = answer.get("LastEvaluatedKey")
        if not start:
            return


@dataclass(frozen=True)
class StepTotals:
    """One step's counter item: files per state and what finished runs cost so far."""

    counts: dict[str, int]
    instance_seconds: float
    cost_usd: float


def totals(ctx: AwsContext, pipeline: str) -> dict[str, StepTotals]:
    """Every step's counter item, in ONE Query whatever the number of files."""
    out: dict[str, StepTotals] = {}
    table = names.ledger_table(pipeline)
    for page in _pages(
        _client(ctx).query,
        TableName=table,
        KeyConditionExpression="pk = :c",
        ExpressionAttributeValues={":c": {"S": COUNTS_PK}},
    ):
        for item in page:
            out[str(item["sk"])] = StepTotals(
                counts={s: max(0, _int(item.get(s)) or 0) for s in STATES},
                instance_seconds=_float(item.get("instance_seconds")) or 0.0,
                cost_usd=(_float(item.get("cost_usd_micros")) or 0.0) / MICROS,
            )
    return dict(sorted(out.items(), key=lambda kv: _step_number(kv[0])))


def counts(ctx: AwsContext, pipeline: str) -> dict[str, dict[str, int]]:
    """{step: {state: number of files}} from one Query; {} when the pipeline has no ledger."""
    return {step: t.counts for step, t in totals(ctx, pipeline).items()}


def _group(items: Iterable[dict[str, Any]]) -> dict[str, list[FileStep]]:
    grouped: dict[str, list[FileStep]] = {}
    for item in items:
        pk = str(item.get("pk", ""))
        if not pk or pk.startswith("#"):
            continue
        grouped.setdefault(pk, []).append(FileStep.from_item(item))
    return grouped


def _scan_all(ctx: AwsContext, table: str) -> Iterator[FileRecord]:
    """Every file, page by page. A partition's items come together in a scan, but a page may
    end inside one: the last file of a page waits for the next page."""
    pending: dict[str, list[FileStep]] = {}
    for page in _pages(_client(ctx).scan, TableName=table):
        grouped = _group(page)
        for pk, steps in grouped.items():
            pending.setdefault(pk, []).extend(steps)
        last = str(page[-1].get("pk", "")) if page else ""
        for pk in [p for p in pending if p != last]:
            yield FileRecord.from_steps(pending.pop(pk))
    for steps in pending.values():
        yield FileRecord.from_steps(steps)


def _batch_get(ctx: AwsContext, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items for the keys (BatchGetItem in chunks of 100, unprocessed keys asked again)."""
    client = _client(ctx)
    found: list[dict[str, Any]] = []
    for i in range(0, len(keys), BATCH_GET_MAX):
        request: dict[str, Any] = {table: {"Keys": keys[i : i + BATCH_GET_MAX]}}
        for _ in range(8):
            answer = client.batch_get_item(RequestItems=request)
            found += [_deserialize(x) for x in answer.get("Responses", {}).get(table, [])]
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
    return found


def _by_state(ctx: AwsContext, table: str, state: str, step_ids: list[str]) -> Iterator[FileRecord]:
    seen: set[str] = set()
    for page in _pages(
        _client(ctx).query,
        TableName=table,
        IndexName=BY_STATE_INDEX,
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":s": {"S": state}},
        ScanIndexForward=False,  # most recently changed first
    ):
        fresh = []
        for item in page:
            pk = str(item["pk"])
            if pk not in seen:
                seen.add(pk)
                fresh.append(item)
        if not fresh:
            continue
        # The file's other steps: one BatchGetItem per 100 keys, never a query per file.
        keys = [
            {"pk": {"S": str(item["pk"])}, "sk": {"S": s}}
            for item in fresh
            for s in step_ids
            if s != str(item["sk"])
        ]
        grouped = _group(fresh + (_batch_get(ctx, table, keys) if keys else []))
        for item in fresh:
            record = FileRecord.from_steps(grouped[str(item["pk"])])
            if record.state == state:
                yield record


def files(
    ctx: AwsContext, pipeline: str, state: str | None = None, limit: int | None = None
) -> Iterator[FileRecord]:
    """The pipeline's files, paging through any number of them.

    With `state`: the files whose overall state it is, most recently changed first, from the
    `by-state` index (plus one BatchGetItem per 100 for their other steps). Without: a paginated
    scan, in no particular order (the `files` command's full listing; not for polls)."""
    if state is not None and state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    if limit is not None and limit <= 0:
        return
    table = names.ledger_table(pipeline)
    if state is None:
        source = _scan_all(ctx, table)
    else:
        step_ids = list(totals(ctx, pipeline))
        source = _by_state(ctx, table, state, step_ids)
    for n, record in enumerate(source, start=1):
        yield record
        if limit is not None and n >= limit:
            return


def file_story(ctx: AwsContext, pipeline: str, key: str) -> list[FileRecord]:
    """Every upload (version) of input key `key` across the steps, oldest first, from the
    `by-key` index."""
    items: list[dict[str, Any]] = []
    for page in _pages(
        _client(ctx).query,
        TableName=names.ledger_table(pipeline),
        IndexName=BY_KEY_INDEX,
        KeyConditionExpression="#k = :k",
        ExpressionAttributeNames={"#k": "key"},
        ExpressionAttributeValues={":k": {"S": key}},
    ):
        items += page
    records = [FileRecord.from_steps(steps) for steps in _group(items).values()]
    return sorted(records, key=lambda r: r.queued_at)


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


def _split_s3(uri: str) -> tuple[str, str] | None:
    if not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[len("s3://") :].partition("/")
    return (bucket, key) if bucket and key else None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _requeue_item(ctx: AwsContext, table: str, step: FileStep) -> None:
    """failed -> queued for a redriven file, with its counters, in one transaction."""
    now = _now()
    try:
        _client(ctx).transact_write_items(
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
    schedule starts tasks for the backlog as it does for any queued work."""
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
    step_ids = sorted({s.step for s in wanted.values()}, key=_step_number)
    if key is None:
        step_ids = sorted(set(step_ids) | set(totals(ctx, pipeline)), key=_step_number)
    sqs = ctx.client("sqs")
    moved = 0
    for step_id in step_ids:
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
