"""`yunpipe files` and `yunpipe logs` against a ledger and a log group built by hand in moto."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import pytest

from tests.files.helpers import FAIL_TAIL, demo_ledger, log_stream, put_items, step_item
from tests.monitor.helpers import PIPELINE, build_pipeline, write_journal
from yunpipe_tui import resource_names as names


@pytest.fixture
def ledgered(aws: Any) -> Any:
    built = build_pipeline(aws)
    write_journal(built)
    demo_ledger(aws, PIPELINE)
    return built


def test_files_lists_every_file_with_its_progress(aws: Any, ledgered: Any, run_cli: Any) -> None:
    code, out, err = run_cli("files")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"files of pipeline {PIPELINE} (cost: on-demand estimate)"
    by_key = {_key(line): line for line in lines[1:-1]}
    assert set(by_key) == {"a.txt", "dir/b c.txt", "bad.bin", "slow.txt", "new.txt"}
    assert by_key["a.txt"].startswith("done ")
    assert "s1 ✓ s2 ✓" in by_key["a.txt"]
    assert "→ s3://yunpipe-test-output/Result-s2-a.txt" in by_key["a.txt"]
    assert "s1 ✗ s2 ·" in by_key["bad.bin"] and " 3 att " in by_key["bad.bin"]
    assert "✗ s1: the algorithm exited with code 4" in by_key["bad.bin"]
    assert "s1 ✓ s2 …" in by_key["slow.txt"] and by_key["slow.txt"].startswith("running")
    assert "s1 ◦ s2 ·" in by_key["new.txt"]
    assert "~$0.0000" in by_key["a.txt"]  # 8 instance-seconds of t3.micro
    assert lines[-1].startswith("5 file(s): 2 done, 1 failed, 1 queued, 1 running;")
    assert "estimated cost" in lines[-1]


def _key(line: str) -> str:
    rest = line.split(" att ", 1)[1].split(None, 1)[1]
    return rest.split("  ")[0]


def test_files_json_is_the_contract_object_list(aws: Any, ledgered: Any, run_cli: Any) -> None:
    code, out, err = run_cli("files", PIPELINE, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data) == 5
    fields = {"key", "state", "result", "error", "attempts", "seconds", "cost_usd", "steps"}
    step_fields = {
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
    for obj in data:
        assert set(obj) == fields
        for step in obj["steps"]:
            assert set(step) == step_fields
    by_key = {o["key"]: o for o in data}
    good = by_key["a.txt"]
    assert good["state"] == "done" and good["error"] is None
    assert good["result"] == "s3://yunpipe-test-output/Result-s2-a.txt"
    assert good["attempts"] == 2 and good["seconds"] == 8.0
    assert good["cost_usd"] == pytest.approx(0.0104 * 8 / 3600, abs=1e-6)
    bad = by_key["bad.bin"]
    assert bad["state"] == "failed" and bad["result"] is None
    assert bad["error"].startswith("s1: the algorithm exited with code 4\n")
    assert "not UTF-8 text" in bad["error"]
    assert bad["steps"][0]["stderr_tail"] == FAIL_TAIL and bad["steps"][0]["exit_code"] == 4
    # --state reads the by-state index and keeps the files whose OVERALL state matches.
    code, out, _ = run_cli("files", "--state", "failed", "--json")
    assert [o["key"] for o in json.loads(out)] == ["bad.bin"]
    code, out, _ = run_cli("files", "--state", "done", "--json")
    assert sorted(o["key"] for o in json.loads(out)) == ["a.txt", "dir/b c.txt"]
    code, out, _ = run_cli("files", "--state", "running", "--json")
    assert [o["key"] for o in json.loads(out)] == ["slow.txt"]
    code, out, _ = run_cli("files", "--state", "running")
    assert out.splitlines()[-1].startswith("1 file(s): 1 running")


def test_files_pages_through_many_files(aws: Any, run_cli: Any) -> None:
    from tests.files.helpers import create_ledger

    built = build_pipeline(aws, steps=1)
    write_journal(built)
    create_ledger(aws, PIPELINE)
    from yunpipe_tui import ledger

    padding = "x" * 3000  # ~3 KB items: 1 MB pages, so several Scan pages
    items = [step_item(PIPELINE, f"f{i:04d}.txt", "s1", "done") for i in range(700)]
    for item in items:
        item["stderr_tail"] = padding
    put_items(aws, PIPELINE, items)
    code, out, _ = run_cli("files", "--json")
    assert code == 0 and len(json.loads(out)) == 700
    aws.counter.reset()
    keys = [r.key for r in ledger.files(aws, PIPELINE, steps=["s1"])]
    assert len(keys) == len(set(keys)) == 700
    assert aws.counter.snapshot()["dynamodb.Scan"] >= 2  # paged, not one answer
    aws.counter.reset()
    failed = list(ledger.files(aws, PIPELINE, state="failed", steps=["s1"]))
    assert failed == [] and "dynamodb.Scan" not in aws.counter.snapshot()  # the index only
    code, out, _ = run_cli("files", "--state", "done", "--limit", "5", "--json")
    assert len(json.loads(out)) == 5


def test_files_show_tells_the_whole_story(aws: Any, ledgered: Any, run_cli: Any) -> None:
    code, out, err = run_cli("files", "show", "bad.bin")
    assert code == 0, err
    assert out.splitlines()[0].startswith("bad.bin  failed")
    assert "  s1: failed, 3 attempts, 4s" in out
    assert "reason   the algorithm exited with code 4" in out
    assert "transform: bad.bin is not UTF-8 text" in out
    assert f"log      /yunpipe/{PIPELINE} files/s1/" in out
    assert out.splitlines()[-1] == f"its output: yunpipe logs {PIPELINE} --file bad.bin"
    # A second upload of the same key (new ETag) is a new file: both versions are told.
    put_items(aws, PIPELINE, [step_item(PIPELINE, "bad.bin", "s1", "queued", etag="e2")])
    code, out, _ = run_cli("files", "show", "bad.bin", "-p", PIPELINE)
    assert "version 1 of 2" in out and "version 2 of 2" in out
    code, out, err = run_cli("files", "show", "nope.txt")
    assert code == 2 and err.count("\n") == 1 and "no file 'nope.txt'" in err


def test_files_without_a_ledger_is_one_line(aws: Any, run_cli: Any) -> None:
    built = build_pipeline(aws)
    write_journal(built)
    code, out, err = run_cli("files")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "has no file ledger" in err and "deploy it again" in err


NOW_MS = int(time.time() * 1000) - 60_000  # CloudWatch refuses events older than 14 days


def _put_logs(aws: Any, stream: str, lines: list[str], start_ms: int = 0) -> None:
    logs = aws.client("logs")
    group = names.log_group(PIPELINE)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    start_ms = start_ms or NOW_MS
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": start_ms + i, "message": m} for i, m in enumerate(lines)],
    )


def test_logs_of_one_file_and_of_a_step(aws: Any, ledgered: Any, run_cli: Any) -> None:
    _put_logs(aws, log_stream("bad.bin#e1", "s1"), ["reading bad.bin", FAIL_TAIL.strip()])
    _put_logs(aws, log_stream("a.txt#e1", "s1"), ["a: upper-cased 2 lines"])
    _put_logs(aws, log_stream("a.txt#e1", "s2"), ["a: numbered 2 lines"])
    _put_logs(aws, "ecs/algorithm/runner", ["runner started"])  # not a file's stream
    code, out, err = run_cli("logs", PIPELINE, "--file", "bad.bin")
    assert code == 0, err
    assert out.splitlines() == ["reading bad.bin", FAIL_TAIL.strip()]
    code, out, _ = run_cli("logs", PIPELINE, "--file", "a.txt")
    assert out.splitlines() == ["s1  a: upper-cased 2 lines", "s2  a: numbered 2 lines"]
    code, out, _ = run_cli("logs", PIPELINE, "--file", "a.txt", "--step", "s2")
    assert out.splitlines() == ["a: numbered 2 lines"]
    code, out, _ = run_cli("logs", PIPELINE, "--step", "s1")
    assert len(out.splitlines()) == 3 and "runner started" not in out
    assert "a: numbered" not in out
    code, _, err = run_cli("logs", PIPELINE, "--step", "s7")
    assert code == 2 and "has steps s1, s2" in err
    code, _, err = run_cli("logs", PIPELINE, "--file", "missing.txt")
    assert code == 2 and err.count("\n") == 1


def test_logs_follow_prints_new_lines_once_and_stops(
    aws: Any, ledgered: Any, run_cli: Any, monkeypatch: Any
) -> None:
    import time as time_module

    stream = log_stream("slow.txt#e1", "s2")
    _put_logs(aws, stream, ["line 1", "line 2"])
    sleeps = []

    def fake_sleep(seconds: float) -> None:  # the runner writes more while we wait
        sleeps.append(seconds)
        if len(sleeps) == 1:
            _put_logs(aws, stream, ["line 3"], start_ms=NOW_MS + 5)

    monkeypatch.setattr(time_module, "sleep", fake_sleep)
    code, out, err = run_cli(
        "logs", PIPELINE, "--file", "slow.txt", "--follow", "--interval", "1", "--polls", "3"
    )
    assert code == 0, err
    assert out.splitlines() == ["s2  line 1", "s2  line 2", "s2  line 3"]  # each line once
    assert sleeps == [1.0, 1.0]

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(time_module, "sleep", interrupted)
    code, out, err = run_cli("logs", PIPELINE, "--step", "s2", "--follow")
    assert code == 0 and err == ""  # ctrl+c ends it quietly
    assert len(out.splitlines()) == 3
