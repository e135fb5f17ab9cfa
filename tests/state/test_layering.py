"""The state package sits below the deploy package: it never pulls in Textual, the screens, or
any deploy module (plan, engine, teardown, journal, events, progress, preflight)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import yunpipe_tui.state

FORBIDDEN = (
    "textual",
    "yunpipe_tui.screens",
    "yunpipe_tui.deploy",
    "yunpipe_tui.plan",
    "yunpipe_tui.teardown",
    "yunpipe_tui.deploy.journal",
    "yunpipe_tui.events",
    "yunpipe_tui.progress",
    "yunpipe_tui.preflight",
)


def test_state_modules_import_nothing_above_them() -> None:
    modules = sorted(
        info.name
        for info in pkgutil.walk_packages(yunpipe_tui.state.__path__, "yunpipe_tui.state.")
    )
    assert {"yunpipe_tui.state.lock", "yunpipe_tui.state.registry"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = [m for m in sys.modules if m.startswith({FORBIDDEN!r})]\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr[-2000:]
