"""The Monitor screen: a pipeline's queues (with their history), instances and recent tasks,
and a Files view: every input file from the pipeline's ledger, failed first, with a detail pane
holding the file's story and its log lines.

Dolphie's refresh loop: a thread worker polls (`Monitor.poll()`, never touching widgets) and
posts the Snapshot; the handler redraws on the main thread and only then schedules the next poll
with `set_timer`, so polls never overlap. Paused → no polls; a modal on top → polls go on but
the redraw waits until the screen is back. Tables are updated by diff keyed by resource id.
The Files table has its own cadence (every FILES_EVERY polls, and when the view opens) through
`Monitor.recent_files` (the ledger's by-state index); the selected file's log is tailed while it
runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import ContentSwitcher, DataTable, Footer, Header, Label, Sparkline, Static
from textual.worker import Worker

from yunpipe_tui.monitor import (
    History,
    Monitor,
    PipelineTarget,
    Snapshot,
    append_history,
    next_delay,
)
from yunpipe_tui.monitor_render import rich_cell
from yunpipe_tui.monitor_rows import (
    ENVIRONMENT_COLUMNS,
    FILE_COLUMNS,
    INSTANCE_COLUMNS,
    JOB_COLUMNS,
    QUEUE_COLUMNS,
    STYLES,
    TASK_COLUMNS,
    Column,
    Rows,
    batch_notes,
    batch_summary,
    environment_rows,
    error_lines,
    file_rows,
    files_summary,
    instance_rows,
    job_rows,
    queue_rows,
    task_rows,
)
from yunpipe_tui.screens._base import YunpipeScreen
from yunpipe_tui.screens.monitor_widgets import PathModal, ScreenActions, cursor_key, sync_rows

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.file_logs import LogLine, LogTail
    from yunpipe_tui.ledger import FileRecord

INTERVALS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0)
SPARK_WIDTH = 16  # the queue table's history column; the full history is the Sparkline below
FILES_EVERY = 3  # the Files table is read every third poll (and when its view opens)
LOG_LINES = 500  # log lines kept in the detail pane
VIEWS = ("pipeline-view", "files-view")

MonitorFactory = Callable[["AwsContext", PipelineTarget], Monitor]


@dataclass
class TargetResolved(Message):
    target: PipelineTarget


@dataclass
class TargetFailed(Message):
    error: str


@dataclass
class Polled(Message):
    snapshot: Snapshot


@dataclass
class ActionDone(Message):
    text: str


@dataclass
class FilesLoaded(Message):
    files: list[FileRecord]


@dataclass
class FileLogLoaded(Message):
    file_id: str
    tail: LogTail | None
    lines: list[LogLine]


def table_cells(columns: tuple[Column, ...], rows: Rows) -> dict[str, tuple[str | Text, ...]]:
    """monitor_rows' rows as DataTable cells (the queue's error shows in the error line)."""
    return {
        key: tuple(
            rich_cell(column, cell, note=False) for column, cell in zip(columns, cells, strict=True)
        )
        for key, cells in rows.items()
    }


class MonitorScreen(YunpipeScreen):
    """Watch one pipeline. `pipeline=None` watches the most recently deployed one."""

    HELP_TITLE = "Monitor"
    COMMANDS: ClassVar[set[Any]] = {ScreenActions}
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Monitor: refresh now", "Poll the pipeline now", "refresh_now"),
        ("Monitor: pause or resume", "Stop or restart the polling", "toggle_pause"),
        ("Monitor: upload a file", "Upload a local file to the input bucket", "upload"),
        ("Monitor: redrive dead letters", "Move the selected step's DLQ back", "redrive"),
        ("Monitor: terminate instance", "Terminate the selected instance", "terminate"),
        ("Monitor: files", "Show every input file (or the pipeline again)", "toggle_files"),
        ("Monitor: redrive this file", "Queue the selected file again", "redrive_file"),
        ("Monitor: redrive all failed", "Every step's dead letters back", "redrive_failed"),
        ("Monitor: download the result", "Save the file's result here", "download"),
    ]
    HELP = (
        "Per step: the work queue (visible, in flight, delayed, oldest message, dead letters) "
        "with its history, the instances the dispatcher launched (uptime, running tasks, idle "
        "alarm) and recent tasks with their stop reasons. Polls every 5 s by default; the next "
        "poll starts when the last one finished. Select a queue row and press d to move its "
        "dead letters back; select an instance and press t to terminate it; u uploads a file "
        "to the input bucket. The oldest message's age is not available within the call "
        "budget and shows as —. f switches to the Files view: every input file from the "
        "pipeline's ledger, failed first with their reason; the detail pane tells the selected "
        "file's story and shows its log lines (tailing while it runs). There R queues the file "
        "again, A redrives every failed file, g downloads its result into the current folder, "
        "l shows its log. Costs are estimates (on-demand price × instance-seconds). A "
        "pipeline on AWS Batch shows its drain jobs by state per step instead of instances and "
        "tasks, why RUNNABLE jobs wait (environment INVALID, no instance type fits, max_vcpus "
        "reached, or capacity), why jobs failed, and its compute environments' vCPUs."
    )
    BINDINGS: ClassVar[list[Any]] = [
        # 80 columns hold the keys used most; help (F1, ?) lists the others too (polls are
        # automatic, so r and the interval keys are there)
        Binding("r", "refresh_now", "Refresh", id="monitor.refresh", show=False),
        Binding("f", "toggle_files", "Files", id="monitor.files"),
        Binding("R", "redrive_file", "Retry", id="monitor.redrive_file"),
        Binding("A", "redrive_failed", "Retry failed", id="monitor.redrive_failed"),
        Binding("g", "download", "Download", id="monitor.download"),
        Binding("l", "open_log", "Log", id="monitor.log"),
        Binding("space", "toggle_pause", "Pause", id="monitor.pause", key_display="␣"),
        # +/- stay out of the footer (in the help), so each view's own keys fit at 100 columns.
        Binding(
            "plus,equals_sign",
            "slower",
            "+interval",
            id="monitor.slower",
            key_display="+",
            show=False,
        ),
        Binding("minus", "faster", "-interval", id="monitor.faster", key_display="-", show=False),
        Binding("u", "upload", "Upload", id="monitor.upload"),
        Binding("d", "redrive", "Redrive", id="monitor.redrive"),
        Binding("t", "terminate", "Terminate", id="monitor.terminate"),
    ]

    def __init__(
        self,
        pipeline: str | None = None,
        *,
        interval: float | None = None,
        target: PipelineTarget | None = None,
        monitor_factory: MonitorFactory | None = None,
        view: str | None = None,
    ) -> None:
        super().__init__()
        self.view = view  # "files" opens on the Files view (the demo's); default the pipeline
        self.files: list[FileRecord] = []
        self.files_at_poll = -FILES_EVERY  # the poll after which the files were last asked
        self.loading_files = False
        self.detail_file: str | None = None  # file id shown in the detail pane
        self.log_tail: LogTail | None = None
        self.log_lines: list[str] = []
        self.pipeline = pipeline
        self.interval = interval
        self.target = target
        self.monitor_factory: MonitorFactory = monitor_factory or (lambda aws, t: Monitor(aws, t))
        self.monitor: Monitor | None = None
        self.snapshot: Snapshot | None = None  # the last one received
        self.shown: Snapshot | None = None  # the last one drawn
        self.history: History = {}
        self.paused = False
        self.failures = 0  # consecutive polls with errors (backoff)
        self.polls = 0
        self.polling = False
        self.refresh_wanted = False
        self.asked = False  # a refresh the user asked for (drawn even while paused)
        self.error_line = ""
        self._timer: Timer | None = None
        self._closed = False

    # --- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="monitor"):
            yield Static("Finding the pipeline…", id="monitor-status", markup=False)
            yield Static("", id="monitor-errors", markup=False)
            with ContentSwitcher(initial="pipeline-view", id="views"):
                with Vertical(id="pipeline-view"):
                    yield Label("Queues", classes="monitor-heading")
                    yield DataTable(id="queues", cursor_type="row", zebra_stripes=True)
                    with Horizontal(id="history-row"):
                        yield Label("", id="history-label")
                        yield Sparkline([], id="history", summary_function=max)
                    with Vertical(id="ecs-part"):
                        yield Label("Instances", classes="monitor-heading")
                        yield DataTable(id="instances", cursor_type="row", zebra_stripes=True)
                        yield Label("Recent tasks", classes="monitor-heading")
                        yield DataTable(id="tasks", cursor_type="row", zebra_stripes=True)
                    with Vertical(id="batch-part"):  # a pipeline on Batch: no instances of ours
                        yield Label("Batch jobs", id="jobs-heading", classes="monitor-heading")
                        yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
                        yield Static("", id="batch-notes")
                        yield DataTable(id="environments", cursor_type="row", zebra_stripes=True)
                with Vertical(id="files-view"):
                    yield Label("Files", id="files-heading", classes="monitor-heading")
                    yield DataTable(id="files", cursor_type="row", zebra_stripes=True)
                    with VerticalScroll(id="file-detail-box"):
                        yield Static(
                            "Select a file to see its story and its log.",
                            id="file-detail",
                            markup=False,
                        )
        yield Footer(show_command_palette=False)  # ctrl+p still opens it; room for the keys

    def on_mount(self) -> None:
        self.sub_title = "Monitor"
        for table_id, columns in (
            ("#queues", QUEUE_COLUMNS),
            ("#instances", INSTANCE_COLUMNS),
            ("#tasks", TASK_COLUMNS),
            ("#files", FILE_COLUMNS),
            ("#jobs", JOB_COLUMNS),
            ("#environments", ENVIRONMENT_COLUMNS),
        ):
            table = self.query_one(table_id, DataTable)
            for column in columns:
                table.add_column(column.title, key=column.key)
        if self.interval is None:
            self.interval = float(getattr(self.app, "monitor_interval", None) or 5.0)
        if (self.view or getattr(self.app, "monitor_view", None)) == "files":
            self.query_one("#views", ContentSwitcher).current = "files-view"
            self.refresh_bindings()
        self.query_one("#monitor-errors").display = False
        self.query_one("#batch-part").display = False
        if self.target is not None:
            self._start(self.target)
        else:
            self._resolve()

    def on_unmount(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.stop()
        if self.monitor is not None:
            self.monitor.close()

    @property
    def aws(self) -> AwsContext:
        return self.app.aws  # type: ignore[attr-defined,no-any-return]

    # --- which pipeline -------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="monitor-resolve")
    def _resolve(self) -> None:
        from yunpipe_tui.errors import YunpipeError
        from yunpipe_tui.monitor import resolve_target

        try:
            target = resolve_target(self.pipeline, self.aws)
        except YunpipeError as exc:
            self.post_message(TargetFailed(str(exc)))
            return
        self.post_message(TargetResolved(target))

    @on(TargetResolved)
    def _target_resolved(self, message: TargetResolved) -> None:
        self._start(message.target)

    @on(TargetFailed)
    def _target_failed(self, message: TargetFailed) -> None:
        self.error_line = message.error
        self._status(f"✗ {message.error}")

    def _start(self, target: PipelineTarget) -> None:
        self.target = target
        self.pipeline = target.pipeline
        self.monitor = self.monitor_factory(self.aws, target)
        self._poll()

    # --- the loop ---------------------------------------------------------------------------
    def _poll(self) -> None:
        """Start a poll unless one is running (then ask for another right after it)."""
        self._timer = None
        if self.monitor is None or self._closed:
            return
        if self.polling:
            self.refresh_wanted = True
            return
        self.polling = True
        self._status_line()
        self._fetch(self.monitor)

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitor-poll")
    def _fetch(self, monitor: Monitor) -> None:
        snapshot = monitor.poll()  # never raises for AWS failures: they are in snapshot.errors
        self.post_message(Polled(snapshot))

    @on(Polled)
    def _polled(self, message: Polled) -> None:
        self.polling = False
        self.polls += 1
        snap = message.snapshot
        self.snapshot = snap
        self.history = append_history(self.history, snap)
        self.failures = self.failures + 1 if snap.errors else 0
        asked, self.asked = self.asked, False  # `r` while paused: show what was fetched
        if (asked or not self.paused) and self.app.screen is self:
            self.redraw()
        if snap.files is not None and self.polls - self.files_at_poll >= FILES_EVERY:
            self._load_files_now()
        self._schedule()

    def worker_failure(self, worker: Worker[Any], line: str) -> None:
        """A poll that raised (not an AWS answer: e.g. the network stack): show, back off, go on."""
        if worker.group == "monitor-poll":
            self.polling = False
            self.failures += 1
            self.error_line = line
            self._show_errors()
            self._schedule()
        elif worker.group == "monitor-resolve":
            self._status(f"✗ {line}")
        elif worker.group in ("monitor-files", "monitor-file-log"):
            self.loading_files = False
            self.error_line = line
            self._show_errors()

    def _schedule(self) -> None:
        if self._closed or self.paused:
            return
        if self._timer is not None:
            self._timer.stop()
        if self.refresh_wanted:
            self.refresh_wanted = False
            self._timer = self.set_timer(0.01, self._poll)
        else:
            delay = next_delay(self.interval or 5.0, self.failures)
            self._timer = self.set_timer(delay, self._poll)
        self._status_line()

    def on_screen_resume(self) -> None:
        """Back from a modal or another screen: draw what arrived meanwhile."""
        if self.snapshot is not None and self.snapshot is not self.shown and not self.paused:
            self.redraw()

    # --- drawing ----------------------------------------------------------------------------
    def redraw(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        before, self.shown = self.shown, snap
        if not snap.errors:
            self.error_line = ""
        on_batch = snap.batch is not None
        with self.app.batch_update():
            tables: list[tuple[str, tuple[Column, ...], Rows]] = [
                ("#queues", QUEUE_COLUMNS, queue_rows(snap, self.history, spark_width=SPARK_WIDTH))
            ]
            if on_batch:
                tables.append(("#jobs", JOB_COLUMNS, job_rows(snap)))
                tables.append(("#environments", ENVIRONMENT_COLUMNS, environment_rows(snap)))
            else:
                tables.append(("#instances", INSTANCE_COLUMNS, instance_rows(snap)))
                tables.append(("#tasks", TASK_COLUMNS, task_rows(snap, self.files)))
            for table_id, columns, rows in tables:
                sync_rows(self.query_one(table_id, DataTable), table_cells(columns, rows))
            self.query_one("#ecs-part").display = not on_batch
            self.query_one("#batch-part").display = on_batch
            if on_batch:
                self._show_batch_notes(snap)
            if before is None or before.backend != snap.backend:
                self.refresh_bindings()  # no terminate key on Batch
            self._update_history()
            self._show_errors()
            self._status_line()
            self._files_heading()

    def _show_batch_notes(self, snap: Snapshot) -> None:
        """Why RUNNABLE jobs wait and why jobs failed, under the jobs table; vCPUs in the
        heading."""
        assert snap.batch is not None
        self.query_one("#jobs-heading", Label).update(f"Batch jobs · {batch_summary(snap.batch)}")
        notes = Text()
        for i, (line, tone) in enumerate(batch_notes(snap)):
            notes.append(("\n" if i else "") + line, style=STYLES[tone])
        widget = self.query_one("#batch-notes", Static)
        widget.update(notes)
        widget.display = bool(notes)

    def _show_errors(self) -> None:
        lines = []
        if self.snapshot is not None and self.snapshot is self.shown:
            lines = [f"✗ {line}" for line in error_lines(self.snapshot)]
        if self.error_line and self.error_line not in lines:
            lines.append(f"✗ {self.error_line}")
        widget = self.query_one("#monitor-errors", Static)
        widget.update("\n".join(lines))
        widget.display = bool(lines)

    def _update_history(self) -> None:
        table = self.query_one("#queues", DataTable)
        step = cursor_key(table)
        if step is None and self.snapshot is not None and self.snapshot.queues:
            step = self.snapshot.queues[0].step
        values = list(self.history.get(step or "", ()))
        # all zeros: no data, so the graph is a flat line (a single value would fill the bar)
        self.query_one("#history", Sparkline).data = (
            [float(v) for v in values] if any(values) else []
        )
        top = max(values) if values else 0
        self.query_one("#history-label", Label).update(
            f"{step or '—'} visible · last {len(values)} polls · max {top} "
        )

    @on(DataTable.RowHighlighted, "#queues")
    def _queue_highlighted(self) -> None:
        self._update_history()

    def _status(self, text: str) -> None:
        self.query_one("#monitor-status", Static).update(text)

    def _status_line(self) -> None:
        parts = [f"Pipeline {self.pipeline or '?'}"]
        if self.target is not None and self.target.input_bucket:
            parts.append(f"input s3://{self.target.input_bucket}")
        if self.paused:
            parts.append("⏸ paused (space resumes)")
        else:
            delay = next_delay(self.interval or 5.0, self.failures)
            every = f"every {self.interval:g}s"
            if delay != self.interval:
                every += f" (backing off: {delay:g}s)"
            parts.append(every)
        if self.polling:
            parts.append("polling…")
        if self.shown is not None:
            s = self.shown
            parts.append(
                f"polled {s.taken_at:%H:%M:%S} UTC · {s.api_calls} calls · "
                f"{s.elapsed_s * 1000:.0f} ms"
            )
        self._status(" · ".join(parts))

    # --- the Files view ---------------------------------------------------------------------
    PIPELINE_ACTIONS: ClassVar[frozenset[str]] = frozenset({"redrive", "terminate"})
    FILE_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {"redrive_file", "redrive_failed", "download", "open_log"}
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Each view's own keys only (the footer stays short enough to read)."""
        try:
            files = self.files_shown
        except Exception:  # not composed yet
            return True
        if action == "terminate" and self.snapshot is not None and self.snapshot.batch:
            return False  # Batch's instances are Batch's: no terminate key
        if action in self.PIPELINE_ACTIONS:
            return not files
        if action in self.FILE_ACTIONS:
            return files
        return True

    @property
    def files_shown(self) -> bool:
        return self.query_one("#views", ContentSwitcher).current == "files-view"

    def _load_files_now(self) -> None:
        monitor = self.monitor
        if monitor is None or self.loading_files or not hasattr(monitor, "recent_files"):
            return
        self.loading_files = True
        self.files_at_poll = self.polls
        self._fetch_files(monitor)

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitor-files")
    def _fetch_files(self, monitor: Monitor) -> None:
        self.post_message(FilesLoaded(monitor.recent_files()))

    @on(FilesLoaded)
    def _files_loaded(self, message: FilesLoaded) -> None:
        self.loading_files = False
        self.files = message.files
        steps = [s.step for s in self.target.steps] if self.target else []
        with self.app.batch_update():
            rows = file_rows(self.files, steps)
            sync_rows(self.query_one("#files", DataTable), table_cells(FILE_COLUMNS, rows))
            if self.snapshot is not None and self.snapshot is self.shown:
                tasks = task_rows(self.snapshot, self.files)
                sync_rows(self.query_one("#tasks", DataTable), table_cells(TASK_COLUMNS, tasks))
            self._files_heading()
            self._show_detail()
        record = self.selected_file()
        if record is not None and (record.state in ("running", "queued") or not self.log_lines):
            self._tail_log(record)  # tailing while it runs

    def _files_heading(self) -> None:
        text = "Files"
        if self.snapshot is not None:
            text += f" · {files_summary(self.snapshot)}"
        if self.files:
            text += " · failed first · est. costs"
        self.query_one("#files-heading", Label).update(text)

    def selected_file(self) -> FileRecord | None:
        file_id = cursor_key(self.query_one("#files", DataTable))
        return next((r for r in self.files if r.file_id == file_id), None)

    @on(DataTable.RowHighlighted, "#files")
    def _file_highlighted(self) -> None:
        record = self.selected_file()
        if record is None or record.file_id == self.detail_file:
            return
        self.detail_file = record.file_id
        self.log_tail = None
        self.log_lines = []
        self._show_detail()
        self._tail_log(record)

    def _tail_log(self, record: FileRecord) -> None:
        monitor = self.monitor
        if monitor is None or not hasattr(monitor, "file_log"):
            return
        self._fetch_log(monitor, record, self.log_tail)

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitor-file-log")
    def _fetch_log(self, monitor: Monitor, record: FileRecord, tail: LogTail | None) -> None:
        tail, lines = monitor.file_log(record, tail)
        self.post_message(FileLogLoaded(record.file_id, tail, lines))

    @on(FileLogLoaded)
    def _log_loaded(self, message: FileLogLoaded) -> None:
        if message.file_id != self.detail_file:
            return  # the selection moved on
        self.log_tail = message.tail
        self.log_lines = [*self.log_lines, *(line.text() for line in message.lines)][-LOG_LINES:]
        self._show_detail()

    def _show_detail(self) -> None:
        from yunpipe_tui.ledger import story_lines

        record = next((r for r in self.files if r.file_id == self.detail_file), None)
        if record is None:
            record = self.selected_file()
            if record is None:
                return
            self.detail_file = record.file_id
        lines = story_lines(record)
        lines.append("")
        if self.log_lines:
            running = record.state in ("running", "queued")
            lines.append("log" + (" (tailing while it runs)" if running else "") + ":")
            lines.extend(f"  {line}" for line in self.log_lines)
        elif self.log_tail is None and not any(s.log_stream for s in record.steps):
            lines.append("log: none yet (the file has not started)")
        else:
            lines.append("log: no lines yet")
        self.query_one("#file-detail", Static).update("\n".join(lines))

    def action_toggle_files(self) -> None:
        switcher = self.query_one("#views", ContentSwitcher)
        switcher.current = "pipeline-view" if self.files_shown else "files-view"
        self.refresh_bindings()
        if self.files_shown:
            self.query_one("#files", DataTable).focus()
            self._load_files_now()
        else:
            self.query_one("#queues", DataTable).focus()

    def action_open_log(self) -> None:
        if not self.files_shown:
            self.action_toggle_files()
        record = self.selected_file()
        if record is None:
            self.notify("Select a file first.", severity="warning")
            return
        self.query_one("#file-detail-box", VerticalScroll).focus()
        self._tail_log(record)

    def action_redrive_file(self) -> None:
        record = self.selected_file() if self.files_shown else None
        if record is None:
            self.notify("Select a file in the Files view (f) first.", severity="warning")
            return
        if record.state != "failed":
            self.notify(f"{record.key} is {record.state}, not failed.", severity="information")
            return
        from yunpipe_tui.screens.widgets import ConfirmModal

        def decided(ok: bool | None) -> None:
            if ok:
                self._run_action("redrive_file", record.file_id)

        self.app.push_screen(
            ConfirmModal(
                f"Queue {record.key} again?",
                f"Step {record.current.step} runs it again; its failure so far: "
                f"{(record.error or 'failed').splitlines()[0]}",
                confirm="Redrive",
            ),
            decided,
        )

    def action_redrive_failed(self) -> None:
        if self.monitor is None:
            return
        failed = sum(1 for r in self.files if r.state == "failed")
        dead = sum(q.dead_letter or 0 for q in self.snapshot.queues) if self.snapshot else 0
        if not dead:
            self.notify("No dead letters to redrive.", severity="information")
            return
        from yunpipe_tui.screens.widgets import ConfirmModal

        def decided(ok: bool | None) -> None:
            if ok:
                self._run_action("redrive_failed", "")

        self.app.push_screen(
            ConfirmModal(
                "Redrive every failed file?",
                f"Move {dead} dead-letter message(s) of every step back to their queues "
                f"({failed} failed file(s) listed); each step runs them again.",
                confirm="Redrive all",
            ),
            decided,
        )

    def action_download(self) -> None:
        record = self.selected_file() if self.files_shown else None
        if record is None:
            self.notify("Select a file in the Files view (f) first.", severity="warning")
            return
        if not record.result:
            self.notify(f"{record.key} has no result yet ({record.state}).", severity="warning")
            return
        self._run_action("download", record.file_id)

    # --- keys -------------------------------------------------------------------------------
    def action_refresh_now(self) -> None:
        self.asked = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._poll()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            self._status_line()
        else:
            if self.snapshot is not None and self.snapshot is not self.shown:
                self.redraw()
            self._poll()

    def _set_interval(self, step: int) -> None:
        current = self.interval or 5.0
        index = min(range(len(INTERVALS)), key=lambda i: abs(INTERVALS[i] - current))
        self.interval = INTERVALS[max(0, min(len(INTERVALS) - 1, index + step))]
        if not self.paused and not self.polling:
            self._schedule()
        self._status_line()

    def action_slower(self) -> None:
        self._set_interval(+1)

    def action_faster(self) -> None:
        self._set_interval(-1)

    def action_upload(self) -> None:
        if self.monitor is None:
            return
        bucket = self.monitor.target.input_bucket
        if not bucket:
            self.notify("The input bucket is unknown (no deploy journal).", severity="warning")
            return

        def chosen(path: str | None) -> None:
            if path:
                self._run_action("upload", path)

        self.app.push_screen(
            PathModal(
                "Upload a file",
                f"Upload a local file to s3://{bucket}/ (name kept).",
                value=getattr(self.app, "sample_file", ""),
            ),
            chosen,
        )

    def action_redrive(self) -> None:
        if self.monitor is None or self.snapshot is None:
            return
        step = cursor_key(self.query_one("#queues", DataTable))
        queue = self.snapshot.queue(step) if step else None
        if queue is None:
            self.notify("Select a step's queue first.", severity="warning")
            return
        if not queue.dead_letter:
            self.notify(f"{queue.dlq_name} holds no messages.", severity="information")
            return
        from yunpipe_tui.screens.widgets import ConfirmModal

        def decided(ok: bool | None) -> None:
            if ok:
                self._run_action("redrive", queue.step)

        self.app.push_screen(
            ConfirmModal(
                "Redrive dead letters?",
                f"Move {queue.dead_letter} message(s) from {queue.dlq_name} back to "
                f"{queue.name}, where step {queue.step} processes them again.",
                confirm="Redrive",
            ),
            decided,
        )

    def action_terminate(self) -> None:
        if self.monitor is None:
            return
        instance = cursor_key(self.query_one("#instances", DataTable))
        if instance is None:
            self.notify("Select an instance first.", severity="warning")
            return
        from yunpipe_tui.screens.widgets import ConfirmModal

        def decided(ok: bool | None) -> None:
            if ok:
                self._run_action("terminate", instance)

        self.app.push_screen(
            ConfirmModal(
                f"Terminate {instance}?",
                "The instance stops now; tasks on it are stopped and their messages return to "
                "the queue after their visibility timeout. The dispatcher launches a new "
                "instance when work arrives.",
                confirm="Terminate",
                danger=True,
            ),
            decided,
        )

    @work(thread=True, exit_on_error=False, group="monitor-action")
    def _run_action(self, action: str, argument: str) -> None:
        monitor = self.monitor
        assert monitor is not None
        record = next((r for r in self.files if r.file_id == argument), None)
        if action in ("redrive_file", "download") and record is None:
            from yunpipe_tui.errors import YunpipeError

            raise YunpipeError("that file is no longer listed; select it again")
        if action == "upload":
            text = f"Uploaded to {monitor.upload(argument)}"
        elif action == "redrive_file":
            assert record is not None
            text = monitor.redrive_file(record)
        elif action == "redrive_failed":
            text = f"Moved {monitor.redrive_failed()} failed message(s) back to their queues"
        elif action == "download":
            import os

            assert record is not None
            text = f"Saved {record.key}'s result to {monitor.download(record, os.getcwd())}"
        elif action == "redrive":
            moved = monitor.redrive(argument)
            text = f"Moved {moved} message(s) back to step {argument}'s queue"
        elif action == "terminate":
            monitor.terminate(argument)
            text = f"Terminating {argument}"
        else:
            raise ValueError(f"unknown monitor action {action!r}")
        self.post_message(ActionDone(text))

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        self.notify(message.text, title="Monitor")
        self.files_at_poll = -FILES_EVERY  # the files change too: read them after this poll
        self.action_refresh_now()
