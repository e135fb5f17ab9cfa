"""The file ledger end to end in the sandbox (issue 12): a two-step sequence whose first
algorithm refuses some inputs. The good file ends `done` with the right result; the bad one
`failed` with the algorithm's own words; each file's output is in its own log stream; teardown
keeps the ledger."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from yunpipe_tui import ledger
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.sandbox import Sandbox, flow
from yunpipe_tui.sandbox.transform import apply

PICKY = (
    'python3 -c \'import sys; d=open(sys.argv[1]).read(); bad="fail" in d; '
    'print("picky read", len(d), "bytes"); '
    'bad and sys.stderr.write("picky: cannot handle " + d.strip() + "\\n"); '
    'sys.exit(4) if bad else open(sys.argv[2], "w").write(d.upper())\' $input $output'
)


def _until(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.3)


def test_two_steps_one_bad_input(sandbox: Sandbox, prepared: Any, catalog: Catalog) -> None:
    ctx = prepared
    catalog.add(replace(flow.text_algorithm("picky-upper", "upper"), run_command=PICKY))
    algorithms = ["picky-upper", "demo-number"]
    workflow = flow.workflow_for("ledg", algorithms, "ledg-in", "ledg-out")
    flow.deploy_workflow(ctx, workflow, catalog)

    flow.upload(ctx, "ledg-in", {"data/good.txt": b"hello\nworld\n", "data/bad.txt": b"fail me\n"})
    final = flow.final_key(algorithms, "data/good.txt")
    arrived = flow.wait_for_objects(ctx, "ledg-out", [final], timeout=60)
    assert arrived.complete, f"no result; sandbox: {sandbox.activity.snapshot()}"
    assert arrived.found[final][0] == apply(["upper", "number"], "hello\nworld\n").encode()

    def settled() -> dict[str, ledger.FileRecord]:
        records = {r.key: r for r in ledger.files(ctx, "ledg")}
        states = {k: r.state for k, r in records.items()}
        return records if states == {"data/good.txt": "done", "data/bad.txt": "failed"} else {}

    records = _until(settled, timeout=90)
    assert records, {r.key: r.to_json() for r in ledger.files(ctx, "ledg")}

    good = records["data/good.txt"].to_json()
    assert good["result"] == f"s3://ledg-out/{final}"
    assert [s["step"] for s in good["steps"]] == ["s1", "s2"]
    assert all(s["state"] == "done" and s["exit_code"] == 0 for s in good["steps"])
    assert good["attempts"] == 2 and good["error"] is None
    assert good["cost_usd"] is not None and good["seconds"] > 0

    bad = records["data/bad.txt"]
    (s1,) = bad.steps
    assert s1.state == "failed" and s1.attempts == 3 and s1.exit_code == 4
    assert s1.error == "command exited with 4"
    assert "picky: cannot handle fail me" in s1.stderr_tail
    assert bad.error is not None and "picky: cannot handle fail me" in bad.error
    assert bad.result is None

    # each file's own output, under the stream the ledger names
    logs = ctx.client("logs")
    group = names.log_group("ledg")
    good_s1 = records["data/good.txt"].steps[0]
    lines = [
        e["message"]
        for e in logs.get_log_events(logGroupName=group, logStreamName=good_s1.log_stream)["events"]
    ]
    assert "picky read 12 bytes" in lines
    bad_lines = [
        e["message"]
        for e in logs.get_log_events(logGroupName=group, logStreamName=s1.log_stream)["events"]
    ]
    assert bad_lines.count("picky: cannot handle fail me") == 3  # every attempt

    counts = ledger.counts(ctx, "ledg")
    assert counts["s1"] == {"queued": 0, "running": 0, "done": 1, "failed": 1}
    assert counts["s2"] == {"queued": 0, "running": 0, "done": 1, "failed": 0}
    assert [r.key for r in ledger.files(ctx, "ledg", "failed")] == ["data/bad.txt"]
    (story,) = ledger.file_story(ctx, "ledg", "data/good.txt")
    assert story.state == "done"

    assert sandbox.wait_quiet(timeout=15)
    result = flow.teardown_pipeline(ctx, "ledg")
    assert result.failed == [] and result.leftovers == []
    assert result.kept_data == [names.ledger_table("ledg")]
    assert [r.state for r in ledger.files(ctx, "ledg", "failed")] == ["failed"]  # kept


def _counting(marker: Path) -> str:
    """PICKY that also appends each input's first line to `marker`: one line per real run."""
    return PICKY.replace(
        "d=open(sys.argv[1]).read(); ",
        'd=open(sys.argv[1]).read(); open(sys.argv[3], "a").write(d.splitlines()[0] + "\\n"); ',
    ).replace("$input $output", f"$input $output {marker}")


def _backlog(ctx: Any, queue: str) -> int:
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_the_cli_tells_every_file(
    sandbox_env: Sandbox, prepared: Any, catalog: Catalog, run_cli: Any, tmp_path: Path
) -> None:
    """Issue 12's "done when", as a user sees it: `yunpipe files --json`, `yunpipe logs --file`,
    and a duplicate delivery that does not run the algorithm again."""
    ctx = prepared
    marker = tmp_path / "runs.txt"
    marker.write_text("")  # exists on this machine: no "only inside the image" hint
    catalog.add(replace(flow.text_algorithm("count-upper", "upper"), run_command=_counting(marker)))
    algorithms = ["count-upper", "demo-number"]
    flow.deploy_workflow(ctx, flow.workflow_for("ledcli", algorithms, "lc-in", "lc-out"), catalog)
    inputs = {"a/good one.txt": b"hello\nworld\n", "b.txt": b"two\n", "bad.txt": b"fail me\n"}
    flow.upload(ctx, "lc-in", inputs)

    def settled() -> list[dict[str, Any]]:
        code, out, err = run_cli("files", "ledcli", "--json")
        assert code == 0, err
        data = json.loads(out)
        states = {o["key"]: o["state"] for o in data}
        wanted = {"a/good one.txt": "done", "b.txt": "done", "bad.txt": "failed"}
        return data if states == wanted else []

    data = _until(settled, timeout=90)
    assert data, run_cli("files", "ledcli")[1]
    by_key = {o["key"]: o for o in data}
    s3 = ctx.client("s3")
    for key in ("a/good one.txt", "b.txt"):
        good = by_key[key]
        final = flow.final_key(algorithms, key)
        assert good["result"] == f"s3://lc-out/{final}" and good["error"] is None
        body = s3.get_object(Bucket="lc-out", Key=final)["Body"].read()
        assert body == apply(["upper", "number"], inputs[key].decode()).encode()
    bad = by_key["bad.txt"]
    assert bad["result"] is None and bad["steps"][0]["exit_code"] == 4
    assert bad["error"] == "s1: command exited with 4\npicky: cannot handle fail me"

    code, out, err = run_cli("logs", "ledcli", "--file", "a/good one.txt")
    assert code == 0, err
    assert "picky read 12 bytes" in out  # the algorithm's own stdout, from its stream
    code, out, err = run_cli("logs", "ledcli", "--file", "bad.txt")
    assert code == 0, err
    assert out.count("picky: cannot handle fail me") == 3  # its stderr, every attempt

    # SQS delivers at least once: the same upload's record again on step 1's queue.
    assert marker.read_text().splitlines().count("hello") == 1
    head = s3.head_object(Bucket="lc-in", Key="a/good one.txt")
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": "lc-in"},
            "object": {"key": "a/good+one.txt", "eTag": head["ETag"].strip('"'), "size": 12},
        },
    }
    sqs = ctx.client("sqs")
    queue = names.queue("ledcli", "s1")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [record]}))
    assert _until(lambda: _backlog(ctx, queue) == 0, timeout=60), "the copy was never taken"
    assert marker.read_text().splitlines().count("hello") == 1  # not run again
    code, out, _ = run_cli("files", "show", "a/good one.txt", "-p", "ledcli", "--json")
    (story,) = json.loads(out)
    assert story["state"] == "done" and [s["attempts"] for s in story["steps"]] == [1, 1]

    assert sandbox_env.wait_quiet(timeout=15)
    result = flow.teardown_pipeline(ctx, "ledcli")
    assert result.failed == [] and result.leftovers == []
