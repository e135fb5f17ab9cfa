"""Issue 11, item 7: interrupted is a state. A real `yunpipe deploy` process against a moto server
gets SIGINT (Ctrl-C), SIGTERM or SIGKILL in the middle of its deploy; the journal then says
`interrupted`, the message lists what exists and the two ways on, `status` shows it, and a new
deploy finishes it (the account's lock marker of the dead run does not block it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.helpers import make_prerequisites, write_workflow
from yunpipe_tui.aws import AwsContext, CallCounter
from yunpipe_tui.deploy import journal

# `yunpipe deploy --yes -f FILE` whose process gets signal SIG right after the N-th journal
# intent is written (the main thread receives it, as from a terminal or a supervisor)
CHILD = r"""
import os, signal, sys
from yunpipe_tui.deploy import journal as jr
sig, n = sys.argv[1], int(sys.argv[2])
count = {"n": 0}
real = jr.Journal.intent
def intent(self, key):
    real(self, key)
    count["n"] += 1
    if count["n"] == n:
        os.kill(os.getpid(), getattr(signal, sig))
jr.Journal.intent = intent
from yunpipe_tui.cli import main
main(["deploy", "--yes", "-f", sys.argv[3]])
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    yield f"http://{host}:{port}"
    srv.stop()


@pytest.fixture
def remote(server: str, monkeypatch: pytest.MonkeyPatch) -> AwsContext:
    request = urllib.request.Request(f"{server}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    ctx = AwsContext(region="us-east-1", endpoint_url=server, counter=CallCounter())
    make_prerequisites(ctx)
    return ctx


@pytest.fixture
def seeded_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's algorithm in the child's catalog (the isolated home of this test)."""
    from tests.deploy.helpers import SEED
    from yunpipe_tui.catalog import default_catalog, load_algorithm_file

    default_catalog().add(load_algorithm_file(SEED / "change123.json"))


def _child(path: Path, sig: str, n: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, sig, str(n), str(path)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
    )


def _status(pipeline: str) -> str:
    got = subprocess.run(
        [sys.executable, "-m", "yunpipe_tui", "status", "--json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    rows = json.loads(got.stdout)
    rows = rows.get("pipelines", rows) if isinstance(rows, dict) else rows
    return next(str(r["status"]) for r in rows if r["pipeline"] == pipeline)


@pytest.mark.parametrize(("sig", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_or_sigterm_during_deploy_leaves_interrupted_and_says_how_to_go_on(
    remote: AwsContext, seeded_catalog: None, tmp_path: Path, sig: str, code: int
) -> None:
    path = write_workflow(tmp_path)
    child = _child(path, sig, 4)
    assert child.returncode == code, child.stdout + child.stderr
    assert "aborted" not in child.stderr
    record = journal.load("demo")
    assert record is not None and record.recorded_status == journal.INTERRUPTED
    existing = record.interrupted_existing
    assert existing and all(e in child.stderr for e in existing[:3]), child.stderr
    assert "pipeline demo was interrupted; it has: " in child.stderr
    assert f"`yunpipe deploy -f {path}` to finish it" in child.stderr
    assert "`yunpipe teardown demo` to remove it" in child.stderr
    assert _status("demo") == journal.INTERRUPTED

    # deploying again finishes it (no lock left behind on this machine or in the account)
    again = subprocess.run(
        [sys.executable, "-m", "yunpipe_tui", "deploy", "--yes", "-f", str(path)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert _status("demo") == journal.DEPLOYED


def test_a_killed_deploy_shows_as_interrupted_and_a_new_deploy_is_not_blocked(
    remote: AwsContext, seeded_catalog: None, tmp_path: Path
) -> None:
    path = write_workflow(tmp_path)
    child = _child(path, "SIGKILL", 5)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    record = journal.load("demo")
    assert record is not None and record.recorded_status == journal.DEPLOYING
    assert _status("demo") == journal.INTERRUPTED
    # the dead run's marker is still in the account; this host's flock proves it stale
    ssm = remote.client("ssm")
    assert ssm.get_parameters_by_path(Path="/yunpipe/locks")["Parameters"]
    again = subprocess.run(
        [sys.executable, "-m", "yunpipe_tui", "deploy", "--yes", "-f", str(path)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert _status("demo") == journal.DEPLOYED
    assert ssm.get_parameters_by_path(Path="/yunpipe/locks")["Parameters"] == []
