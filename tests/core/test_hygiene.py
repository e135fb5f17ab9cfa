"""The core is a library: importing it never pulls in Textual (STYLE.md, DESIGN.md)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import yunpipe_tui

# Only these may import Textual: the App, the CLI entry points that open it, and the screens.
TUI_MODULES = {"yunpipe_tui.app", "yunpipe_tui.cli", "yunpipe_tui.__main__"}
TUI_PREFIXES = ("yunpipe_tui.screens", "yunpipe_tui.commands", "yunpipe_tui.tui")


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(yunpipe_tui.__path__, "yunpipe_tui."):
        name = info.name
        if name in TUI_MODULES or name.startswith(TUI_PREFIXES):
            continue
        names.append(name)
    return sorted(names)


def test_core_modules_do_not_import_textual() -> None:
    modules = core_modules()
    assert "yunpipe_tui.workflow" in modules and "yunpipe_tui.catalog" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    assert 'textual' not in sys.modules, name\n"
        "print('clean')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr[-2000:]


def test_commands_import_textual_only_when_run() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import yunpipe_tui.commands as c\n"
        "for info in pkgutil.iter_modules(c.__path__, 'yunpipe_tui.commands.'):\n"
        "    importlib.import_module(info.name)\n"
        "    assert 'textual' not in sys.modules, info.name\n"
        "print('clean')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr[-2000:]
