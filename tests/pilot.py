"""Helpers for Pilot tests."""

from __future__ import annotations

from typing import Any


async def wait_workers(app: Any) -> None:
    """Wait until the app's workers are done.

    Textual's `wait_for_complete` re-raises a worker's error when the worker is still listed at
    that moment (a race). The wizard handles failed workers in one place (`app.worker_failed`,
    recorded in `app.failures`), and tests that inject failures assert on that; so a failure is
    re-raised here only for an app without that handler.
    """
    from textual.worker import WorkerFailed

    try:
        await app.workers.wait_for_complete()
    except WorkerFailed:
        if not hasattr(app, "failures"):
            raise


async def settle_tables(pilot: Any, attempts: int = 100) -> None:
    """Wait until every DataTable on the screen has measured its rows and columns.

    A DataTable re-measures column widths only when its message queue runs dry (`_on_idle`);
    on a loaded machine a screenshot taken right after the rows arrive shows the columns at
    their header widths (seen: `deplo` for `deployed` in CI). Bounded: gives up after
    `attempts` short pauses, and the snapshot then shows what is wrong.
    """
    from textual.widgets import DataTable

    for _ in range(attempts):
        pending = [
            table
            for table in pilot.app.screen.query(DataTable)
            if table._require_update_dimensions or table._updated_cells
        ]
        if not pending:
            return
        await pilot.pause(0.02)
