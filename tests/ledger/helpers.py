"""Ledger tables and items for tests, written the way the dispatcher and runner write them."""

from __future__ import annotations

from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.deploy.kinds.ledger_table import table_spec
from yunpipe_tui.deploy.model import tags_for


def make_table(ctx: Any, pipeline: str) -> str:
    table = names.ledger_table(pipeline)
    ctx.client("dynamodb").create_table(**table_spec(table, tags_for(pipeline)))
    return table


def put_step(ctx: Any, pipeline: str, key: str, step: str, state: str, **extra: Any) -> None:
    """One file item plus its counter, as the writers keep them."""
    from boto3.dynamodb.types import TypeSerializer

    etag = extra.pop("etag", "e1")
    stamp = extra.pop("at", "2026-01-01T00:00:00.000000Z")
    item = {
        "pk": f"{key}#{etag}",
        "sk": step,
        "key": key,
        "etag": etag,
        "step": step,
        "state": state,
        "attempts": extra.pop("attempts", 1),
        "queued_at": stamp,
        "updated_at": stamp,
        **extra,
    }
    ser = TypeSerializer()
    ddb = ctx.client("dynamodb")
    table = names.ledger_table(pipeline)
    ddb.put_item(TableName=table, Item={k: ser.serialize(v) for k, v in item.items()})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "#counts"}, "sk": {"S": step}},
        UpdateExpression="ADD #s :one",
        ExpressionAttributeNames={"#s": state},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
