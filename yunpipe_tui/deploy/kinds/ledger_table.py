"""The pipeline's file ledger: one DynamoDB table (see yunpipe_tui/ledger.py for what it holds).

On-demand billing, encrypted at rest, tagged like every resource, with the two indexes the
readers query (`by-state`, `by-key`). It holds the pipeline's history, so teardown keeps it like
the buckets unless asked to delete data (`--delete-buckets`); the leftover scan then checks it
is gone. The teardown sweep finds it by its name when the journal does not list it (a deploy
killed before it journaled the table), and treats it the same way. A rollback of the deploy that
created it removes it only while it is empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from yunpipe_tui import ledger
from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_code
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    DATA,
    GONE_MARK,
    MISSING,
    STALE,
    Found,
    Kind,
    Ops,
    Scope,
    removed,
    tag_list,
    unless_gone,
)
from yunpipe_tui.deploy.layout import PipelineLayout
from yunpipe_tui.deploy.model import Resource, tags_for

LEDGER_KEY = "shared/ledger"
WAIT_ATTEMPTS = 60  # ~2 minutes at 2 s: AWS makes a new table ACTIVE within seconds
WAIT_SECONDS = 2.0

_INDEXES: dict[str, tuple[str, str]] = {
    ledger.BY_STATE_INDEX: ("state", "updated_at"),
    ledger.BY_KEY_INDEX: ("key", "queued_at"),
}


def _index(name: str) -> dict[str, Any]:
    partition, sort = _INDEXES[name]
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def _attributes() -> list[dict[str, str]]:
    names_ = ["pk", "sk"] + [a for pair in _INDEXES.values() for a in pair]
    return [{"AttributeName": a, "AttributeType": "S"} for a in names_]


def table_spec(name: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """`create_table` arguments of a ledger (also used by tests and benchmarks)."""
    return {
        "TableName": name,
        "AttributeDefinitions": _attributes(),
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [_index(n) for n in _INDEXES],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True},
        "Tags": tag_list(tags),
    }


class LedgerTable(Kind):
    name = "ledger_table"
    label = "ledger table"
    teardown_stage = DATA  # the pipeline's history: kept unless data is to be deleted
    sweep_rank = 47  # its sweep runs in the data phase, after every other kind's, whatever the rank
    scan_rank = 75
    leftover_with_data = True

    def plan_shared(self, layout: PipelineLayout) -> list[Resource]:
        return [
            Resource(
                LEDGER_KEY,
                self.name,
                names.ledger_table(layout.pipeline),
                "shared",
                config={"indexes": sorted(_INDEXES)},
                tags=tags_for(layout.pipeline),
            )
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        found = unless_gone(lambda: ops.ctx.client("dynamodb").describe_table(TableName=r.name))
        if found is GONE_MARK:
            return MISSING, {}
        table = found["Table"]
        have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        state = CURRENT if set(cfg["indexes"]) <= have else STALE
        return state, {"arn": table.get("TableArn", "")}

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        ddb = ops.ctx.client("dynamodb")
        try:
            ddb.create_table(**table_spec(r.name, r.tags))
        except Exception as exc:
            if error_code(exc) != "ResourceInUseException":  # a concurrent or earlier create
                raise
        return {"arn": self._wait_active(ops, r.name)["TableArn"]}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add an index a table of an earlier deploy lacks (AWS takes one per call)."""
        ddb = ops.ctx.client("dynamodb")
        table = self._wait_active(ops, r.name)
        have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        for index in cfg["indexes"]:
            if index in have:
                continue
            ddb.update_table(
                TableName=r.name,
                AttributeDefinitions=_attributes(),
                GlobalSecondaryIndexUpdates=[{"Create": _index(index)}],
            )
            table = self._wait_active(ops, r.name)
        ddb.tag_resource(ResourceArn=table["TableArn"], Tags=tag_list(r.tags))
        return {"arn": table["TableArn"]}

    @staticmethod
    def _wait_active(ops: Ops, name: str) -> dict[str, Any]:
        ddb = ops.ctx.client("dynamodb")
        for _ in range(WAIT_ATTEMPTS):
            table: dict[str, Any] = ddb.describe_table(TableName=name)["Table"]
            indexes = table.get("GlobalSecondaryIndexes", [])
            if table.get("TableStatus") == "ACTIVE" and all(
                i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes
            ):
                return table
            ops.sleep(WAIT_SECONDS)
        raise TimeoutError(f"ledger table {name} did not become ACTIVE; run the deploy again")

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        return removed(lambda: ctx.client("dynamodb").delete_table(TableName=name))

    def _live(self, scope: Scope) -> str | None:
        """The pipeline's table by its name, unless it is gone or going."""
        own = names.ledger_table(scope.pipeline)
        found = unless_gone(lambda: scope.ctx.client("dynamodb").describe_table(TableName=own))
        if found is GONE_MARK or found["Table"].get("TableStatus") == "DELETING":
            return None
        return own

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        """The table when the journal does not list it (teardown keeps it unless data goes);
        removable only when it carries this pipeline's tag, else reported as a look-alike."""
        own = self._live(scope)
        if own is None or own in known:
            return
        ddb = scope.ctx.client("dynamodb")
        arn = ddb.describe_table(TableName=own)["Table"]["TableArn"]
        tags = ddb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
        ours = any(
            t.get("Key") == names.TAG_PIPELINE and t.get("Value") == scope.pipeline for t in tags
        )
        yield replace(self.stray(scope, own), tagged=ours)

    def leftovers(self, scope: Scope) -> list[str]:
        """The table, when teardown was asked to delete data (kept otherwise, on purpose)."""
        if not scope.include_data:
            return []
        own = self._live(scope)
        return [] if own is None else [f"ledger table {own}"]
