"""The runner's ledger (issue 12) on mock_aws: claim before running, idempotent on duplicate
delivery (one runner or two), outcome with the next step's item, retries back to `queued`,
`failed` at the last receive with the algorithm's own stderr, scrubbed, and per-file logs."""

from __future__ import annotations

import json
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.lambda_runner.test_runner import PY, REGION, config_for, count, make_pipe
from tests.ledger.helpers import make_table
from yunpipe_tui import ledger
from yunpipe_tui.assets import runner as r
from yunpipe_tui.aws import AwsContext, CallCounter

TABLE = "yunpipe-t-ledger"
GROUP = "/yunpipe/t"
# Upper-cases the input; says something on stdout and stderr; fails (exit 3) on "fail".
SCRIPT = (
    "import sys,time;"
    "d=open(sys.argv[1]).read();"
    "open(sys.argv[3],'a').write('ran\\n') if len(sys.argv)>3 else None;"
    "time.sleep(float(sys.argv[4]) if len(sys.argv)>4 else 0);"
    "print('reading', len(d), 'bytes');"
    "sys.stderr.write('warming up AKIAABCDEFGHIJKLMNOP\\n');"
    "sys.exit(sys.stderr.write('cannot parse: ' + d.strip() + '\\n') and 3) if 'fail' in d "
    "else open(sys.argv[2],'w').write(d.upper())"
)


def command(marker: Path, sleep: float = 0) -> str:
    return f'{PY} -c "{SCRIPT}" $input $output {marker} {sleep}'


@pytest.fixture
def clients(mocked_aws: None) -> dict[str, Any]:
    made = {s: boto3.client(s, region_name=REGION) for s in ("s3", "sqs", "dynamodb", "logs")}
    ctx = AwsContext(region=REGION, counter=CallCounter())
    make_table(ctx, "t")
    made["logs"].create_log_group(logGroupName=GROUP)
    made["ctx"] = ctx
    return made


def ledger_config(tmp_path: Path, queue: str, cmd: str, **changes: Any) -> r.RunnerConfig:
    env = {
        "YUNPIPE_LEDGER_TABLE": TABLE,
        "YUNPIPE_FILE_LOG_GROUP": GROUP,
        "YUNPIPE_STEP": "s1",
        "YUNPIPE_NEXT_STEP": "s2",
        "YUNPIPE_MAX_RECEIVE_COUNT": "2",
        "YUNPIPE_INSTANCE_TYPE": "t3.micro",
        "YUNPIPE_INSTANCE_PRICE": "0.0104",
        "YUNPIPE_RUNNER_ID": "task-1",
        **changes,
    }
    return config_for(tmp_path, queue, cmd, **env)


def item(clients: dict[str, Any], fid: str, step: str = "s1") -> dict[str, Any]:
    got = (
        clients["dynamodb"]
        .get_item(TableName=TABLE, Key={"pk": {"S": fid}, "sk": {"S": step}})
        .get("Item")
    )
    return {k: next(iter(v.values())) for k, v in (got or {}).items()}


def only_file(clients: dict[str, Any]) -> str:
    (record,) = ledger.files(clients["ctx"], "t")
    return record.file_id


def log_lines(clients: dict[str, Any], stream: str) -> list[str]:
    events = clients["logs"].get_log_events(logGroupName=GROUP, logStreamName=stream)["events"]
    return [e["message"] for e in events]


def test_done_with_result_metadata_next_step_and_its_log(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    urls = make_pipe(clients)
    clients["s3"].put_object(Bucket="in-bucket", Key="a/good.txt", Body=b"hello")
    marker = tmp_path / "ran"
    assert r.run(ledger_config(tmp_path, urls["queue"], command(marker)), clients) == 0

    fid = only_file(clients)
    etag = clients["s3"].head_object(Bucket="in-bucket", Key="a/good.txt")["ETag"].strip('"')
    assert fid == f"a/good.txt#{etag}"
    s1 = item(clients, fid)
    assert s1["state"] == "done" and s1["attempts"] == "1" and s1["exit_code"] == "0"
    assert s1["result"] == "s3://out-bucket/a/Result-upper-good.txt"
    assert s1["bytes_in"] == "5" and s1["bytes_out"] == "5"
    assert float(s1["instance_seconds"]) > 0 and s1["instance_type"] == "t3.micro"
    assert s1["runner"] == "task-1" and "lease_until" not in s1
    assert s1["stderr_tail"] == "warming up [redacted]"
    # the next step's item, written with the outcome; the result carries the file id
    s2 = item(clients, fid, "s2")
    assert s2["state"] == "queued" and s2["key"] == "a/good.txt"
    assert s2["input"] == s1["result"]
    head = clients["s3"].head_object(Bucket="out-bucket", Key="a/Result-upper-good.txt")
    assert urllib.parse.unquote(head["Metadata"]["yunpipe-file"]) == fid
    counts = ledger.counts(clients["ctx"], "t")
    assert counts["s1"] == {"queued": 0, "running": 0, "done": 1, "failed": 0}
    assert counts["s2"]["queued"] == 1
    lines = log_lines(clients, s1["log_stream"])
    assert s1["log_stream"] == r.log_stream_name("s1", fid)
    assert lines[0].startswith("yunpipe: s1 attempt 1 of a/good.txt")
    assert "reading 5 bytes" in lines and "warming up [redacted]" in lines


def test_a_later_step_finds_its_file_through_the_metadata(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    urls = make_pipe(clients)
    fid = "original key.txt#abc"
    clients["s3"].put_object(
        Bucket="in-bucket",
        Key="Result-x-original key.txt",
        Body=b"data",
        Metadata={"yunpipe-file": urllib.parse.quote(fid, safe="")},
    )
    config = ledger_config(
        tmp_path, urls["queue"], command(tmp_path / "ran"), YUNPIPE_STEP="s2", YUNPIPE_NEXT_STEP=""
    )
    assert r.run(config, clients) == 0
    s2 = item(clients, fid, "s2")
    assert s2["state"] == "done" and s2["key"] == "original key.txt"
    (record,) = ledger.file_story(clients["ctx"], "t", "original key.txt")
    assert record.state == "done" and record.result == s2["result"]


def test_duplicate_delivery_runs_the_algorithm_once(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    urls = make_pipe(clients)
    clients["s3"].put_object(Bucket="in-bucket", Key="once.txt", Body=b"x")
    marker = tmp_path / "ran"
    config = ledger_config(tmp_path, urls["queue"], command(marker))
    assert r.run(config, clients) == 0
    fid = only_file(clients)
    # SQS delivers the same event again
    body = json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": "in-bucket"},
                        "object": {"key": "once.txt", "eTag": fid.rsplit("#", 1)[1]},
                    },
                }
            ]
        }
    )
    clients["sqs"].send_message(QueueUrl=urls["queue"], MessageBody=body)
    assert r.run(config, clients) == 0
    assert marker.read_text() == "ran\n"
    assert count(clients["sqs"], urls["queue"]) == 0  # acknowledged
    assert item(clients, fid)["attempts"] == "1"
    assert ledger.counts(clients["ctx"], "t")["s1"]["done"] == 1


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's conditional writes are atomic only with the sandbox's lock (patches.py)."""
    from moto.dynamodb.models import DynamoDBBackend

    from yunpipe_tui.sandbox import patches

    for name in patches.DYNAMODB_SERIALISED:
        monkeypatch.setattr(
            DynamoDBBackend, name, patches.serialised(getattr(DynamoDBBackend, name))
        )


def test_two_runners_with_two_copies_run_it_once(
    clients: dict[str, Any], tmp_path: Path, atomic_dynamodb: None
) -> None:
    urls = make_pipe(clients)
    clients["s3"].put_object(Bucket="in-bucket", Key="twice.txt", Body=b"x")
    received = clients["sqs"].receive_message(QueueUrl=urls["queue"], MaxNumberOfMessages=10)
    for m in received["Messages"]:  # the S3 test event and the record: taken off the queue
        clients["sqs"].delete_message(QueueUrl=urls["queue"], ReceiptHandle=m["ReceiptHandle"])
    (event,) = [m for m in received["Messages"] if "Records" in m["Body"]]
    for _ in range(2):
        clients["sqs"].send_message(QueueUrl=urls["queue"], MessageBody=event["Body"])
    marker = tmp_path / "ran"
    results: list[int] = []

    def one(n: int) -> None:
        config = ledger_config(
            tmp_path / f"r{n}", urls["queue"], command(marker, 1.5), YUNPIPE_RUNNER_ID=f"task-{n}"
        )
        results.append(r.run(config, clients))

    threads = [threading.Thread(target=one, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [0, 0]
    assert marker.read_text() == "ran\n"
    fid = only_file(clients)
    assert item(clients, fid)["state"] == "done" and item(clients, fid)["attempts"] == "1"
    # the copy the busy runner released stays queued (not deleted: the first might have failed);
    # once the file is done, its next delivery is acknowledged without running
    assert count(clients["sqs"], urls["queue"]) == 1
    runner = r.Runner(ledger_config(tmp_path / "r3", urls["queue"], command(marker)), clients)
    runner.handle({"ReceiptHandle": "h", "Body": event["Body"], "Attributes": {}})
    assert marker.read_text() == "ran\n"


def test_a_failure_goes_back_to_queued_then_failed_at_the_last_receive(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    urls = make_pipe(clients, max_receive=2)
    clients["s3"].put_object(Bucket="in-bucket", Key="bad.txt", Body=b"please fail here")
    config = ledger_config(tmp_path, urls["queue"], command(tmp_path / "ran"))
    runner = r.Runner(config, clients)
    runner.visibility = 30

    message = next(
        m
        for m in clients["sqs"].receive_message(
            QueueUrl=urls["queue"], MaxNumberOfMessages=10, AttributeNames=["All"]
        )["Messages"]
        if "Records" in m["Body"]
    )
    runner.handle({**message, "Attributes": {"ApproximateReceiveCount": "1"}})
    fid = only_file(clients)
    first = item(clients, fid)
    assert first["state"] == "queued" and first["attempts"] == "1"
    assert first["error"] == "command exited with 3" and first["exit_code"] == "3"
    assert ledger.counts(clients["ctx"], "t")["s1"]["queued"] == 1

    runner.handle({**message, "Attributes": {"ApproximateReceiveCount": "2"}})
    last = item(clients, fid)
    assert last["state"] == "failed" and last["attempts"] == "2" and last["finished_at"]
    assert last["stderr_tail"].splitlines() == [
        "warming up [redacted]",
        "cannot parse: please fail here",
    ]
    assert ledger.counts(clients["ctx"], "t")["s1"] == {
        "queued": 0,
        "running": 0,
        "done": 0,
        "failed": 1,
    }
    (record,) = ledger.files(clients["ctx"], "t", "failed")
    assert (
        record.error
        == "s1: command exited with 3\nwarming up [redacted]\ncannot parse: please fail here"
    )
    assert record.cost_usd is not None and record.cost_usd >= 0
    # both attempts are in the file's log stream
    lines = log_lines(clients, last["log_stream"])
    assert [x for x in lines if x.startswith("yunpipe: s1 attempt")] == [
        "yunpipe: s1 attempt 1 of bad.txt on task-1",
        "yunpipe: s1 attempt 2 of bad.txt on task-1",
    ]


def test_claims_respect_live_leases_and_take_over_expired_ones(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    config = ledger_config(tmp_path, "q", "true")
    book = r.Ledger(config, clients["dynamodb"])
    outcome, claim = book.claim("k#1", "in-bucket", "k", 1, 60)
    assert outcome == r.RUN and isinstance(claim, r.Claim)
    other = r.Ledger(
        ledger_config(tmp_path, "q", "true", YUNPIPE_RUNNER_ID="task-2"), clients["dynamodb"]
    )
    outcome, left = other.claim("k#1", "in-bucket", "k", 1, 60)
    assert outcome == r.BUSY and 50 < float(left) <= 60
    clients["dynamodb"].update_item(
        TableName=TABLE,
        Key={"pk": {"S": "k#1"}, "sk": {"S": "s1"}},
        UpdateExpression="SET lease_until = :old",
        ExpressionAttributeValues={":old": {"S": "2000-01-01T00:00:00.000000Z"}},
    )
    outcome, taken = other.claim("k#1", "in-bucket", "k", 1, 60)
    assert outcome == r.RUN and isinstance(taken, r.Claim) and taken.attempt == 2
    assert item(clients, "k#1")["runner"] == "task-2"
    assert ledger.counts(clients["ctx"], "t")["s1"]["running"] == 1
    # the first runner's late outcome does not overwrite the new owner's claim
    book.finish(claim, "s3://out/x", 1, "", 1.0)
    assert item(clients, "k#1")["state"] == "running"


def test_no_ledger_no_ledger_calls(clients: dict[str, Any], tmp_path: Path) -> None:
    urls = make_pipe(clients)
    clients["s3"].put_object(Bucket="in-bucket", Key="old.txt", Body=b"x")
    calls: list[str] = []
    clients["dynamodb"].meta.events.register(
        "before-call.*.*", lambda event_name, **_: calls.append(event_name)
    )
    config = config_for(tmp_path, urls["queue"], command(tmp_path / "ran"))
    assert r.run(config, {"s3": clients["s3"], "sqs": clients["sqs"]}) == 0
    assert calls == [] and list(ledger.files(clients["ctx"], "t")) == []


@pytest.mark.parametrize(
    ("text", "leaks"),
    [
        ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        ("temporary ASIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("x=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end", "wJalrXUtnFEMI"),
        ("Authorization: AWS4-HMAC-SHA256 Credential=abc/2026", "AWS4-HMAC"),
        ("aws_session_token: FwoGZXIvYXdzEBYaDOEXAMPLETOKEN", "FwoGZXIvYXdz"),
        ("blob " + "Zm9v" * 40, "Zm9vZm9v"),
    ],
)
def test_credentials_are_scrubbed(text: str, leaks: str) -> None:
    cleaned = r.scrub(text)
    assert leaks not in cleaned and r.REDACTED in cleaned


def test_ordinary_lines_are_kept() -> None:
    for line in ("cannot parse: please fail here", "sh: 0: cannot open /change123.sh", "a=b c=d"):
        assert r.scrub(line) == line
