"""Workflow screen: a workflow built in the form saves a file `yunpipe validate` accepts; bucket
rules are checked as you type; leaving with unsaved changes asks first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input, Label, Select

from tests.pilot import wait_workers
from yunpipe_tui.app import make_app
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.cli import main as cli_main
from yunpipe_tui.screens.widgets import ConfirmModal
from yunpipe_tui.screens.workflow import WorkflowScreen
from yunpipe_tui.workflow import load_workflow

SIZE = (100, 32)


async def type_into(pilot, selector: str, text: str) -> None:
    """Type the last characters as keys (the keystroke path), set the rest at once (speed)."""
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()  # focusing selects the text; set the value after that
    field.value = text[:-3]
    field.cursor_position = len(field.value)
    await pilot.press(*text[-3:])


async def ready(pilot) -> WorkflowScreen:
    await pilot.pause()
    await wait_workers(pilot.app)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowScreen)
    return screen


async def test_form_builds_a_file_that_validate_accepts(aws, catalog: Catalog, tmp_path: Path):
    target = tmp_path / "built.json"
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await type_into(pilot, "#name", "demo")
        await type_into(pilot, "#input-bucket", "demo-input-bucket")
        await type_into(pilot, "#output-bucket", "demo-output-bucket")
        screen.query_one("#add-algorithm", Select).value = "change123-s3"
        await pilot.pause()
        screen.query_one("#add-step").press()
        await pilot.pause()
        # the required variable is marked and reported until it is given
        assert any("TEST_ENV" in p.message for p in screen.problems)
        var = screen.query_one(".step-var", Input)
        assert var.name == "TEST_ENV"
        var.focus()
        var.value = "hello world"
        port = screen.query_one(".step-port", Checkbox)
        port.value = True
        await pilot.pause()
        assert screen.problems == []
        await type_into(pilot, "#path", str(target))
        assert screen.has_unsaved_changes()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not screen.has_unsaved_changes()
        assert app.workflow_path == str(target)  # Deploy starts from the saved file
    data = json.loads(target.read_text())
    assert data["name"] == "demo"
    assert data["process"] == {
        "type": "single_run",
        "algorithms": [
            {"name": "change123-s3", "port": [9090], "variables": {"TEST_ENV": "hello world"}}
        ],
    }
    workflow = load_workflow(target, catalog)
    assert workflow.input_bucket == "demo-input-bucket"
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["validate", "-f", str(target)])
    assert exit_info.value.code == 0


async def test_bucket_rules_are_checked_as_you_type_and_block_saving(
    aws, catalog: Catalog, tmp_path: Path
):
    target = tmp_path / "bad.json"
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await type_into(pilot, "#input-bucket", "Bad_Bucket")
        error = screen.query_one("#input-bucket-error", Label)
        assert error.display
        assert "lowercase letters" in str(error.render())
        await type_into(pilot, "#path", str(target))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not target.exists()
        assert screen.has_unsaved_changes()


async def test_leaving_with_unsaved_changes_asks(aws, catalog: Catalog):
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert not screen.has_unsaved_changes()
        await type_into(pilot, "#input-bucket", "changed-bucket")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#cancel")
        await pilot.pause()
        assert app.screen is screen  # still here, changes kept
        assert screen.query_one("#input-bucket", Input).value == "changed-bucket"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.click("#confirm")
        await pilot.pause()
        assert type(app.screen).__name__ == "HomeScreen"


async def test_leaving_without_changes_does_not_ask(aws, catalog: Catalog):
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "HomeScreen"


async def test_opening_a_file_fills_the_form(aws, catalog: Catalog, tmp_path: Path):
    source = tmp_path / "seedlike.json"
    source.write_text(
        json.dumps(
            {
                "input_s3_name": "container-clouds-input",
                "output_s3_name": "container-clouds-output",
                "region": "us-west-2",
                "process": {
                    "type": "single_run",
                    "algorithms": [
                        {"name": "change123-s3", "port": [], "variables": {"TEST_ENV": "x"}}
                    ],
                },
            }
        )
    )
    app = make_app(aws, initial="workflow", workflow_path=str(source))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.query_one("#input-bucket", Input).value == "container-clouds-input"
        assert screen.query_one("#region", Select).value == "us-west-2"
        assert [s.algorithm for s in screen.steps] == ["change123-s3"]
        assert screen.problems == []
        assert not screen.has_unsaved_changes()


async def test_steps_are_added_reordered_and_removed(aws, catalog: Catalog, tmp_path: Path):
    from yunpipe_tui.catalog import load_algorithm_file

    second = load_algorithm_file(Path(__file__).parent.parent / "data/seed/change123.json")
    from dataclasses import replace

    catalog.add(replace(second, name="other-alg", variables=()))
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.add_step("change123-s3")
        await pilot.pause()
        assert screen.query_one("#type", Select).value == "single_run"
        screen.add_step("other-alg")  # a second step makes it a sequence
        await pilot.pause()
        assert screen.query_one("#type", Select).value == "sequence_run"
        assert screen.selected == 1
        await pilot.click("#step-up")
        await pilot.pause()
        assert [s.algorithm for s in screen.steps] == ["other-alg", "change123-s3"]
        assert screen.selected == 0
        names = [a["name"] for a in screen.current_data()["process"]["algorithms"]]
        assert names == ["other-alg", "change123-s3"]
        await pilot.click("#remove-step")
        await pilot.pause()
        assert [s.algorithm for s in screen.steps] == ["change123-s3"]
