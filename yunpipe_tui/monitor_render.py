"""The monitor's faces outside the TUI: a Rich view for `yunpipe monitor --plain` in a terminal,
and one plain line per poll when stdout is not a terminal. Both show monitor_rows' rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yunpipe_tui.monitor_rows import (
    ENVIRONMENT_COLUMNS,
    INSTANCE_COLUMNS,
    JOB_COLUMNS,
    QUEUE_COLUMNS,
    STYLES,
    TASK_COLUMNS,
    Cell,
    Column,
    Rows,
    batch_notes,
    batch_summary,
    environment_rows,
    error_lines,
    files_summary,
    instance_rows,
    job_rows,
    queue_rows,
    sparkline,
    summary_line,
    task_rows,
)

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

    from yunpipe_tui.monitor import History, Snapshot

__all__ = ["plain_line", "render", "rich_cell", "sparkline"]


def render(
    snapshot: Snapshot, history: History | None = None, *, status: str = ""
) -> RenderableType:
    """The Rich view: queues (with sparklines), instances and recent tasks (on Batch: jobs by
    state, why RUNNABLE ones wait, compute environments), errors."""
    from rich.console import Group
    from rich.text import Text

    title = Text.assemble(
        ("yunpipe monitor ", "bold"),
        (snapshot.pipeline, "bold cyan"),
        f"  {snapshot.region or ''}  {snapshot.taken_at:%H:%M:%S} UTC",
        f"  {status}" if status else "",
    )
    parts: list[RenderableType] = [
        title,
        _table("Queues", QUEUE_COLUMNS, queue_rows(snapshot, history or {}), empty=False),
    ]
    if snapshot.batch is not None:  # Batch: jobs and compute environments; no instances of ours
        parts.append(_table("Batch jobs", JOB_COLUMNS, job_rows(snapshot), empty=False))
        parts.extend(Text(line, style=STYLES[tone]) for line, tone in batch_notes(snapshot))
        parts.append(Text(batch_summary(snapshot.batch)))
        parts.append(
            _table("Compute environments", ENVIRONMENT_COLUMNS, environment_rows(snapshot))
        )
    else:
        parts.append(_table("Instances", INSTANCE_COLUMNS, instance_rows(snapshot)))
        parts.append(_table("Recent tasks", TASK_COLUMNS, task_rows(snapshot)))
    parts.append(Text(f"Files: {files_summary(snapshot)}"))
    for line in error_lines(snapshot):
        parts.append(Text(f"✗ {line}", style="red"))
    return Group(*parts)


def _table(title: str, columns: tuple[Column, ...], rows: Rows, *, empty: bool = True) -> Table:
    """A Rich table of rows; `(none)` in an empty one when `empty`."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", expand=True)
    for column in columns:
        table.add_column(
            column.plain_heading,
            justify="right" if column.numeric else "left",
            no_wrap=not column.wraps,
        )
    for cells in rows.values():
        table.add_row(
            *(rich_cell(column, cell) for column, cell in zip(columns, cells, strict=True))
        )
    if empty and not rows:
        table.add_row("(none)", *[""] * (len(columns) - 1))
    return table


def rich_cell(column: Column, cell: Cell, *, note: bool = True) -> str | Text:
    """A cell as Rich content, for the Rich view and the screen's DataTables alike: styled Text
    where the tone matters, else the plain str; the note on a second line when `note`."""
    from rich.text import Text

    text = f"{cell.text}\n{cell.note}" if note and cell.note else cell.text
    if cell.tone or column.toned:
        return Text(text, style=STYLES[cell.tone])
    return text


def plain_line(snapshot: Snapshot) -> str:
    """One line per poll for logs and pipes (no colour, no cursor movement)."""
    return summary_line(snapshot)
