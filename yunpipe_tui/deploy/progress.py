"""CLI renderers for the engine's events (`yunpipe_tui.deploy.events`): a Rich live tree in a
terminal, plain lines otherwise (pipes, CI logs). Both are thread-safe sinks.

    with renderer(console, plan) as sink:
        deploy(plan, ctx, sink)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy.kinds import KIND_LABELS
from yunpipe_tui.deploy.model import Plan

ICONS = {
    ev.STARTED: "[yellow]…[/]",
    ev.DONE: "[green]✓[/]",
    ev.KEPT: "[dim]=[/]",
    ev.FAILED: "[red]✗[/]",
    ev.SKIPPED: "[dim]-[/]",
}
WORDS = {"create": "created", "update": "updated", "delete": "deleted", "keep": "kept"}


def _label(event: ev.Event) -> str:
    return f"{KIND_LABELS.get(event.kind, event.kind)} {event.name}".strip()


def describe(event: ev.Event) -> str | None:
    """One plain line for an event, or None when it is not worth a line."""
    if event.status == ev.WARNING:
        return f"warning: {event.message}"
    if event.status == ev.INFO:
        return f"== {event.name} {event.message}".rstrip()
    if event.status == ev.STARTED:
        return None
    if event.status == ev.FAILED:
        return f"FAILED   {_label(event)}: {event.message}"
    if event.status == ev.SKIPPED:
        return f"skipped  {_label(event)}" + (f" ({event.message})" if event.message else "")
    word = "kept" if event.status == ev.KEPT else WORDS.get(event.action, event.action)
    return f"{word:<8} {_label(event)} ({event.elapsed:.1f}s)"


class PlainLines:
    """A sink printing one line per finished resource, warning and phase."""

    def __init__(self, echo: Callable[[str], Any]) -> None:
        self._echo = echo
        self._lock = threading.Lock()

    def __call__(self, event: ev.Event) -> None:
        line = describe(event)
        if line is not None:
            with self._lock:
                self._echo(line)


class LiveTree:
    """A sink that keeps a Rich Tree of the plan's resources up to date."""

    def __init__(self, title: str, groups: dict[str, list[tuple[str, str]]]) -> None:
        self.title = title
        self.groups = groups  # group -> [(key, label)]
        self.state: dict[str, ev.Event] = {}
        self.notes: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def for_plan(cls, plan: Plan, title: str = "") -> LiveTree:
        groups: dict[str, list[tuple[str, str]]] = {}
        for r in plan.resources:
            groups.setdefault(r.group, []).append((r.key, r.label))
        return cls(title or f"deploying {plan.pipeline}", groups)

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            if event.status in (ev.WARNING,):
                self.notes.append(f"[yellow]warning:[/] {event.message}")
            elif event.key:
                if event.key not in {k for g in self.groups.values() for k, _ in g}:
                    self.groups.setdefault(event.group or "other", []).append(
                        (event.key, _label(event))
                    )
                self.state[event.key] = event

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.markup import escape
        from rich.tree import Tree

        with self._lock:
            tree = Tree(f"[bold]{escape(self.title)}[/]")
            for group, members in self.groups.items():
                branch = tree.add(f"[bold]{escape(group)}[/]")
                for key, label in members:
                    event = self.state.get(key)
                    icon = ICONS.get(event.status, " ") if event else "[dim]·[/]"
                    text = f"{icon} {escape(label)}"
                    if event is not None and event.status == ev.FAILED:
                        text += f" [red]{escape(event.message)}[/]"
                    elif event is not None and event.status in (ev.DONE, ev.KEPT):
                        word = "kept" if event.status == ev.KEPT else WORDS.get(event.action, "")
                        text += f" [dim]{word} {event.elapsed:.1f}s[/]"
                    elif event is not None and event.status == ev.SKIPPED and event.message:
                        text += f" [dim]{escape(event.message)}[/]"
                    branch.add(text)
            return Group(tree, *self.notes)


@contextmanager
def renderer(console: Any, plan: Plan | None = None, title: str = "") -> Iterator[ev.EventSink]:
    """A live tree on a terminal (when a plan gives the shape), plain lines otherwise."""
    if plan is not None and console.is_terminal:
        from rich.live import Live

        tree = LiveTree.for_plan(plan, title)
        with Live(tree, console=console, refresh_per_second=8, transient=False):
            yield tree
        return
    yield PlainLines(
        lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True)
    )
