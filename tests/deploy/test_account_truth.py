"""The account is the truth, the journal a guide (issue 11, items 1 and 2), against mock_aws:
teardown removes what carries the pipeline's tag whether the journal knows it, lost it, marks it
deleted or is damaged; untagged look-alikes are reported, never deleted; records of another
account or endpoint are named and never acted on."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from tests.deploy.helpers import deploy_file, make_prerequisites, snapshot, write_workflow
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import journal
from yunpipe_tui.deploy.teardown import (
    NothingToTearDown,
    TargetMismatch,
    Teardown,
    leftovers,
    teardown,
)

NOT_BUCKETS = (
    "queues",
    "functions",
    "roles",
    "task_definitions",
    "clusters",
    "log_groups",
    "rules",
)


@pytest.fixture
def cli_env(aws: Any, catalog: Catalog, code: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import yunpipe_tui.deploy as engine

    make_prerequisites(aws)
    monkeypatch.setattr(engine, "dispatcher_zip", code)
    monkeypatch.setattr(engine.time, "sleep", lambda s: None)
    return aws


def _only_buckets_left(ctx: Any, before: dict[str, Any]) -> None:
    after = snapshot(ctx)
    for key in NOT_BUCKETS:
        assert after[key] == before[key], key
    for bucket, config in after["notifications"].items():
        assert "yunpipe-demo" not in config, bucket


def test_teardown_after_the_journal_was_deleted_leaves_only_the_buckets(
    cli_env: Any, tmp_path: Path, capsys: Any
) -> None:
    """Was: 'nothing to tear down', exit 0, the schedule rule firing every minute."""
    before = snapshot(cli_env)
    code, _, err = run_cli(
        ["deploy", "-f", str(write_workflow(tmp_path, sequence=True)), "--yes"], capsys
    )
    assert code == 0, err
    journal.path_for("demo").unlink()

    code, out, _ = run_cli(["status", "--scan"], capsys)
    assert code == 0 and "demo  (no record on this machine)" in out
    assert "1 schedule_rule" in out and "2 task_definition" in out

    code, out, err = run_cli(["teardown", "demo", "--yes"], capsys)
    assert code == 0, out + err
    assert "no journal for pipeline demo; removing what carries its tag" in out
    assert "torn down" in out and "no leftovers found" in out
    _only_buckets_left(cli_env, before)
    assert snapshot(cli_env)["rules"] == []  # the reconcile schedule is gone
    code, out, _ = run_cli(["teardown", "demo", "--yes"], capsys)
    assert code == 0 and "nothing to tear down" in out


DAMAGE = {
    "truncated": b'{"pipeline": "demo", "status": "depl',
    "garbage": b"\x00\xff not json at all",
    "wrong-shape": json.dumps({"pipeline": "demo", "resources": [1, 2]}).encode(),
    "fifo": None,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_journal_gives_one_line_and_teardown_removes_by_tag(
    damage: str, cli_env: Any, tmp_path: Path, capsys: Any
) -> None:
    """Was: status 'no pipelines' (or AttributeError/KeyError, or a hang on a FIFO) and a
    teardown that reported success while everything stayed."""
    before = snapshot(cli_env)
    code, _, err = run_cli(["deploy", "-f", str(write_workflow(tmp_path)), "--yes"], capsys)
    assert code == 0, err
    path = journal.path_for("demo")
    path.unlink()
    if DAMAGE[damage] is None:
        os.mkfifo(path)
    else:
        path.write_bytes(DAMAGE[damage])

    code, out, err = run_cli(["status"], capsys)
    assert code == 0 and "Traceback" not in out + err
    damaged = [line for line in out.splitlines() if str(path) in line]
    assert len(damaged) == 1 and "yunpipe looks at the account instead" in damaged[0]

    code, out, err = run_cli(["teardown", "demo", "--yes"], capsys)
    assert code == 0, out + err
    assert "Traceback" not in out + err
    assert [line for line in out.splitlines() if "is damaged" in line] == [damaged[0]]
    _only_buckets_left(cli_env, before)
    # the damaged file was kept aside for inspection; status is quiet about it afterwards
    assert list(path.parent.glob("demo.json.damaged-*"))
    code, out, _ = run_cli(["status"], capsys)
    assert "damaged" not in out


def test_a_redeploy_with_fewer_steps_after_a_damaged_journal_leaves_no_old_task_definition(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    """The stray step s2 is removed by teardown (by its tags); the deploy leaves it alone.
    Was: the leftover scan never saw `yunpipe-demo-s2` (familyPrefix matches whole families)."""
    ctx = prereqs
    before = snapshot(ctx)
    deploy_file(ctx, write_workflow(tmp_path, sequence=True), catalog, code)
    journal.path_for("demo").write_text("{ damaged")
    deploy_file(ctx, write_workflow(tmp_path), catalog, code)  # one step now
    found = leftovers(ctx, "demo")
    assert "task definition yunpipe-demo-s2:1" in found
    assert "queue yunpipe-demo-s2-queue" in found
    result = teardown("demo", ctx)
    assert result.ok, (result.failed, result.leftovers)
    assert any("yunpipe-demo-s2" in line for line in result.deleted)
    _only_buckets_left(ctx, before)
    active = ctx.client("ecs").list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
    assert not [a for a in active if "yunpipe-demo" in a]


def test_a_resource_the_journal_marks_deleted_but_that_exists_is_removed(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    """Was: believed; a deploy racing a teardown left resources no teardown removed."""
    ctx = prereqs
    before = snapshot(ctx)
    deploy_file(ctx, write_workflow(tmp_path), catalog, code)
    path = journal.path_for("demo")
    data = json.loads(path.read_text())
    for entry in data["resources"].values():
        if entry["kind"] != "bucket":
            entry["status"] = journal.DELETED
    path.write_text(json.dumps(data))
    result = teardown("demo", ctx)
    assert result.ok, (result.failed, result.leftovers)
    assert "queue yunpipe-demo-s1-queue" in result.deleted
    _only_buckets_left(ctx, before)


def test_an_untagged_look_alike_is_reported_and_never_deleted(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    deploy_file(ctx, write_workflow(tmp_path), catalog, code)
    sqs = ctx.client("sqs")
    sqs.create_queue(QueueName="yunpipe-demo-s7-queue")  # someone else's, no yunpipe tag
    result = teardown("demo", ctx)
    assert result.ok, (result.failed, result.leftovers)
    assert result.not_removed == [
        "not removed: work queue yunpipe-demo-s7-queue matches this pipeline's names "
        "but carries no yunpipe tag"
    ]
    assert sqs.get_queue_url(QueueName="yunpipe-demo-s7-queue")["QueueUrl"]
    assert "queue yunpipe-demo-s1-queue" in result.deleted


def _foreign_record(pipeline: str = "other") -> Path:
    """A journal made against another account, through a (now stopped) sandbox endpoint."""
    path = journal.path_for(pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "version": journal.VERSION,
        "pipeline": pipeline,
        "status": journal.DEPLOYED,
        "account_id": "111111111111",
        "region": "us-east-1",
        "endpoint_url": "http://127.0.0.1:4566",
        "updated_at": "2026-01-02T03:04:05Z",
        "updated_ts": 1,
        "resources": {
            "s1/queue": {
                "status": "created",
                "kind": "queue",
                "name": f"yunpipe-{pipeline}-s1-queue",
            }
        },
        "order": ["s1/queue"],
        "steps": [{"id": "s1", "algorithm": "a"}],
    }
    path.write_text(json.dumps(data))
    return path


def test_a_record_of_another_account_or_endpoint_is_named_and_never_touched(
    cli_env: Any, capsys: Any
) -> None:
    """Was: a stopped sandbox's records listed as real, their deletes sent by name to whatever
    account the current credentials reach."""
    ctx = cli_env
    sqs = ctx.client("sqs")
    sqs.create_queue(QueueName="yunpipe-other-s1-queue")  # same name here, not that record's
    path = _foreign_record()
    content = path.read_bytes()
    line = (
        "pipeline other was deployed to account 111111111111 in us-east-1 at "
        "http://127.0.0.1:4566; not touched"
    )
    code, out, _ = run_cli(["status"], capsys)
    assert "no pipelines deployed yet" in out
    assert line.replace("not touched", "not listed") in out
    code, out, _ = run_cli(["teardown", "--yes"], capsys)
    assert code == 0 and "nothing to tear down" in out and line in out
    code, out, _ = run_cli(["teardown", "other", "--yes"], capsys)
    assert code == 0 and line in out and "nothing to tear down" in out
    # the engine refuses on its own before the first call that changes anything
    calls: list[str] = []
    ctx.add_hook("before-call.*.*", lambda model, **_: calls.append(model.name))
    with pytest.raises(TargetMismatch, match="account 111111111111"):
        Teardown(journal.load("other"), ctx).run()
    assert calls == ["GetCallerIdentity"]
    assert sqs.get_queue_url(QueueName="yunpipe-other-s1-queue")["QueueUrl"]
    assert path.read_bytes() == content
    with pytest.raises(NothingToTearDown):
        teardown("other", ctx)


def test_a_foreign_record_does_not_stop_teardown_by_tag_here_and_stays_unchanged(
    cli_env: Any, tmp_path: Path, capsys: Any
) -> None:
    before = snapshot(cli_env)
    code, _, err = run_cli(
        ["deploy", "-f", str(write_workflow(tmp_path, name="other")), "--yes"], capsys
    )
    assert code == 0, err
    path = _foreign_record("other")  # overwritten by a record of elsewhere
    content = path.read_bytes()
    code, out, err = run_cli(["teardown", "other", "--yes"], capsys)
    assert code == 0, out + err
    assert "pipeline other was deployed to account 111111111111" in out
    assert "torn down" in out
    after = snapshot(cli_env)
    for key in NOT_BUCKETS:
        assert after[key] == before[key], key
    assert path.read_bytes() == content


def test_monitor_does_not_watch_a_record_of_elsewhere(aws: Any) -> None:
    from yunpipe_tui.errors import YunpipeError
    from yunpipe_tui.monitor import resolve_target

    _foreign_record()
    with pytest.raises(YunpipeError, match=r"account 111111111111 .*; not watched"):
        resolve_target("other", aws)
    with pytest.raises(YunpipeError, match=r"no pipeline deployed yet; .*; pipeline other was"):
        resolve_target(None, aws)


def test_home_lists_only_this_targets_pipelines(aws: Any) -> None:
    from yunpipe_tui.screens.home import pipeline_rows

    _foreign_record()
    rows, notes = pipeline_rows(aws)
    assert rows == [] and notes == [
        "pipeline other was deployed to account 111111111111 in us-east-1 at "
        "http://127.0.0.1:4566; not touched"
    ]


def test_deploy_records_where_it_belongs(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    deploy_file(prereqs, write_workflow(tmp_path), catalog, code)
    record = journal.load("demo")
    assert record is not None
    assert (record.account_id, record.region, record.endpoint) == ("123456789012", "us-east-1", "")
    assert names.TAG_PIPELINE == "yunpipe:pipeline"
