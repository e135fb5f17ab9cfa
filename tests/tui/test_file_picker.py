"""ctrl+o opens a file picker (folders and *.json only) and says what it opened or why it
could not (issue 14, point 8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.pilot import wait_workers
from tests.tui.conftest import SEED
from yunpipe_tui.app import make_app
from yunpipe_tui.screens.file_picker import JsonTree, OpenFileModal
from yunpipe_tui.screens.widgets import ErrorModal
from yunpipe_tui.screens.workflow import WorkflowScreen

SIZE = (100, 32)


async def settle(pilot: Any) -> None:
    for _ in range(3):
        await pilot.pause()
        await wait_workers(pilot.app)
    await pilot.pause()


async def pick(pilot: Any, name: str) -> None:
    """Move the picker's cursor to `name` (loaded lazily) and press enter."""
    modal = pilot.app.screen
    assert isinstance(modal, OpenFileModal)
    tree = modal.query_one(JsonTree)
    for _ in range(50):
        await pilot.pause()
        labels = [str(node.label) for node in tree.root.children]
        if name in labels:
            break
    tree.move_cursor(tree.root.children[labels.index(name)])
    await pilot.pause()
    await pilot.press("enter")
    for _ in range(5):
        await pilot.pause()
    await settle(pilot)


async def test_ctrl_o_picks_a_json_file_and_says_so(aws: Any, catalog: Any, tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    folder.mkdir()
    shutil.copy(SEED / "work-flow.json", folder / "work-flow.json")
    (folder / "notes.txt").write_text("not a workflow")
    (folder / "broken.json").write_text("{ nope")
    app = make_app(aws, initial="workflow", workflow_path=str(folder / "new.json"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorkflowScreen)
        await pilot.press("ctrl+o")
        await pilot.pause()  # no settle while the picker is open: its tree's loader never ends
        modal = app.screen
        assert isinstance(modal, OpenFileModal)
        tree = modal.query_one(JsonTree)
        for _ in range(50):
            await pilot.pause()
            if tree.root.children:
                break
        names = sorted(str(n.label) for n in tree.root.children)
        assert names == ["broken.json", "work-flow.json"]  # no notes.txt
        app.clear_notifications()
        await pick(pilot, "work-flow.json")
        assert app.screen is screen
        assert screen.query_one("#path").value == str(folder / "work-flow.json")
        said = [n.message for n in app._notifications]
        assert any(m.startswith("Opened ") and m.endswith("work-flow.json") for m in said), said
        # a broken file: the error, in its own dialog
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pick(pilot, "broken.json")
        assert isinstance(app.screen, ErrorModal)
        json.loads((folder / "work-flow.json").read_text())  # untouched
