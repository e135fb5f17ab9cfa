"""Quitting gives the terminal back at once, whatever AWS call is in flight (issue 14, point 1)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

# The identity and doctor workers of Home block for 30 s; ctrl+q comes half a second in.
SCRIPT = textwrap.dedent(
    """
    import sys, time
    from yunpipe_tui import doctor, lookups
    from yunpipe_tui.app import make_app
    from yunpipe_tui.aws import AwsContext

    def slow(*args, **kwargs):
        time.sleep(30)
        raise RuntimeError("too late")

    lookups.caller_identity = slow
    doctor.run_checks = slow

    async def quit_soon(pilot):
        await pilot.pause(0.5)
        await pilot.press("ctrl+q")

    app = make_app(AwsContext(region="us-east-1"))
    app.run(headless=True, size=(100, 30), auto_pilot=quit_soon)
    print("app returned", flush=True)
    """
)


def test_ctrl_q_on_home_returns_within_seconds_while_workers_block(isolated_home):
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "app returned" in done.stdout
    # Start-up (imports, the app) takes a few seconds on a busy machine; the workers' 30 s
    # must not be waited for.
    assert elapsed < 15, f"quitting waited {elapsed:.1f}s for the blocked workers"


def test_abandoning_executor_runs_calls_and_never_waits_on_shutdown():
    from yunpipe_tui.quick_exit import AbandoningExecutor

    executor = AbandoningExecutor()
    assert executor.submit(lambda x: x * 2, 21).result(timeout=5) == 42
    failing = executor.submit(lambda: 1 / 0)
    assert isinstance(failing.exception(timeout=5), ZeroDivisionError)
    executor.submit(time.sleep, 30)
    started = time.monotonic()
    executor.shutdown(wait=True)
    assert time.monotonic() - started < 1


EXIT_SCRIPT = textwrap.dedent(
    """
    import atexit, sys
    from yunpipe_tui import quick_exit
    atexit.register(lambda: print("atexit ran", flush=True))
    if sys.argv[1] == "app":
        quick_exit.note_full_screen_app()
    print("leaving", flush=True)
    quick_exit.exit_process(3)
    """
)


def test_exit_process_after_a_full_screen_app_runs_atexit_and_keeps_the_code():
    for mode in ("app", "plain"):
        done = subprocess.run(
            [sys.executable, "-c", EXIT_SCRIPT, mode], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 3, (mode, done.stderr)
        assert done.stdout.splitlines() == ["leaving", "atexit ran"], mode
