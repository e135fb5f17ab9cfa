"""Text shown as written: patterns and names are never eaten as markup, a step panel never keeps
an old file's problem, and failure notifications say what failed in the user's words
(issue 14, point 6)."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input, Label, Static

from tests.pilot import wait_workers
from yunpipe_tui.app import make_app
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.screens.workflow import WorkflowScreen

SIZE = (100, 40)


def _workflow(path: Path, test_env: str | None) -> Path:
    variables = {"TEST_ENV": test_env} if test_env is not None else {}
    path.write_text(
        json.dumps(
            {
                "input_s3_name": "demo-input-bucket",
                "output_s3_name": "demo-output-bucket",
                "process": {
                    "type": "single_run",
                    "algorithms": [{"name": "change123-s3", "port": [], "variables": variables}],
                },
            }
        )
    )
    return path


async def _screen(pilot) -> WorkflowScreen:
    await pilot.pause()
    await wait_workers(pilot.app)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowScreen)
    return screen


async def test_the_pipeline_name_rule_shows_its_pattern(aws, catalog: Catalog):
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot)
        screen.query_one("#name", Input).value = "Bad Name"
        await pilot.pause()
        shown = str(screen.query_one("#name-error", Label).render())
        assert "[a-z0-9]" in shown, shown
        problems = str(screen.query_one("#problems", Static).render())
        assert "[a-z0-9]" in problems


async def test_notifications_show_brackets_as_written(aws, catalog: Catalog):
    app = make_app(aws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.notify("name must match ^[a-z0-9][a-z0-9-]{0,30}$ [b]x[/b]")
        await pilot.pause()
        (notification,) = [n for n in app._notifications if "must match" in n.message]
        assert notification.markup is False


async def test_opening_another_file_clears_the_old_step_problem(
    aws, catalog: Catalog, tmp_path: Path
):
    broken = _workflow(tmp_path / "broken.json", None)
    fine = _workflow(tmp_path / "fine.json", "hello")
    app = make_app(aws, initial="workflow", workflow_path=str(broken))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot)
        (label,) = screen.query(".step-problems").results(Label)
        assert label.display and "TEST_ENV" in str(label.render())
        screen.open_file(str(fine))
        await _screen(pilot)
        assert screen.problems == []
        assert "✓ valid" in str(screen.query_one("#problems", Static).render())
        shown = [
            str(x.render()) for x in screen.query(".step-problems").results(Label) if x.display
        ]
        assert shown == []


async def test_a_failed_workers_notification_says_what_failed(aws, catalog: Catalog):
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot)

        def boom() -> None:
            raise RuntimeError("no route to the endpoint")

        screen.run_worker(
            boom, thread=True, group="key-pairs", name="key pairs", exit_on_error=False
        )
        await wait_workers(app)
        await pilot.pause()
        titles = [n.title for n in app._notifications]
        assert "Listing key pairs failed" in titles
        assert not any(t.startswith(("key pairs", "_")) for t in titles)
