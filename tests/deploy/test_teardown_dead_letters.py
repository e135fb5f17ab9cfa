"""Teardown says how many failed messages the dead-letter queues hold and keeps their file keys
on request (issue 14, point 8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from tests.deploy.helpers import make_prerequisites, write_workflow
from yunpipe_tui.catalog import Catalog


@pytest.fixture
def cli_env(aws: Any, catalog: Catalog, code: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import yunpipe_tui.deploy as engine

    make_prerequisites(aws)
    monkeypatch.setattr(engine, "dispatcher_zip", code)
    monkeypatch.setattr(engine.time, "sleep", lambda s: None)
    return aws


def s3_event(bucket: str, key: str) -> str:
    return json.dumps({"Records": [{"s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]})


def test_failed_messages_are_counted_and_their_keys_saved(
    cli_env: Any, tmp_path: Path, capsys: Any
) -> None:
    code, _, err = run_cli(["deploy", "-f", str(write_workflow(tmp_path)), "--yes"], capsys)
    assert code == 0, err
    sqs = cli_env.client("sqs")
    url = sqs.get_queue_url(QueueName="yunpipe-demo-s1-dlq")["QueueUrl"]
    for key in ("in/a.txt", "in/b+c.txt"):
        sqs.send_message(QueueUrl=url, MessageBody=s3_event("demo-input-bucket", key))
    saved = tmp_path / "failed.txt"
    code, out, err = run_cli(["teardown", "demo", "--yes", "--save-failed", str(saved)], capsys)
    assert code == 0, err
    assert "dead-letter queue yunpipe-demo-s1-dlq holding 2 failed message(s)" in out
    assert f"wrote 2 failed file key(s) to {saved}" in out
    assert saved.read_text().splitlines() == [
        "s3://demo-input-bucket/in/a.txt",
        "s3://demo-input-bucket/in/b c.txt",
    ]


def test_without_failed_messages_nothing_is_said(cli_env: Any, tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(["deploy", "-f", str(write_workflow(tmp_path)), "--yes"], capsys)
    assert code == 0, err
    code, out, _ = run_cli(["teardown", "demo", "--yes"], capsys)
    assert code == 0 and "failed message" not in out and "--save-failed" not in out
