"""On the sandbox, an algorithm whose command names a file inside its image is explained at wrap
and deploy time, on the Workflow screen, and in each failure the runner logs (issue 14, point 3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.lambda_runner.test_runner import config_for, make_pipe
from yunpipe_tui.assets import runner as r
from yunpipe_tui.sandbox_hints import explain, failure_hint, image_files

SEED = Path(__file__).parent.parent / "data" / "seed"
SEED_COMMAND = "sh /change123.sh $input $output"


@pytest.fixture
def clients(mocked_aws: None) -> dict[str, Any]:
    import boto3

    return {s: boto3.client(s, region_name="us-east-1") for s in ("s3", "sqs")}


def test_files_of_the_image_are_the_absolute_paths_missing_here():
    assert image_files(SEED_COMMAND) == ["/change123.sh"]
    assert image_files(f"{sys.executable} -m yunpipe_tui.sandbox.transform x $input $output") == []
    assert image_files("python3 -m yunpipe_tui.sandbox.transform upper $input $output") == []
    assert image_files("/bin/sh -c true $input") == []  # exists on this machine
    line = explain("change123-s3", SEED_COMMAND)
    assert "inside its image (/change123.sh)" in line
    assert "the sandbox runs it on this machine" in line
    assert explain("ok", "python3 -c pass $input") == ""


def test_wrap_on_the_sandbox_warns_about_files_of_the_image(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
):
    from yunpipe_tui.cli import cli

    seed = str(SEED / "change123.json")
    plain = CliRunner().invoke(cli, ["wrap", "--no-build", "-y", "-f", seed])
    assert plain.exit_code == 0, plain.output
    assert "inside its image" not in plain.output
    monkeypatch.setenv("YUNPIPE_SANDBOX", "1")
    sandboxed = CliRunner().invoke(cli, ["wrap", "--no-build", "-y", "-f", seed])
    assert sandboxed.exit_code == 0, sandboxed.output
    assert "warning: algorithm 'change123-s3': its command refers to files inside its image" in (
        sandboxed.output
    )


def test_the_runner_adds_the_sandbox_hint_to_a_failed_command(
    clients: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    urls = make_pipe(clients, max_receive=1)
    clients["s3"].put_object(Bucket="in-bucket", Key="in.txt", Body=b"x")
    hint = failure_hint(SEED_COMMAND)
    assert "/change123.sh exists only inside the algorithm's image" in hint
    config = config_for(tmp_path, urls["queue"], SEED_COMMAND, YUNPIPE_FAILURE_HINT=hint)
    assert r.run(config, clients) == 0
    failures = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"failed; the message stays queued"' in line
    ]
    assert failures
    assert failures[0]["error"] == f"command exited with 2 ({hint})"
