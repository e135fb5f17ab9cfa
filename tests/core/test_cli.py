"""The CLI's conventions: help, version, exit codes, one-line errors, fast start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.core.helpers import run_cli
from yunpipe_tui import __version__
from yunpipe_tui.cli import ALIASES, COMMANDS


def test_help_lists_every_available_subcommand(capsys: Any) -> None:
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0
    for name, (_, summary) in COMMANDS.items():
        assert f"{name}  " in out and summary in out
    for alias in ALIASES:
        assert alias not in out  # the seed's names work but stay out of the way


def test_every_available_command_has_help(capsys: Any) -> None:
    for name in COMMANDS:
        code, out, err = run_cli([name, "--help"], capsys)
        assert code == 0, (name, err)
        assert f"Usage: yunpipe {name}" in out


def test_version(capsys: Any) -> None:
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and __version__ in out


def test_unknown_command_is_a_usage_error(capsys: Any) -> None:
    code, _, err = run_cli(["frobnicate"], capsys)
    assert code == 2 and "No such command 'frobnicate'" in err


def test_input_errors_have_no_traceback(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "w.json"
    bad.write_text("{")
    code, out, err = run_cli(["validate", "-f", str(bad)], capsys)
    assert code == 2 and out == ""
    assert "Traceback" not in err and err.count("\n") == 1


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch: Any, capsys: Any) -> None:
    import yunpipe_tui.commands.algorithms as algorithms

    def boom() -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(algorithms, "__name__", algorithms.__name__)
    monkeypatch.setattr("yunpipe_tui.catalog.default_catalog", boom)
    code, _, err = run_cli(["algorithms"], capsys)
    assert code == 1
    assert err == "error: unexpected RuntimeError: disk on fire (rerun with --debug for details)\n"
    try:
        run_cli(["--debug", "algorithms"], capsys)
    except RuntimeError as exc:
        assert str(exc) == "disk on fire"
    else:  # pragma: no cover
        raise AssertionError("--debug should let the traceback through")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from yunpipe_tui.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('boto3', 'botocore', 'textual', 'moto', 'rich', 'jsonschema')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "HEAVY []" in result.stdout, result.stdout


def test_shell_completion_offers_subcommands_and_options() -> None:
    import os

    def complete(words: str, cword: int) -> list[str]:
        env = dict(os.environ, COMP_WORDS=words, COMP_CWORD=str(cword))
        env["_YUNPIPE_COMPLETE"] = "bash_complete"
        code = "from yunpipe_tui.cli import main; main()"
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True
        ).stdout
        return [line.split(",", 1)[1] for line in out.splitlines() if "," in line]

    assert complete("yunpipe de", 1) == ["demo", "deploy"]
    assert "--dry-run" in complete("yunpipe deploy --d", 2)
