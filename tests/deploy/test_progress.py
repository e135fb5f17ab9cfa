"""The CLI renderers of engine events, and the journal's read API used by other modules."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tests.deploy.helpers import write_workflow
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy import journal
from yunpipe_tui.deploy.plan import AccountFacts, build_plan
from yunpipe_tui.deploy.progress import LiveTree, PlainLines, describe, renderer
from yunpipe_tui.workflow import load_workflow


def _plan(tmp_path: Path, catalog: Catalog, name: str = "demo"):
    workflow = load_workflow(write_workflow(tmp_path, name=name), catalog)
    facts = AccountFacts("123456789012", "us-east-1", "ami-1", ("subnet-1",))
    return build_plan(workflow, {a.name: a for a in catalog.all()}, facts)


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


def test_journal_listing_and_most_recent(tmp_path: Path, catalog: Catalog) -> None:
    assert journal.list_pipelines() == [] and journal.most_recent() is None
    for name in ("first", "second"):
        j = journal.Journal.open(name)
        j.begin(_plan(tmp_path, catalog, name))
        j.set_status(journal.DEPLOYED)
    assert [r.pipeline for r in journal.list_pipelines()] == ["second", "first"]
    assert journal.most_recent().pipeline == "second"
    j = journal.Journal.open("second")
    j.set_status(journal.TORN_DOWN)
    assert journal.most_recent().pipeline == "first"
    record = journal.load("first")
    assert record.step_ids == ("s1",) and record.cluster == "yunpipe-first"
    assert record.workflow["process"]["algorithms"][0]["variables"] == {"TEST_ENV": "***"}
    assert journal.path_for("first").stat().st_mode & 0o077 == 0  # private to the user
    assert journal.load("nope") is None
