"""The progress interface of the deploy engine and teardown.

The engine never prints. It calls a *sink*: any callable taking one `Event`. Events are frozen
dataclasses, so a sink may hand them to another thread unchanged (the TUI adapts the sink to
`post_message`; the CLI renders them with Rich in `yunpipe_tui.deploy.progress`).

    from yunpipe_tui.deploy.events import Event, EventSink

    def sink(event: Event) -> None:
        print(event.status, event.kind, event.name, event.message)

Statuses, in the order a resource meets them:

- `started`  work on the resource began (its intent is journaled before any create call);
- `done`     it was created (`action="create"`) or changed (`action="update"`) or deleted
             (`action="delete"`);
- `kept`     it already existed as wanted; nothing was changed;
- `failed`   AWS refused; `message` holds AWS's own words (never secrets);
- `skipped`  not attempted because an earlier resource failed, or nothing to do;
- `warning`  something the user should know that is not a failure (e.g. a public bucket);
- `info`     a phase of the run (`kind="phase"`: preflight, plan, deploy, teardown, scan).

`key` identifies the resource in the plan (`"s1/queue"`, `"bucket/input"`); `group` is what a
tree groups it under (`"shared"`, `"buckets"`, `"s1"`, ...). `elapsed` is seconds since started.

Sinks are called from worker threads; a sink must be thread-safe or hand off (both renderers here
are). The engine guarantees every event of one resource comes from one thread, in order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

STARTED = "started"
DONE = "done"
KEPT = "kept"
FAILED = "failed"
SKIPPED = "skipped"
WARNING = "warning"
INFO = "info"
STATUSES = (STARTED, DONE, KEPT, FAILED, SKIPPED, WARNING, INFO)


@dataclass(frozen=True)
class Event:
    """One thing that happened to one resource (or to the run, for `info`/`warning`)."""

    status: str
    key: str = ""
    kind: str = ""
    name: str = ""
    group: str = ""
    action: str = ""  # create | update | delete | keep, when status is done/kept
    message: str = ""
    elapsed: float = 0.0
    at: float = field(default_factory=time.time)

    @property
    def is_terminal(self) -> bool:
        return self.status in (DONE, KEPT, FAILED, SKIPPED)


EventSink = Callable[[Event], None]


def null_sink(event: Event) -> None:
    """Discard events (library use without a renderer)."""


class Recorder:
    """A sink that keeps every event, thread-safe; handy in tests and for summaries."""

    def __init__(self, forward: EventSink | None = None) -> None:
        self._lock = threading.Lock()
        self.events: list[Event] = []
        self._forward = forward

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)
        if self._forward is not None:
            self._forward(event)

    def by_status(self, status: str) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.status == status]

    def final(self) -> dict[str, Event]:
        """The last terminal event of each resource key."""
        out: dict[str, Event] = {}
        with self._lock:
            for e in self.events:
                if e.key and e.is_terminal:
                    out[e.key] = e
        return out
