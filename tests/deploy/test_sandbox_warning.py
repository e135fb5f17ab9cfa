"""`yunpipe deploy` on the sandbox says when an algorithm's command names files of its image
(issue 14, point 3); elsewhere it says nothing of the sort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from tests.deploy.helpers import make_prerequisites, write_workflow
from yunpipe_tui.catalog import Catalog


def test_dry_run_on_the_sandbox_warns_about_files_of_the_image(
    aws: Any, catalog: Catalog, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_prerequisites(aws)
    path = str(write_workflow(tmp_path))
    code, out, err = run_cli(["deploy", "-f", path, "--dry-run"], capsys)
    assert code == 0, err
    assert "inside its image" not in out
    monkeypatch.setenv("YUNPIPE_SANDBOX", "1")
    code, out, err = run_cli(["deploy", "-f", path, "--dry-run"], capsys)
    assert code == 0, err
    assert (
        "warning: algorithm 'change123-s3': its command refers to files inside its image "
        "(/change123.sh); the sandbox runs it on this machine"
    ) in out
