"""The installed commands against a moto server, as a user runs them."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(iam_data_patch: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    url = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield url
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
        srv.stop()


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=120, env=dict(os.environ), check=False
    )


@pytest.mark.skipif(not (BIN / "create-lambda-exec-role").exists(), reason="scripts not installed")
def test_doctor_and_the_seed_command_against_a_server(server: str) -> None:
    done = _run(str(BIN / "yunpipe"), "doctor", "--json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    failed = {c["id"] for c in data["checks"] if c["status"] == "fail"}
    assert failed == {
        "lambda-exec-role",
        "ecs-instance-role",
        "ec2-actions-role",
        "events-service-linked-role",
    }
    simulate = next(c for c in data["checks"] if c["id"] == "simulate-deploy")
    assert simulate["status"] == "warn" and "not implemented" in simulate["detail"]

    done = _run(str(BIN / "create-lambda-exec-role"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("lambda_exec_role: created role lambda_exec_role")

    done = _run(str(BIN / "yunpipe"), "doctor", "--fix", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[✓] IAM role ecsInstanceRole" in done.stdout
    assert done.stdout.rstrip().endswith("Doctor found 1 warning.")
