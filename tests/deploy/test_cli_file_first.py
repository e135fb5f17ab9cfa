"""Without a terminal, `deploy` looks at the file before asking for --yes (issue 14, point 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from tests.deploy.helpers import write_workflow
from yunpipe_tui.catalog import Catalog


@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import yunpipe_tui.commands.deploy as cmd

    monkeypatch.setattr(cmd, "interactive", lambda: False)


@pytest.mark.usefixtures("no_terminal")
def test_missing_file_is_named_not_the_confirmation(
    catalog: Catalog, tmp_path: Path, capsys: Any
) -> None:
    code, _, err = run_cli(["deploy", "-f", str(tmp_path / "nope.json")], capsys)
    assert code == 2 and "nope.json" in err
    assert "--yes" not in err


@pytest.mark.usefixtures("no_terminal")
def test_broken_json_is_named_not_the_confirmation(
    catalog: Catalog, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"name": "demo",\n  "process": ')
    code, _, err = run_cli(["deploy", "-f", str(path)], capsys)
    assert code == 2 and "broken.json:2:" in err and "malformed JSON" in err
    assert "--yes" not in err


@pytest.mark.usefixtures("no_terminal")
def test_invalid_workflow_is_named_not_the_confirmation(
    catalog: Catalog, tmp_path: Path, capsys: Any
) -> None:
    path = write_workflow(tmp_path, process={"type": "single_run", "algorithms": []})
    code, _, err = run_cli(["deploy", "-f", str(path)], capsys)
    assert code == 2 and "algorithms" in err
    assert "--yes" not in err


@pytest.mark.usefixtures("no_terminal")
def test_valid_file_then_asks_for_yes(catalog: Catalog, tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(["deploy", "-f", str(write_workflow(tmp_path))], capsys)
    assert code == 2 and "--yes" in err
