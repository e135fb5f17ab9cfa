"""The runner never dies on one file: over-long names, folder markers, per-file errors that are
not the algorithm's fault, and what the algorithm's process inherits from the task."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.lambda_runner.test_runner import PY, UPPER, config_for, count, make_pipe
from yunpipe_tui.assets import runner as r

REGION = "us-east-1"


@pytest.fixture
def clients(mocked_aws: None) -> dict[str, Any]:
    import boto3

    return {s: boto3.client(s, region_name=REGION) for s in ("s3", "sqs")}


def visibility_changes(clients: dict[str, Any]) -> list[int]:
    seen: list[int] = []
    clients["sqs"].meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibility",
        lambda params, **_: seen.append(int(params["VisibilityTimeout"])),
    )
    return seen


@pytest.mark.parametrize(
    "name",
    ["n" * 296 + ".txt", "é" * 150 + ".csv", "x" * 255, "a.b." * 80 + "tar.gz"],
    ids=["ascii-300", "utf8-300-bytes", "255", "many-dots"],
)
def test_a_file_name_too_long_for_the_disk_still_gets_its_result(
    clients: dict[str, Any], tmp_path: Path, name: str
) -> None:
    assert len(name.encode()) >= 255
    urls = make_pipe(clients, max_receive=1)
    key = f"deep/{name}"
    clients["s3"].put_object(Bucket="in-bucket", Key=key, Body=b"long name")
    config = config_for(tmp_path, urls["queue"], UPPER + " $input $output")

    assert r.run(config, clients) == 0

    body = clients["s3"].get_object(Bucket="out-bucket", Key=f"deep/Result-upper-{name}")["Body"]
    assert body.read() == b"LONG NAME"
    assert count(clients["sqs"], urls["queue"]) == 0
    assert count(clients["sqs"], urls["dlq"]) == 0


def test_local_names_are_short_distinct_and_keep_the_extension() -> None:
    long_a, long_b = "a" * 300 + ".nii.gz", "a" * 299 + "b.nii.gz"
    short_a, short_b = r.local_name(long_a, 100), r.local_name(long_b, 100)
    assert short_a != short_b
    assert short_a.endswith(".nii.gz") and len(short_a.encode()) <= 100
    assert r.local_name("plain.txt", 100) == "plain.txt"
    for odd in (".", "..", "nul\x00byte"):
        safe = r.local_name(odd, 100)
        assert safe not in (".", "..") and "\x00" not in safe


def test_a_folder_marker_is_acknowledged_and_skipped(
    clients: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = make_pipe(clients, max_receive=1)
    clients["s3"].put_object(Bucket="in-bucket", Key="folder/", Body=b"")
    config = config_for(tmp_path, urls["queue"], UPPER + " $input $output")

    assert r.run(config, clients) == 0

    assert count(clients["sqs"], urls["queue"]) == 0
    assert count(clients["sqs"], urls["dlq"]) == 0  # not retried, not dead-lettered
    assert "Contents" not in clients["s3"].list_objects_v2(Bucket="out-bucket")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(
        line["message"].startswith("skipping a folder marker") and line["key"] == "folder/"
        for line in lines
    )


def test_any_per_file_error_releases_the_message_and_the_runner_goes_on(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    """An error that is no `Failure` (here: the input folder is a file) used to kill the runner,
    leaving the message invisible for the queue's whole visibility timeout (65 minutes)."""
    urls = make_pipe(clients, max_receive=2, visibility=3900)
    (tmp_path / "in").write_text("not a folder")
    clients["s3"].put_object(Bucket="in-bucket", Key="one.txt", Body=b"x")
    config = config_for(tmp_path, urls["queue"], UPPER + " $input $output")
    released = visibility_changes(clients)
    began = time.monotonic()

    assert r.run(config, clients) == 0

    assert time.monotonic() - began < 20
    assert released and all(v == 0 for v in released)  # the retry delay of this config
    assert count(clients["sqs"], urls["queue"]) == 0
    assert count(clients["sqs"], urls["dlq"]) == 1


def test_release_backs_off_with_the_receive_count(clients: dict[str, Any], tmp_path: Path) -> None:
    assert [r.retry_delay(n, 10) for n in (1, 2, 3, 4, 5, 6, 9)] == [10, 20, 40, 80, 160, 300, 300]
    assert r.retry_delay(3, 0) == 0 and r.retry_delay(0, 10) == 10
    urls = make_pipe(clients, max_receive=5, visibility=3900)
    clients["s3"].put_object(Bucket="in-bucket", Key="bad.txt", Body=b"x")
    config = config_for(
        tmp_path,
        urls["queue"],
        f"{PY} -c 'import sys; sys.exit(3)' $input",
        YUNPIPE_RETRY_DELAY_SECONDS=10,
    )
    released = visibility_changes(clients)
    assert r.run(config, clients) == 0
    assert released == [10]  # first attempt: 10 s, not the queue's 65 minutes


def test_the_algorithm_does_not_inherit_aws_or_runner_settings(
    clients: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x",
        "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/x",
        "YUNPIPE_QUEUE_URL": "q",
        "LD_AUDIT": "/nonexistent.so",
        "MY_SETTING": "kept",
    }.items():
        monkeypatch.setenv(name, value)
    urls = make_pipe(clients, max_receive=1)
    clients["s3"].put_object(Bucket="in-bucket", Key="env.txt", Body=b"x")
    dump = f"{PY} -c 'import os, sys, json; json.dump(dict(os.environ), open(sys.argv[2], \"w\"))'"
    config = config_for(tmp_path, urls["queue"], dump + " $input $output")

    assert r.run(config, clients) == 0

    got = clients["s3"].get_object(Bucket="out-bucket", Key="Result-upper-env.txt")["Body"]
    env = json.loads(got.read())
    assert env["MY_SETTING"] == "kept" and "PATH" in env
    leaked = [n for n in env if n.startswith(("AWS_", "ECS_", "YUNPIPE_")) or n == "LD_AUDIT"]
    assert leaked == []


def test_the_runner_ignores_endpoint_variables_it_did_not_choose(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9")
    config = config_for(tmp_path, "https://sqs.us-east-1.amazonaws.com/1/q", "x $input")
    clients = r.make_clients(config)
    assert clients["sqs"].meta.endpoint_url == "https://sqs.us-east-1.amazonaws.com"
    sandbox = r.make_clients(
        config_for(tmp_path, "q", "x $input", YUNPIPE_ENDPOINT_URL="http://h:1")
    )
    assert sandbox["s3"].meta.endpoint_url == "http://h:1"


class _Sqs:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def change_message_visibility(self, **kw: Any) -> None:
        self.calls.append(("release", kw["VisibilityTimeout"]))

    def delete_message(self, **kw: Any) -> None:
        self.calls.append(("delete", kw["ReceiptHandle"]))


def test_later_receives_wait_longer(tmp_path: Path) -> None:
    config = config_for(tmp_path, "q", "false $input", YUNPIPE_RETRY_DELAY_SECONDS=10)
    sqs = _Sqs()
    runner = r.Runner(config, {"sqs": sqs, "s3": None})  # the download fails: no S3 client
    body = json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": "k.txt"}},
                }
            ]
        }
    )
    for n in (1, 2, 3, 7):
        runner.handle(
            {"ReceiptHandle": "h", "Body": body, "Attributes": {"ApproximateReceiveCount": str(n)}}
        )
    assert sqs.calls == [("release", 10), ("release", 20), ("release", 40), ("release", 300)]
