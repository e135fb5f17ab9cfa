"""The monitor reads the ledger: one Query per poll whatever the number of files, counts in the
snapshot and its JSON, a failed poll exits non-zero; the Files view's list and actions."""

from __future__ import annotations

import json
from typing import Any

from tests.files.helpers import create_ledger, demo_ledger, put_items, step_item
from tests.monitor.helpers import INPUT, OUTPUT, PIPELINE, build_pipeline, write_journal
from yunpipe_tui import resource_names as names
from yunpipe_tui.monitor import Monitor
from yunpipe_tui.monitor_rows import file_rows, files_summary, task_files


def _poll_calls(aws: Any, target: Any) -> tuple[Any, dict[str, int]]:
    with Monitor(aws, target) as mon:
        mon.poll()
        aws.counter.reset()
        snap = mon.poll()
        return snap, aws.counter.snapshot()


def test_one_ledger_query_per_poll_whatever_the_number_of_files(aws: Any) -> None:
    built = build_pipeline(aws)
    create_ledger(aws, PIPELINE)
    put_items(aws, PIPELINE, [step_item(PIPELINE, f"f{i}", "s1", "done") for i in range(10)])
    small, small_calls = _poll_calls(aws, built.target)
    put_items(aws, PIPELINE, [step_item(PIPELINE, f"g{i}", "s1", "failed") for i in range(1500)])
    big, big_calls = _poll_calls(aws, built.target)
    assert small_calls == big_calls  # the same calls, one by one
    assert big_calls["dynamodb.Query"] == 1
    assert not any(op.startswith("dynamodb.") and op != "dynamodb.Query" for op in big_calls)
    assert sum(big_calls.values()) <= 2 * 2 + 5
    assert small.files["s1"] == {"queued": 0, "running": 0, "done": 10, "failed": 0}
    assert big.files["s1"]["failed"] == 1500
    assert big.files["s2"] == {"queued": 0, "running": 0, "done": 0, "failed": 0}
    assert files_summary(big) == "s1: 10 done, 1500 failed · s2: no files"


def test_a_pipeline_without_ledger_polls_as_before(aws: Any) -> None:
    pipeline = build_pipeline(aws)
    with Monitor(aws, pipeline.target) as mon:
        first = mon.poll()
        aws.counter.reset()
        second = mon.poll()
    assert first.ok and second.ok and first.files is None
    assert "dynamodb.Query" not in aws.counter.snapshot()  # not asked again
    assert files_summary(second).startswith("no file ledger")


def test_once_json_has_file_counts_and_a_failed_poll_exits_1(aws: Any, run_cli: Any) -> None:
    built = build_pipeline(aws)
    write_journal(built)
    demo_ledger(aws, PIPELINE)
    code, out, err = run_cli("monitor", "--once", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["files"] == {
        "s1": {"queued": 1, "running": 0, "done": 3, "failed": 1},
        "s2": {"queued": 0, "running": 1, "done": 2, "failed": 0},
    }
    assert data["poll_failed"] is False
    code, out, _ = run_cli("monitor", "--once")
    assert code == 0 and " files=s1:queued=1,running=0,done=3,failed=1 " in out + " "
    # One queue gone: that part failed, the JSON still prints, the exit code says so.
    sqs = aws.client("sqs")
    sqs.delete_queue(QueueUrl=built.urls[names.dead_letter_queue(PIPELINE, "s2")])
    code, out, err = run_cli("monitor", "--once", "--json")
    data = json.loads(out)
    assert code == 1 and data["poll_failed"] is True
    assert [e["part"] for e in data["errors"]] == ["dlq:s2"]
    assert err.startswith("error: dlq:s2: ")


def test_every_call_failing_exits_1(aws: Any, run_cli: Any, monkeypatch: Any) -> None:
    built = build_pipeline(aws)
    unreachable = "http://127.0.0.1:9"  # nothing listens there
    write_journal(built, endpoint=unreachable)  # the record belongs to the endpoint in use
    monkeypatch.setenv("AWS_ENDPOINT_URL", unreachable)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, out, err = run_cli("monitor", "--once", "--json")
    assert code == 1 and err.startswith("error: ")
    data = json.loads(out)
    assert data["poll_failed"] is True and len(data["errors"]) >= 2 * 2 + 3


def test_recent_files_failed_first_and_the_actions(aws: Any, tmp_path: Any) -> None:
    built = build_pipeline(aws)
    demo_ledger(aws, PIPELINE)
    s3 = aws.client("s3")
    s3.put_object(Bucket=OUTPUT, Key="Result-s2-a.txt", Body=b"1: A\n")
    with Monitor(aws, built.target) as mon:
        aws.counter.reset()
        files = mon.recent_files()
        calls = aws.counter.snapshot()
        assert "dynamodb.Scan" not in calls  # the by-state index, never a full scan
        assert [f.state for f in files] == ["failed", "running", "queued", "done", "done"]
        rows = file_rows(files, ["s1", "s2"])
        first = next(iter(rows.values()))
        assert first[0].text == "failed" and first[0].tone == "alert"
        assert first[1].text == "bad.bin" and first[1].tone == "bad"
        assert first[2].text == "s1 ✗ s2 ·"
        assert first[6].text == "s1: the algorithm exited with code 4"
        assert "not UTF-8 text" in first[6].note
        bad = files[0]
        assert mon.redrive_file(bad) == "bad.bin queued again at step s1"
        url = built.urls[names.queue(PIPELINE, "s1")]
        body = json.loads(aws.client("sqs").receive_message(QueueUrl=url)["Messages"][0]["Body"])
        record = body["Records"][0]["s3"]
        assert record["bucket"]["name"] == INPUT and record["object"]["key"] == "bad.bin"
        done = next(f for f in files if f.key == "a.txt")
        path = mon.download(done, tmp_path)
        assert path == (tmp_path / "Result-s2-a.txt").resolve()
        assert path.read_bytes() == b"1: A\n"
    did = task_files(files)
    runner = "arn:aws:ecs:us-east-1:123456789012:task/yunpipe-demo/abc123"
    assert did[runner] == ("7 files: 5 ✓ 1 ✗ 1 …", "bad")  # the queued one ran nowhere yet
    assert did["abc123"] == did[runner]
