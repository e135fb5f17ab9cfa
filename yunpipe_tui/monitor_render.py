"""The monitor's faces outside the TUI: a Rich view for `yunpipe monitor --plain` in a terminal,
and one plain line per poll when stdout is not a terminal. Pure functions of a Snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yunpipe_tui.monitor import History, Snapshot, format_duration

if TYPE_CHECKING:
    from rich.console import RenderableType

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[int, ...] | list[int], width: int = 20) -> str:
    """A one-line unicode sparkline of the last `width` values, scaled to their maximum."""
    points = list(values)[-width:]
    if not points:
        return ""
    top = max(points)
    if top <= 0:
        return BLOCKS[0] * len(points)
    return "".join(BLOCKS[min(len(BLOCKS) - 1, round(v / top * (len(BLOCKS) - 1)))] for v in points)


def count(value: int | None) -> str:
    return "?" if value is None else str(value)


def render(
    snapshot: Snapshot, history: History | None = None, *, status: str = ""
) -> RenderableType:
    """The Rich view: queues (with sparklines), instances, recent tasks, errors."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    history = history or {}
    title = Text.assemble(
        ("yunpipe monitor ", "bold"),
        (snapshot.pipeline, "bold cyan"),
        f"  {snapshot.region or ''}  {snapshot.taken_at:%H:%M:%S} UTC",
        f"  {status}" if status else "",
    )
    queues = Table(title="Queues", title_justify="left", expand=True)
    for col, justify in (
        ("step", "left"),
        ("queue", "left"),
        ("visible", "right"),
        ("in flight", "right"),
        ("delayed", "right"),
        ("oldest", "right"),
        ("dead letter", "right"),
        ("history", "left"),
    ):
        queues.add_column(col, justify=justify, no_wrap=col != "queue")  # type: ignore[arg-type]
    for q in snapshot.queues:
        dlq = Text(count(q.dead_letter), style="bold red" if q.dead_letter else "")
        queues.add_row(
            q.step,
            Text(q.name) if not q.error else Text(f"{q.name}\n{q.error}", style="red"),
            count(q.visible),
            count(q.in_flight),
            count(q.delayed),
            format_duration(q.oldest_age_s),
            dlq,
            sparkline(history.get(q.step, ())),
        )
    instances = Table(title="Instances", title_justify="left", expand=True)
    for col in ("id", "step", "type", "state", "uptime", "tasks", "idle alarm"):
        instances.add_column(col, no_wrap=True)
    for i in snapshot.instances:
        instances.add_row(
            i.id,
            i.step,
            i.type,
            i.state,
            format_duration(i.uptime_s(snapshot.taken_at)),
            str(i.running_tasks),
            i.alarm_state or "—",
        )
    if not snapshot.instances:
        instances.add_row("(none)", "", "", "", "", "", "")
    tasks = Table(title="Recent tasks", title_justify="left", expand=True)
    for col in ("task", "step", "status", "instance", "stop reason"):
        tasks.add_column(col, no_wrap=col != "stop reason")
    for t in snapshot.tasks:
        tasks.add_row(t.id[:12], t.step, t.last_status, t.instance_id or "—", t.stop_reason or "")
    if not snapshot.tasks:
        tasks.add_row("(none)", "", "", "", "")
    parts: list[RenderableType] = [title, queues, instances, tasks]
    for e in snapshot.errors:
        parts.append(Text(f"✗ {e.part}: {e.message}", style="red"))
    return Group(*parts)


def plain_line(snapshot: Snapshot) -> str:
    """One line per poll for logs and pipes (no colour, no cursor movement)."""
    queues = " ".join(
        f"{q.step}:visible={count(q.visible)},in_flight={count(q.in_flight)},"
        f"delayed={count(q.delayed)},dead_letter={count(q.dead_letter)}"
        for q in snapshot.queues
    )
    running = sum(1 for i in snapshot.instances if i.state == "running")
    active = sum(1 for t in snapshot.tasks if t.active)
    line = (
        f"{snapshot.taken_at:%Y-%m-%dT%H:%M:%SZ} {snapshot.pipeline} {queues} "
        f"instances={running} tasks={active}"
    )
    if snapshot.errors:
        line += " errors=" + "; ".join(f"{e.part}: {e.message}" for e in snapshot.errors)
    return line
