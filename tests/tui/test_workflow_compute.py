"""The Workflow form's Compute row: defaults write no section (the seed's files save back as they
were), a changed row appears in the preview and the file, a file's section fills the row and
saves back unchanged, and a bad ceiling is reported beside the row."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input, Label, Select, Static, Switch

from tests.tui.test_workflow import SIZE, ready, type_into
from yunpipe_tui.app import make_app
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.workflow import Compute, load_workflow

BASE = {
    "name": "demo",
    "input_s3_name": "demo-input-bucket",
    "output_s3_name": "demo-output-bucket",
    "process": {
        "type": "single_run",
        "algorithms": [{"name": "change123-s3", "port": [], "variables": {"TEST_ENV": "x"}}],
    },
}


def _write(path: Path, **over: object) -> Path:
    path.write_text(json.dumps({**BASE, **over}, indent=2))
    return path


def _preview(screen) -> str:
    return str(screen.query_one("#preview", Static).render())


async def test_the_row_writes_compute_only_when_changed(aws, catalog: Catalog, tmp_path: Path):
    source = _write(tmp_path / "plain.json")
    target = tmp_path / "scaled.json"
    app = make_app(aws, initial="workflow", workflow_path=str(source))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.query_one("#compute-backend", Select).value == "ecs"
        assert screen.query_one("#max-tasks-row").display
        assert not screen.query_one("#max-vcpus-row").display
        assert "compute" not in screen.current_data() and '"compute"' not in _preview(screen)
        assert not screen.has_unsaved_changes()
        await type_into(pilot, "#max-tasks", "120")
        screen.query_one("#spot", Switch).value = True
        await pilot.pause()
        assert screen.current_data()["compute"] == {
            "backend": "ecs",
            "max_tasks": 120,
            "max_vcpus": 256,
            "spot": True,
        }
        assert '"max_tasks": 120' in _preview(screen)
        assert screen.problems == []
        assert screen.save_to(str(target))
    assert load_workflow(target, catalog).compute == Compute("ecs", 120, 256, True)


async def test_a_files_section_fills_the_row_and_saves_back(aws, catalog: Catalog, tmp_path):
    section = {"backend": "batch", "max_tasks": 10, "max_vcpus": 16, "spot": True}
    source = _write(tmp_path / "batch.json", compute=section)
    target = tmp_path / "again.json"
    app = make_app(aws, initial="workflow", workflow_path=str(source))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.query_one("#compute-backend", Select).value == "batch"
        assert screen.query_one("#max-vcpus", Input).value == "16"
        assert screen.query_one("#spot", Switch).value is True
        assert screen.query_one("#max-vcpus-row").display  # Batch reads vCPUs...
        assert not screen.query_one("#max-tasks-row").display  # ...not tasks
        assert not screen.has_unsaved_changes()
        # Back to ECS: the tasks ceiling shows again.
        screen.query_one("#compute-backend", Select).value = "ecs"
        await pilot.pause()
        assert screen.query_one("#max-tasks-row").display
        assert screen.current_data()["compute"]["backend"] == "ecs"
        screen.query_one("#compute-backend", Select).value = "batch"
        await pilot.pause()
        assert screen.save_to(str(target))
    assert json.loads(target.read_text())["compute"] == section


async def test_a_bad_ceiling_is_reported_beside_the_row_and_blocks_saving(
    aws, catalog: Catalog, tmp_path: Path
):
    source = _write(tmp_path / "plain.json")
    target = tmp_path / "bad.json"
    app = make_app(aws, initial="workflow", workflow_path=str(source))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await type_into(pilot, "#max-tasks", "5000")
        error = screen.query_one("#compute-error", Label)
        assert error.display
        assert "max_tasks must be a whole number from 1 to 1000" in str(error.render())
        assert [p.path for p in screen.problems] == ["compute.max_tasks"]
        screen.query_one("#max-tasks", Input).value = ""
        await pilot.pause()
        assert [p.path for p in screen.problems] == ["compute.max_tasks"]
        assert not screen.save_to(str(target))
    assert not target.exists()
