"""Crash safety: a deploy process SIGKILLed at several points leaves a journal from which
teardown returns the account to its prior state, and a later deploy converges.

The deploy runs in a child process against a moto server on 127.0.0.1 (AWS_ENDPOINT_URL); the
child kills itself with SIGKILL at a chosen point, so the moment is exact:
- `intent:N`     right after the N-th intent is written, before that resource's create call;
- `after-call:N` right after AWS answered the N-th create call, before the journal result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import make_prerequisites, plan_for, snapshot, write_workflow
from yunpipe_tui.aws import AwsContext, CallCounter
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import deploy, journal
from yunpipe_tui.deploy.teardown import teardown

CHILD = r"""
import os, signal, sys
from importlib import resources
from yunpipe_tui.deploy import journal as jr
from yunpipe_tui.deploy import preflight
from yunpipe_tui.aws import AwsContext
from yunpipe_tui.catalog import default_catalog
from yunpipe_tui.deploy import deploy, dispatcher_zip, zip_source
from yunpipe_tui.deploy.plan import algorithms_for, build_plan
from yunpipe_tui.workflow import load_workflow

mode, n = sys.argv[2].split(":")
n = int(n)
ctx = AwsContext(region="us-east-1", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
count = {"n": 0}

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if mode == "intent":
    real = jr.Journal.intent
    def intent(self, key):
        real(self, key)
        count["n"] += 1
        if count["n"] == n:
            die()
    jr.Journal.intent = intent
else:
    def after(event_name, **_):
        op = event_name.split(".")[-1]
        if op.startswith(("Create", "Put", "Register", "Add")):
            count["n"] += 1
            if count["n"] == n:
                die()
    ctx.add_hook("after-call.*.*", after)

catalog = default_catalog()
workflow = load_workflow(sys.argv[1], catalog)
facts = preflight.account_facts(ctx, workflow)
plan = build_plan(workflow, algorithms_for(workflow, catalog), facts)
packaged = resources.files("yunpipe_tui.lambda_functions").joinpath("dispatcher.py").is_file()
stand_in = {"dispatcher.py": b"def handler(e, c): pass\n"}
code = dispatcher_zip if packaged else (lambda: zip_source(stand_in))
deploy(plan, ctx, code=code, max_workers=1)
print("finished without being killed")
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    url = f"http://{host}:{port}"
    yield url
    srv.stop()


@pytest.fixture
def remote(server: str, monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> AwsContext:
    request = urllib.request.Request(f"{server}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server)
    ctx = AwsContext(region="us-east-1", endpoint_url=server, counter=CallCounter())
    make_prerequisites(ctx)
    return ctx


def _child(path: Path, point: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(path), point],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _names(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "task_definitions"} | {
        "families": sorted({a.rsplit("/", 1)[-1].split(":")[0] for a in state["task_definitions"]})
    }


@pytest.mark.parametrize("point", ["intent:1", "intent:7", "after-call:4", "after-call:12"])
def test_killed_deploy_is_torn_down_and_redeploy_converges(
    remote: AwsContext, tmp_path: Path, catalog: Catalog, point: str
) -> None:
    ctx = remote
    path = write_workflow(tmp_path, sequence=True)
    before = snapshot(ctx)

    child = _child(path, point)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    record = journal.load("demo")
    assert record is not None and record.recorded_status == journal.DEPLOYING
    assert record.status == journal.INTERRUPTED  # its writer is gone (issue 11, item 7)
    intents = [k for k, v in record.resources.items() if v["status"] == journal.INTENT]
    assert intents  # the resource being created when the process died is in the journal
    if point != "intent:1":
        assert snapshot(ctx) != before  # the killed run did leave resources behind

    result = teardown("demo", ctx, delete_buckets=True)
    assert result.ok, (result.failed, result.leftovers)
    assert snapshot(ctx) == before

    # killed again at the same point, then a normal deploy finishes the job without duplicates
    assert _child(path, point).returncode == -signal.SIGKILL
    plan = plan_for(ctx, path, catalog)
    deploy(plan, ctx, sleep=lambda s: None, code=_code())
    converged = snapshot(ctx)
    again = deploy(plan, ctx, code=_code())
    assert set(again.actions.values()) == {"keep"}
    assert snapshot(ctx) == converged
    assert len(converged["functions"]) == 2 and len(converged["queues"]) == 4
    assert len(converged["task_definitions"]) == 2  # one ACTIVE revision per step
    assert journal.load("demo").status == journal.DEPLOYED

    teardown("demo", ctx, delete_buckets=True)
    assert snapshot(ctx) == before


def _code() -> Any:
    from importlib import resources

    from yunpipe_tui.deploy import dispatcher_zip, zip_source

    if resources.files("yunpipe_tui.lambda_functions").joinpath("dispatcher.py").is_file():
        return dispatcher_zip
    return lambda: zip_source({"dispatcher.py": b"def handler(e, c): pass\n"})


def test_journal_file_is_valid_json_at_every_kill(remote: AwsContext, tmp_path: Path) -> None:
    path = write_workflow(tmp_path)
    for n in (1, 3, 5):
        assert _child(path, f"intent:{n}").returncode == -signal.SIGKILL
        data = json.loads(journal.path_for("demo").read_text())
        intents = [k for k, v in data["resources"].items() if v["status"] == "intent"]
        assert intents
