"""The Monitor screen with a pipeline on AWS Batch (moto, no journal: the account says Batch):
jobs by state per step, why RUNNABLE jobs wait, the compute environments, no instances, tasks
or terminate key, all on an 80×24 terminal."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Footer, Label, Static

from tests.monitor.batch_helpers import build_batch_pipeline, jobs_stay_put, set_desired, submit
from tests.monitor.helpers import PIPELINE
from tests.tui.test_monitor_screen import make, monitor_of, wait_for
from yunpipe_tui import resource_names as names
from yunpipe_tui.screens.monitor import MonitorScreen


async def test_a_batch_pipeline_at_80x24(aws: Any) -> None:
    with jobs_stay_put():
        build_batch_pipeline(aws, needs={"s2": ("4", "16000", "1")}, max_vcpus=8)
        submit(aws, PIPELINE, "s1", "RUNNING", 2)
        submit(aws, PIPELINE, "s1", "FAILED", 1, reason="Essential container in task exited")
        submit(aws, PIPELINE, "s2", "RUNNABLE", 3)
    set_desired(PIPELINE, names.ON_DEMAND, 2)
    app = make(aws, pipeline=PIPELINE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        await wait_for(pilot, lambda: screen.polls >= 1)
        await pilot.pause()
        assert screen.snapshot.backend == "batch"
        jobs = screen.query_one("#jobs", DataTable)
        assert str(jobs.get_cell("s1", "RUNNING")) == "2"
        assert str(jobs.get_cell("s1", "FAILED")) == "1"
        assert str(jobs.get_cell("s2", "RUNNABLE")) == "3"
        assert jobs.get_cell("s1", "vcpus") == "2"
        notes = str(screen.query_one("#batch-notes", Static).render())
        assert "s2: 3 RUNNABLE: no allowed instance type fits one job (4 vCPU" in notes
        assert "s1: failed: Essential container in task exited" in notes
        heading = str(screen.query_one("#jobs-heading", Label).render())
        assert "vCPUs: 2 running · 2 desired of 8 max" in heading
        environments = screen.query_one("#environments", DataTable)
        ondemand = names.compute_environment(PIPELINE, names.ON_DEMAND)
        assert str(environments.get_cell(ondemand, "status")) == "VALID"
        assert environments.get_cell(ondemand, "desired") == "2"
        # No instances or tasks of ours on Batch, and no key to terminate one.
        assert not screen.query_one("#ecs-part").display
        assert screen.check_action("terminate", ()) is False
        footer = screen.query_one(Footer)
        assert all("Terminate" not in k.description for k in footer.query("FooterKey"))
        # Everything fits on 80×24: both tables whole, above the footer.
        bottom = footer.region.y
        for widget in (jobs, environments, screen.query_one("#batch-notes")):
            region = widget.region
            assert region.height > 0 and region.bottom <= bottom, (widget.id, region)
            assert region.right <= 80, (widget.id, region)
        assert environments.region.height >= 1 + 1  # its header and the one environment
        assert jobs.region.height >= 1 + 2  # its header and both steps
        # A job starts and another finishes: the same rows are updated in place.
        with jobs_stay_put():
            submit(aws, PIPELINE, "s1", "SUCCEEDED", 1, exit_code=0)
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.polls >= 2)
        assert str(jobs.get_cell("s1", "SUCCEEDED")) == "1" and jobs.row_count == 2
