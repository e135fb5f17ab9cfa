"""The CLI renderers of engine events."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tests.deploy.helpers import pure_plan as _plan
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy.progress import LiveTree, PlainLines, describe, renderer


def test_plain_lines() -> None:
    lines: list[str] = []
    sink = PlainLines(lines.append)
    sink(ev.Event(ev.STARTED, "s1/queue", "queue", "q", "s1"))
    sink(ev.Event(ev.DONE, "s1/queue", "queue", "q", "s1", "create", elapsed=0.25))
    sink(ev.Event(ev.KEPT, "s1/dlq", "dlq", "d", "s1", "keep"))
    sink(ev.Event(ev.FAILED, "s1/dispatcher", "dispatcher", "f", "s1", message="AccessDenied"))
    sink(ev.Event(ev.WARNING, message="bucket b is public"))
    assert lines == [
        "created  work queue q (0.2s)",
        "kept     dead-letter queue d (0.0s)",
        "FAILED   dispatcher Lambda f: AccessDenied",
        "warning: bucket b is public",
    ]
    assert describe(ev.Event(ev.SKIPPED, kind="queue", name="q", message="not attempted")) == (
        "skipped  work queue q (not attempted)"
    )


def test_live_tree_renders_states(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog)
    tree = LiveTree.for_plan(plan)
    tree(ev.Event(ev.DONE, "s1/queue", "queue", "yunpipe-demo-s1-queue", "s1", "create", "", 1.0))
    tree(ev.Event(ev.FAILED, "s1/dispatcher", "dispatcher", "x", "s1", message="[boom] denied"))
    tree(ev.Event(ev.WARNING, message="careful"))
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(tree)
    text = out.getvalue()
    assert "✓ work queue yunpipe-demo-s1-queue created 1.0s" in text
    assert "✗ dispatcher Lambda yunpipe-demo-s1-dispatch [boom] denied" in text
    assert "warning: careful" in text
    assert text.count("·") == len(plan.resources) - 2


def test_renderer_picks_plain_lines_off_a_terminal(tmp_path: Path, catalog: Catalog) -> None:
    out = io.StringIO()
    console = Console(file=out, width=40)
    with renderer(console, _plan(tmp_path, catalog)) as sink:
        assert isinstance(sink, PlainLines)
        sink(ev.Event(ev.DONE, "k", "log_group", "/yunpipe/a-very-long-name-indeed", "", "create"))
    assert out.getvalue() == "created  log group /yunpipe/a-very-long-name-indeed (0.0s)\n"
