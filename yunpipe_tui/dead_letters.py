"""What a pipeline's dead-letter queues still hold before teardown deletes them: how many failed
messages, and the S3 keys (`s3://bucket/key`) of the files they carry, so they can be kept."""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING, Any

from yunpipe_tui.aws import is_gone

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.deploy.journal import PipelineRecord

RECEIVE_ROUNDS = 100  # up to 1000 messages read per queue (10 per call)


def _urls(record: PipelineRecord, ctx: AwsContext) -> dict[str, str]:
    """Each step's DLQ name → URL (asked from SQS when the journal has none)."""
    sqs = ctx.client("sqs")
    found: dict[str, str] = {}
    for step in record.steps:
        name, url = step.dead_letter_queue, step.dead_letter_queue_url
        if not name:
            continue
        if not url:
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except Exception as exc:
                if is_gone(exc):
                    continue
                raise
        found[name] = url
    return found


def counts(record: PipelineRecord, ctx: AwsContext) -> dict[str, int]:
    """DLQ name → messages it holds (only queues that hold some)."""
    sqs = ctx.client("sqs")
    held: dict[str, int] = {}
    for name, url in _urls(record, ctx).items():
        try:
            attrs = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
        except Exception as exc:
            if is_gone(exc):
                continue
            raise
        n = int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesNotVisible", 0)
        )
        if n:
            held[name] = n
    return held


def file_keys(body: str) -> list[str]:
    """`s3://bucket/key` of every S3 record in one message body (S3's event or ours)."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return []
    keys = []
    for record in data.get("Records", []) if isinstance(data, dict) else []:
        s3 = record.get("s3", {}) if isinstance(record, dict) else {}
        bucket = s3.get("bucket", {}).get("name", "")
        key = urllib.parse.unquote_plus(str(s3.get("object", {}).get("key", "")))
        if bucket and key:
            keys.append(f"s3://{bucket}/{key}")
    return keys


def failed_file_keys(record: PipelineRecord, ctx: AwsContext) -> list[str]:
    """The file keys the DLQs hold, read without deleting (messages turn visible again after a
    short visibility timeout; the queues are about to be deleted anyway)."""
    sqs = ctx.client("sqs")
    keys: list[str] = []
    for url in _urls(record, ctx).values():
        seen: set[str] = set()
        for _ in range(RECEIVE_ROUNDS):
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0
            ).get("Messages", [])
            fresh = [m for m in got if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                keys.extend(file_keys(message.get("Body", "")))
    return sorted(dict.fromkeys(keys))
