"""Quitting the demo wizard does not wait for the sandbox's threads (issue 14, point 1)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

from yunpipe_tui.sandbox import Timings
from yunpipe_tui.sandbox.executor import LocalLoop


def _loop_with_a_slow_tick(tmp_path: Path) -> tuple[LocalLoop, threading.Event]:
    fake = SimpleNamespace(
        endpoint="http://127.0.0.1:5999",
        region="us-east-1",
        timings=Timings.fast(),
        workdir=tmp_path,
    )
    loop = LocalLoop(fake)  # type: ignore[arg-type]
    in_tick = threading.Event()

    def slow_tick() -> None:
        in_tick.set()
        time.sleep(5)

    loop.tick = slow_tick  # type: ignore[method-assign]
    loop.start()
    assert in_tick.wait(5)
    return loop, in_tick


def test_stop_without_waiting_leaves_a_tick_in_flight_and_starts_no_process(tmp_path: Path):
    loop, _ = _loop_with_a_slow_tick(tmp_path)
    started = time.monotonic()
    loop.stop(wait=False)
    assert time.monotonic() - started < 1
    assert loop.executor.closed


def test_stop_waits_for_the_tick_by_default(tmp_path: Path):
    loop, _ = _loop_with_a_slow_tick(tmp_path)
    started = time.monotonic()
    loop.stop()
    assert time.monotonic() - started > 2
