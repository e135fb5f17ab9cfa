"""The ledger's read API: counts in one query, files by state through the index, a file's story
through the key index, the overall state rule and estimated costs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.ledger.helpers import make_table, put_step
from yunpipe_tui import ledger


def test_overall_state_rule() -> None:
    def steps(*states: str) -> list[ledger.FileStep]:
        return [ledger.FileStep("f#e", f"s{i + 1}", "f", s) for i, s in enumerate(states)]

    assert ledger.overall_state(steps("done", "failed")) == "failed"
    assert ledger.overall_state(steps("done", "done")) == "done"
    assert ledger.overall_state(steps("done", "running")) == "running"
    assert ledger.overall_state(steps("done", "queued")) == "queued"
    assert ledger.overall_state(steps("failed", "done")) == "failed"


def test_cost_is_price_times_instance_seconds() -> None:
    assert ledger.price_per_hour("t3.micro") == pytest.approx(0.0104)
    assert ledger.cost_usd("t3.micro", 3600) == pytest.approx(0.0104)
    assert ledger.cost_usd("m6i.large", 36) == pytest.approx(0.00096)
    assert ledger.cost_usd("no.such", 10) is None
    assert ledger.cost_usd("t3.micro", None) is None


def test_no_table_is_no_ledger(aws: Any) -> None:
    # One behaviour for every reader: `yunpipe files` says "has no file ledger" in one line,
    # the monitor asks once and stops (tests/files).
    with pytest.raises(ledger.NoLedger, match="has no file ledger"):
        ledger.counts(aws, "old")
    with pytest.raises(ledger.NoLedger):
        list(ledger.files(aws, "old"))
    with pytest.raises(ledger.NoLedger):
        list(ledger.files(aws, "old", "failed"))
    with pytest.raises(ledger.NoLedger):
        ledger.file_story(aws, "old", "a.txt")


def _fill(aws: Any) -> None:
    make_table(aws, "p")
    put_step(
        aws,
        "p",
        "good.txt",
        "s1",
        "done",
        instance_seconds=Decimal("2.5"),
        instance_type="t3.micro",
        result="s3://mid/Result-a-good.txt",
        started_at="2026-01-01T00:00:01.000000Z",
        finished_at="2026-01-01T00:00:03.500000Z",
    )
    put_step(
        aws,
        "p",
        "good.txt",
        "s2",
        "done",
        instance_seconds=Decimal("1.5"),
        instance_type="t3.micro",
        result="s3://out/Result-b-Result-a-good.txt",
    )
    put_step(
        aws,
        "p",
        "bad.txt",
        "s1",
        "failed",
        attempts=3,
        error="command exited with 1",
        stderr_tail="boom: cannot open fail",
        exit_code=1,
        at="2026-01-01T00:00:09.000000Z",
    )
    put_step(aws, "p", "slow.txt", "s1", "done", result="s3://mid/Result-a-slow.txt")
    put_step(aws, "p", "slow.txt", "s2", "running", attempts=1)
    put_step(aws, "p", "new.txt", "s1", "queued", attempts=0)


def test_counts_is_one_query(aws: Any) -> None:
    _fill(aws)
    aws.counter.reset()
    counts = ledger.counts(aws, "p")
    assert aws.counter.snapshot() == {"dynamodb.Query": 1}
    assert counts == {
        "s1": {"queued": 1, "running": 0, "done": 2, "failed": 1},
        "s2": {"queued": 0, "running": 1, "done": 1, "failed": 0},
    }


def test_files_by_state_and_their_json(aws: Any) -> None:
    _fill(aws)
    failed = list(ledger.files(aws, "p", "failed"))
    assert [r.key for r in failed] == ["bad.txt"]
    bad = failed[0].to_json()
    assert bad["state"] == "failed" and bad["attempts"] == 3 and bad["result"] is None
    assert bad["error"] == "s1: command exited with 1\nboom: cannot open fail"
    assert bad["steps"][0]["exit_code"] == 1

    done = list(ledger.files(aws, "p", "done"))
    assert [r.key for r in done] == ["good.txt"]  # slow.txt's s1 is done, but it still runs
    good = done[0]
    assert good.result == "s3://out/Result-b-Result-a-good.txt"
    assert good.seconds == pytest.approx(4.0)
    assert good.cost_usd == pytest.approx(0.0104 * 4 / 3600, abs=1e-6)
    assert [s.step for s in good.steps] == ["s1", "s2"]
    assert set(good.to_json()) >= {
        "key",
        "state",
        "result",
        "error",
        "attempts",
        "seconds",
        "cost_usd",
        "steps",
    }
    assert set(good.to_json()["steps"][0]) == {
        "step",
        "state",
        "attempts",
        "seconds",
        "result",
        "error",
        "stderr_tail",
        "log_stream",
        "exit_code",
        "cost_usd",
    }
    assert [r.key for r in ledger.files(aws, "p", "running")] == ["slow.txt"]
    assert [r.key for r in ledger.files(aws, "p", "queued")] == ["new.txt"]
    with pytest.raises(ValueError):
        list(ledger.files(aws, "p", "lost"))


def test_files_without_state_lists_every_file_once(aws: Any) -> None:
    _fill(aws)
    records = {r.key: r.state for r in ledger.files(aws, "p")}
    assert records == {
        "good.txt": "done",
        "bad.txt": "failed",
        "slow.txt": "running",
        "new.txt": "queued",
    }
    assert len(list(ledger.files(aws, "p", limit=2))) == 2


def test_files_pages_through_many(aws: Any) -> None:
    make_table(aws, "p")
    for i in range(130):
        put_step(
            aws,
            "p",
            f"k{i:03}.txt",
            "s1",
            "failed",
            at=f"2026-01-01T00:{i // 60:02}:{i % 60:02}.000000Z",
        )
    records = list(ledger.files(aws, "p", "failed"))
    assert len(records) == 130 and len({r.file_id for r in records}) == 130
    assert records[0].key == "k129.txt"  # most recently changed first
    assert len(list(ledger.files(aws, "p"))) == 130


def test_file_story_lists_every_version(aws: Any) -> None:
    _fill(aws)
    put_step(
        aws,
        "p",
        "bad.txt",
        "s1",
        "done",
        etag="e2",
        at="2026-01-02T00:00:00.000000Z",
        result="s3://mid/Result-a-bad.txt",
    )
    story = ledger.file_story(aws, "p", "bad.txt")
    assert [(r.file_id, r.state) for r in story] == [
        ("bad.txt#e1", "failed"),
        ("bad.txt#e2", "done"),
    ]
