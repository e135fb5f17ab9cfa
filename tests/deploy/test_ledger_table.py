"""The ledger table kind: created by deploy (on-demand, encrypted, tagged, both indexes), kept
by a later deploy, kept by teardown like the buckets, deleted with --delete-buckets, and checked
by the leftover scan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import deploy_file as _deploy
from tests.deploy.helpers import fail_first, plan_for, write_workflow
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import DeployError, journal
from yunpipe_tui.deploy.kinds.base import Scope
from yunpipe_tui.deploy.kinds.ledger_table import LedgerTable
from yunpipe_tui.deploy.leftovers import leftovers
from yunpipe_tui.deploy.teardown import rollback, teardown

TABLE = names.ledger_table("demo")


def _tables(ctx: Any) -> list[str]:
    return list(ctx.client("dynamodb").list_tables()["TableNames"])


def test_plan_holds_one_ledger_table(prereqs: Any, tmp_path: Path, catalog: Catalog) -> None:
    plan = plan_for(prereqs, write_workflow(tmp_path, sequence=True), catalog)
    tables = [r for r in plan.resources if r.kind == "ledger_table"]
    assert [(r.name, r.step) for r in tables] == [(TABLE, "")]
    assert tables[0].tags[names.TAG_PIPELINE] == "demo"
    # step 1's dispatcher writes the table: it goes live after it; later steps' do not write it
    assert "shared/ledger" in plan.get("s1/dispatcher").depends_on
    assert "shared/ledger" not in plan.get("s2/dispatcher").depends_on


def test_deploy_creates_it_and_redeploy_keeps_it(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    path = write_workflow(tmp_path)
    _deploy(ctx, path, catalog, code)
    ddb = ctx.client("dynamodb")
    table = ddb.describe_table(TableName=TABLE)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["Status"] in ("ENABLED", "ENABLING")
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    indexes = {
        i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]]
        for i in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {"by-state": ["state", "updated_at"], "by-key": ["key", "queued_at"]}
    tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert {"Key": names.TAG_PIPELINE, "Value": "demo"} in tags
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "a#1"}, "sk": {"S": "s1"}})
    again = _deploy(ctx, path, catalog, code)
    assert again.count("created") == 0
    assert ddb.get_item(TableName=TABLE, Key={"pk": {"S": "a#1"}, "sk": {"S": "s1"}})["Item"]


def test_redeploy_adds_a_missing_index(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    path = write_workflow(tmp_path)
    _deploy(ctx, path, catalog, code)
    ddb = ctx.client("dynamodb")
    ddb.update_table(
        TableName=TABLE, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-key"}}]
    )
    _deploy(ctx, path, catalog, code)
    have = {
        i["IndexName"]
        for i in ddb.describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"]
    }
    assert have == {"by-state", "by-key"}


def test_teardown_keeps_it_unless_delete_buckets(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    _deploy(ctx, write_workflow(tmp_path), catalog, code)
    kept = teardown("demo", ctx)
    assert kept.ok, (kept.failed, kept.leftovers)
    assert kept.kept_data == [TABLE]
    assert TABLE in _tables(ctx)
    assert leftovers(ctx, "demo") == []  # kept on purpose: not a leftover
    # ...but the scan finds it when data was to be deleted
    assert leftovers(ctx, "demo", include_data=True) == [f"ledger table {TABLE}"]
    gone = teardown("demo", ctx, delete_buckets=True)
    assert gone.ok, (gone.failed, gone.leftovers)
    assert f"ledger_table {TABLE}" in gone.deleted
    assert TABLE not in _tables(ctx)
    assert LedgerTable().leftovers(Scope(ctx, "demo", include_data=True)) == []
    assert LedgerTable().delete(ctx, TABLE, {}) is False  # already gone is fine


def _fail_dispatcher(ctx: Any, write_item: bool) -> None:
    """The first deploy fails at its first dispatcher (the ledger table exists by then); with
    `write_item`, a file item lands in the table before it does."""
    fail = fail_first(100, "InvalidParameterValueException", "Code too large")

    def hook(**kwargs: Any) -> Any:
        if write_item:
            ctx.client("dynamodb").put_item(
                TableName=TABLE, Item={"pk": {"S": "a.txt#e1"}, "sk": {"S": "s1"}}
            )
        return fail(**kwargs)

    ctx.add_hook("before-call.lambda.CreateFunction", hook)


def test_rollback_of_a_failed_first_deploy_removes_the_empty_ledger(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    _fail_dispatcher(ctx, write_item=False)
    with pytest.raises(DeployError) as info:
        _deploy(ctx, write_workflow(tmp_path), catalog, code)
    assert "shared/ledger" in info.value.created and TABLE in _tables(ctx)
    result = rollback("demo", info.value.created, ctx)
    assert f"ledger_table {TABLE}" in result.deleted and result.kept_data == []
    assert TABLE not in _tables(ctx)


def test_rollback_keeps_a_ledger_that_holds_items(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    _fail_dispatcher(ctx, write_item=True)
    with pytest.raises(DeployError) as info:
        _deploy(ctx, write_workflow(tmp_path), catalog, code)
    result = rollback("demo", info.value.created, ctx)
    assert result.kept_data == [TABLE] and TABLE in _tables(ctx)


def _forget_the_ledger() -> None:
    """The journal as a deploy killed before it journaled the table leaves it."""
    record = journal.load("demo")
    assert record is not None
    book = journal.Journal("demo", record.data)
    book.data["resources"].pop("shared/ledger")
    book.data["order"] = [k for k in book.data.get("order", []) if k != "shared/ledger"]
    book.save()


def test_teardown_sweep_finds_a_ledger_the_journal_does_not_list(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    _deploy(ctx, write_workflow(tmp_path), catalog, code)
    _forget_the_ledger()
    kept = teardown("demo", ctx)
    assert kept.ok, (kept.failed, kept.leftovers)
    assert kept.kept_data == [TABLE] and TABLE in _tables(ctx)  # data: kept, and said so
    gone = teardown("demo", ctx, delete_buckets=True)
    assert gone.ok, (gone.failed, gone.leftovers)
    assert f"ledger_table {TABLE}" in gone.deleted
    assert TABLE not in _tables(ctx)
