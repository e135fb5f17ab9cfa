"""Thread workers that never hold up quitting.

asyncio runs blocking calls on its default executor, whose threads the interpreter joins at
exit: a `ctrl+q` while a slow AWS call is in flight (the identity or doctor on Home) waited
until that call returned, seconds after the screen was restored. `AbandoningExecutor` runs each
call on its own daemon thread and `shutdown()` returns at once, so the process exits as soon as
the app is done; an abandoned call's result is simply never read.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class AbandoningExecutor(ThreadPoolExecutor):
    """One daemon thread per call; nothing waits for the threads when shutting down.

    A ThreadPoolExecutor only because asyncio accepts nothing else as its default executor;
    its pool is never used."""

    def __init__(self, name: str = "yunpipe-worker") -> None:
        super().__init__(max_workers=1, thread_name_prefix=name)
        self._name = name
        self._count = 0
        self._submit_lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._submit_lock:
            if self._closed:
                raise RuntimeError("cannot schedule new calls after shutdown")
            self._count += 1
            name = f"{self._name}-{self._count}"

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=run, name=name, daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._submit_lock:
            self._closed = True


_app_ran = False


def note_full_screen_app() -> None:
    """Called when a full-screen app took the terminal: `exit_process` then exits quickly."""
    global _app_ran
    _app_ran = True


def exit_process(code: int) -> None:
    """Leave the process with `code`. After a full-screen app ran, skip the interpreter's
    teardown (freeing the sandbox's and boto's objects took seconds after the screen was
    back): run the atexit handlers, flush, and `os._exit`. Otherwise an ordinary `sys.exit`."""
    if not _app_ran:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def run_without_waiting(main: Callable[[asyncio.AbstractEventLoop], T]) -> T:
    """Run `main(loop)` on a fresh event loop whose blocking calls run on abandoned threads;
    close the loop without waiting for them."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(AbandoningExecutor())
    try:
        return main(loop)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
