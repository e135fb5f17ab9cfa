"""A file ledger built by hand in moto, exactly as the ledger contract describes it (the table,
its two indexes, file items and the `#counts` counter items), so the readers are tested without
the dispatcher or the runner."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from yunpipe_tui import resource_names as names

T0 = datetime(2026, 12, 1, 5, 0, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def create_ledger(aws: Any, pipeline: str) -> str:
    """The ledger table per the contract; returns its name."""
    table = names.ledger_table(pipeline)
    aws.client("dynamodb").create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True},
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"}
            for n in ("pk", "sk", "state", "updated_at", "key", "queued_at")
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-state",
                "KeySchema": [
                    {"AttributeName": "state", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by-key",
                "KeySchema": [
                    {"AttributeName": "key", "KeyType": "HASH"},
                    {"AttributeName": "queued_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        Tags=[{"Key": names.TAG_PIPELINE, "Value": pipeline}],
    )
    return table


def log_stream(file_id: str, step: str) -> str:
    return f"files/{step}/{hashlib.sha256(file_id.encode()).hexdigest()[:32]}"


def step_item(
    pipeline: str,
    key: str,
    step: str,
    state: str,
    *,
    etag: str = "e1",
    attempts: int = 1,
    at: datetime = T0,
    seconds: float = 4.0,
    error: str | None = None,
    stderr_tail: str | None = None,
    exit_code: int | None = None,
    instance_type: str = "t3.micro",
    runner: str = "arn:aws:ecs:us-east-1:123456789012:task/yunpipe-demo/abc123",
    result_bucket: str = "yunpipe-test-output",
) -> dict[str, Any]:
    """A file item (plain values) as the runner leaves it in `state`."""
    file_id = f"{key}#{etag}"
    item: dict[str, Any] = {
        "pk": file_id,
        "sk": step,
        "key": key,
        "etag": etag,
        "step": step,
        "state": state,
        "attempts": attempts,
        "queued_at": iso(at),
        "updated_at": iso(at + timedelta(seconds=seconds + 1)),
        "input": f"s3://yunpipe-test-input/{key}",
        "log_group": names.log_group(pipeline),
        "log_stream": log_stream(file_id, step),
    }
    if state in ("running", "done", "failed"):
        item["started_at"] = iso(at + timedelta(seconds=1))
        item["runner"] = runner
        item["instance_type"] = instance_type
    if state in ("done", "failed"):
        item["finished_at"] = iso(at + timedelta(seconds=1 + seconds))
        item["instance_seconds"] = str(seconds)
    if state == "done":
        item["exit_code"] = 0
        item["result"] = f"s3://{result_bucket}/Result-{step}-{key}"
        item["bytes_out"] = 12
    if error is not None:
        item["error"] = error
    if stderr_tail is not None:
        item["stderr_tail"] = stderr_tail
    if exit_code is not None:
        item["exit_code"] = exit_code
    return item


def put_items(aws: Any, pipeline: str, items: list[dict[str, Any]]) -> None:
    """Write the items and add them to the `#counts` counters (as the writers' transactions
    do)."""
    from decimal import Decimal

    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    ddb = aws.client("dynamodb")
    table = names.ledger_table(pipeline)
    totals: dict[str, dict[str, int]] = {}
    for item in items:
        plain = {
            k: Decimal(v) if k == "instance_seconds" else v
            for k, v in item.items()
            if v is not None
        }
        ddb.put_item(TableName=table, Item={k: ser.serialize(v) for k, v in plain.items()})
        per_step = totals.setdefault(item["sk"], {})
        per_step[item["state"]] = per_step.get(item["state"], 0) + 1
    for step, per_state in totals.items():
        names_ = {f"#{s}": s for s in per_state}
        values = {f":{s}": {"N": str(n)} for s, n in per_state.items()}
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "#counts"}, "sk": {"S": step}},
            UpdateExpression="ADD " + ", ".join(f"#{s} :{s}" for s in per_state),
            ExpressionAttributeNames=names_,
            ExpressionAttributeValues=values,
        )


FAIL_TAIL = "transform: bad.bin is not UTF-8 text (byte 0xff at offset 0)\n"


def demo_ledger(aws: Any, pipeline: str) -> None:
    """A two-step ledger: two files done, one failed at s1, one running at s2, one queued."""
    create_ledger(aws, pipeline)
    p = pipeline
    at = T0
    items = [
        step_item(p, "a.txt", "s1", "done", at=at),
        step_item(p, "a.txt", "s2", "done", at=at + timedelta(seconds=6)),
        step_item(p, "dir/b c.txt", "s1", "done", at=at + timedelta(seconds=1)),
        step_item(p, "dir/b c.txt", "s2", "done", at=at + timedelta(seconds=7)),
        step_item(
            p,
            "bad.bin",
            "s1",
            "failed",
            attempts=3,
            at=at + timedelta(seconds=2),
            error="the algorithm exited with code 4",
            stderr_tail=FAIL_TAIL,
            exit_code=4,
        ),
        step_item(p, "slow.txt", "s1", "done", at=at + timedelta(seconds=3)),
        step_item(p, "slow.txt", "s2", "running", at=at + timedelta(seconds=9)),
        step_item(p, "new.txt", "s1", "queued", at=at + timedelta(seconds=20), attempts=0),
    ]
    put_items(aws, pipeline, items)
