"""Small helpers for the core tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from yunpipe_tui.cli import main


def run_cli(args: list[str], capsys: Any) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:  # pragma: no cover - main always exits
        code = 0
    out = capsys.readouterr()
    return code, out.out, out.err


def write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=4))
    return path
