"""redrive_failed: a failed file's message goes from the dead-letter queue back to its work
queue and its ledger item back to `queued`; other messages stay where they are."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.ledger.helpers import make_table, put_step
from yunpipe_tui import ledger
from yunpipe_tui import resource_names as names


def _body(bucket: str, key: str) -> str:
    return json.dumps(
        {"Records": [{"s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": "e1"}}}]}
    )


def _setup(aws: Any) -> dict[str, str]:
    sqs = aws.client("sqs")
    urls = {
        "queue": sqs.create_queue(QueueName=names.queue("p", "s1"))["QueueUrl"],
        "dlq": sqs.create_queue(QueueName=names.dead_letter_queue("p", "s1"))["QueueUrl"],
    }
    make_table(aws, "p")
    for key in ("bad one.txt", "other.txt"):
        put_step(aws, "p", key, "s1", "failed", input=f"s3://in/{key}", error="boom")
        sqs.send_message(QueueUrl=urls["dlq"], MessageBody=_body("in", key.replace(" ", "+")))
    return urls


def _depth(aws: Any, url: str) -> int:
    attrs = aws.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_redrive_one_file(aws: Any) -> None:
    urls = _setup(aws)
    assert ledger.redrive_failed(aws, "p", "bad one.txt") == 1
    assert _depth(aws, urls["queue"]) == 1 and _depth(aws, urls["dlq"]) == 1
    (msg,) = aws.client("sqs").receive_message(QueueUrl=urls["queue"])["Messages"]
    assert "bad+one.txt" in msg["Body"]
    (story,) = ledger.file_story(aws, "p", "bad one.txt")
    assert story.state == "queued"
    assert ledger.counts(aws, "p")["s1"]["failed"] == 1
    assert ledger.counts(aws, "p")["s1"]["queued"] == 1
    # the other file's message is visible again in the DLQ, still failed in the ledger
    assert [r.key for r in ledger.files(aws, "p", "failed")] == ["other.txt"]


def test_redrive_all_failed(aws: Any) -> None:
    urls = _setup(aws)
    assert ledger.redrive_failed(aws, "p") == 2
    assert _depth(aws, urls["queue"]) == 2 and _depth(aws, urls["dlq"]) == 0
    assert list(ledger.files(aws, "p", "failed")) == []
    assert ledger.counts(aws, "p")["s1"] == {"queued": 2, "running": 0, "done": 0, "failed": 0}


def test_redrive_without_ledger_says_so(aws: Any) -> None:
    with pytest.raises(ledger.NoLedger):
        ledger.redrive_failed(aws, "none")
    with pytest.raises(ledger.NoLedger):
        ledger.redrive_failed(aws, "none", "k")
