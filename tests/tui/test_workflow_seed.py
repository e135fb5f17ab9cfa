"""The seed's `work-flow.json` opens with its placeholder account id listed, and the form offers
the caller's account (or clearing the field) so the file can be saved (issue 14, point 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from textual.widgets import Input, Label

from tests.pilot import wait_workers
from yunpipe_tui.app import make_app
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.screens.workflow import WorkflowScreen

SEED = Path(__file__).parent.parent / "data" / "seed"


async def _open_seed(pilot, tmp_path: Path) -> tuple[WorkflowScreen, Path]:
    await pilot.pause()
    await wait_workers(pilot.app)
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowScreen)
    return screen, tmp_path / "work-flow.json"


async def test_the_seeds_workflow_is_saved_with_the_callers_account(
    aws, catalog: Catalog, tmp_path: Path
):
    path = tmp_path / "work-flow.json"
    shutil.copy(SEED / "work-flow.json", path)
    app = make_app(aws, initial="workflow", workflow_path=str(path))
    async with app.run_test(size=(100, 40)) as pilot:
        screen, _ = await _open_seed(pilot, tmp_path)
        account = screen.query_one("#account", Input)
        assert account.value == "your-aws-account-id"
        error = screen.query_one("#account-error", Label)
        assert error.display and "12-digit" in str(error.render())
        screen.query_one("#use-my-account").press()
        await pilot.pause()
        await wait_workers(app)
        await pilot.pause()
        assert account.value == "123456789012"  # moto's caller account
        assert not error.display
        assert screen.problems == []
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not screen.has_unsaved_changes()
    assert json.loads(path.read_text())["account_id"] == "123456789012"


async def test_clearing_the_placeholder_account_saves_without_one(
    aws, catalog: Catalog, tmp_path: Path
):
    path = tmp_path / "work-flow.json"
    shutil.copy(SEED / "work-flow.json", path)
    app = make_app(aws, initial="workflow", workflow_path=str(path))
    async with app.run_test(size=(100, 40)) as pilot:
        screen, _ = await _open_seed(pilot, tmp_path)
        screen.query_one("#account", Input).value = ""
        await pilot.pause()
        assert screen.problems == []
        assert screen.save_to(str(path))
    assert "account_id" not in json.loads(path.read_text())


async def test_on_the_sandbox_a_step_whose_command_needs_its_image_is_explained(
    aws, catalog: Catalog, tmp_path: Path
):
    path = tmp_path / "work-flow.json"
    shutil.copy(SEED / "work-flow.json", path)
    for sandbox in (False, True):
        app = make_app(aws, initial="workflow", workflow_path=str(path), sandbox=sandbox)
        async with app.run_test(size=(100, 40)) as pilot:
            screen, _ = await _open_seed(pilot, tmp_path)
            await pilot.pause()
            warnings = screen.query(".step-warning")
            if not sandbox:
                assert not warnings
                continue
            (warning,) = warnings
            assert "refers to files inside its image (/change123.sh)" in str(warning.render())
