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
