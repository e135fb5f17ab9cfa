"""The sandbox keeps its deploy records with it: they are seen by every process pointed at it
(its exports carry YUNPIPE_STATE_DIR) and gone when it stops; `status` never lists them after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from tests.deploy.helpers import deploy_file, make_prerequisites, write_workflow
from yunpipe_tui import locations
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.deploy import dispatcher_zip, journal

SEED = Path(__file__).parent.parent / "data" / "seed"


def test_sandbox_records_vanish_with_the_sandbox(
    sandbox_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    sandbox = sandbox_env
    exported = dict(line[len("export ") :].split("=", 1) for line in sandbox.export_lines())
    assert exported["YUNPIPE_STATE_DIR"] == str(sandbox.state_dir)
    user_journals = locations.journal_dir()
    monkeypatch.setenv("YUNPIPE_STATE_DIR", str(sandbox.state_dir))
    assert locations.journal_dir() == sandbox.state_dir / "journals"

    ctx = sandbox.aws_context()
    make_prerequisites(ctx)
    catalog = Catalog()
    catalog.add(load_algorithm_file(SEED / "change123.json"))
    deploy_file(ctx, write_workflow(tmp_path), catalog, code=dispatcher_zip)
    record = journal.load("demo")
    assert record is not None and record.endpoint == sandbox.endpoint
    code, out, _ = run_cli(["status"], capsys)
    assert code == 0 and out.startswith("demo  deployed")

    sandbox.stop()
    assert not sandbox.state_dir.exists()
    code, out, _ = run_cli(["status"], capsys)  # the shell that pasted the exports
    assert "no pipelines deployed yet" in out and "demo" not in out
    monkeypatch.delenv("YUNPIPE_STATE_DIR")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert not user_journals.exists() or not list(user_journals.glob("*.json"))
    code, out, _ = run_cli(["status"], capsys)  # a fresh shell: the user's own records
    assert "no pipelines deployed yet" in out and "demo" not in out
