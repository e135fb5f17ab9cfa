"""`yunpipe deploy/status/teardown`, `setup-pipe` and `clean-up` in-process against mock_aws."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from tests.deploy.helpers import fail_first, make_prerequisites, snapshot, write_workflow
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import journal


@pytest.fixture
def cli_env(aws: Any, catalog: Catalog, code: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Prerequisites in the mocked account; the CLI's own AwsContext talks to the same mock."""
    import yunpipe_tui.deploy as engine

    make_prerequisites(aws)
    monkeypatch.setattr(engine, "dispatcher_zip", code)
    monkeypatch.setattr(engine.time, "sleep", lambda s: None)
    return aws


def test_deploy_yes_then_status_then_teardown(cli_env: Any, tmp_path: Path, capsys: Any) -> None:
    path = write_workflow(tmp_path)
    code, out, err = run_cli(["deploy", "-f", str(path), "--yes"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[-2:] == [
        "You can start upload files at demo-input-bucket",
        "You will get your result at demo-output-bucket",
    ]
    assert "15 to create, 0 to update, 0 to keep" in out
    assert "created  work queue yunpipe-demo-s1-queue" in out

    code, out, _ = run_cli(["status", "--json"], capsys)
    (status,) = json.loads(out)
    assert status["pipeline"] == "demo" and status["status"] == "deployed"
    assert status["steps"][0]["queue_url"].endswith("yunpipe-demo-s1-queue")

    code, out, _ = run_cli(["deploy", "-f", str(path), "--yes"], capsys)
    assert code == 0 and "0 to create, 0 to update, 15 to keep" in out

    code, out, err = run_cli(["teardown", "--yes"], capsys)
    assert code == 0, err
    assert "torn down" in out and "no leftovers found" in out
    assert "Buckets kept with your data: demo-input-bucket, demo-output-bucket" in out
    code, out, _ = run_cli(["teardown", "--yes"], capsys)
    assert code == 0 and "nothing to tear down" in out
    code, out, _ = run_cli(["clean-up", "--yes"], capsys)
    assert code == 0 and "nothing to tear down" in out
    # naming the torn-down pipeline runs the idempotent cross-check and says so
    code, out, _ = run_cli(["teardown", "demo", "--yes"], capsys)
    assert code == 0 and "nothing to tear down for demo: everything was already gone" in out


def test_no_terminal_and_no_yes_exits_2(cli_env: Any, tmp_path: Path, capsys: Any) -> None:
    before = snapshot(cli_env)
    code, _, err = run_cli(["deploy", "-f", str(write_workflow(tmp_path))], capsys)
    assert code == 2 and "--yes" in err
    assert snapshot(cli_env) == before


def test_dry_run_prints_tree_and_changes_nothing(cli_env: Any, tmp_path: Path, capsys: Any) -> None:
    before = snapshot(cli_env)
    code, out, _ = run_cli(
        ["deploy", "-f", str(write_workflow(tmp_path, sequence=True)), "--dry-run"], capsys
    )
    assert code == 0
    assert "[create] work queue yunpipe-demo-s2-queue" in out
    assert "dry run: nothing was changed" in out
    assert snapshot(cli_env) == before and journal.load("demo") is None


def test_missing_prerequisites_point_to_doctor(
    aws: Any, catalog: Catalog, tmp_path: Path, capsys: Any
) -> None:
    code, _, err = run_cli(["deploy", "-f", str(write_workflow(tmp_path)), "--yes"], capsys)
    assert code == 1
    assert "error: IAM role lambda_exec_role is missing; run `yunpipe doctor --fix`" in err
    assert "Traceback" not in err
    assert aws.client("sqs").list_queues().get("QueueUrls", []) == []


def test_setup_pipe_alias_deploys_each_file(cli_env: Any, tmp_path: Path, capsys: Any) -> None:
    a = write_workflow(tmp_path, name="one")
    b = write_workflow(tmp_path, name="two")
    code, out, err = run_cli(["setup-pipe", "-f", str(a), "-f", str(b), "-uu"], capsys)
    assert code == 0, err
    assert "per-step task role" in out and "no AWS credentials are placed" in out
    assert "You can start upload files at one-input-bucket" in out
    assert "You will get your result at two-output-bucket" in out
    assert {r.pipeline for r in journal.list_pipelines()} == {"one", "two"}
    code, out, _ = run_cli(["clean-up", "--yes"], capsys)
    assert code == 0 and "pipeline two torn down" in out  # the most recent one
    assert journal.load("one").status == journal.DEPLOYED


def test_failed_deploy_with_rollback(cli_env: Any, tmp_path: Path, capsys: Any) -> None:
    before = snapshot(cli_env)
    import yunpipe_tui.aws as aws_module

    real_client = aws_module.AwsContext.client

    def client(self: Any, service: str) -> Any:
        c = real_client(self, service)
        if service == "lambda" and not getattr(c, "_yunpipe_fault", False):
            c.meta.events.register(
                "before-call.lambda.CreateFunction",
                fail_first(100, "InvalidParameterValueException", "Code too large"),
            )
            c._yunpipe_fault = True
        return c

    import unittest.mock

    with unittest.mock.patch.object(aws_module.AwsContext, "client", client):
        code, out, err = run_cli(
            ["deploy", "-f", str(write_workflow(tmp_path)), "--yes", "--rollback"], capsys
        )
    assert code == 1
    assert "dispatcher Lambda yunpipe-demo-s1-dispatch failed" in out + err
    assert "Code too large" in out + err
    assert "rolled back" in out
    assert snapshot(cli_env) == before


def test_status_without_pipelines(capsys: Any) -> None:
    code, out, _ = run_cli(["status"], capsys)
    assert code == 0 and "no pipelines deployed yet" in out
    code, out, _ = run_cli(["status", "--json"], capsys)
    assert json.loads(out) == []
