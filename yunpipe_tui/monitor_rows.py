"""The monitor's rows: what each face shows of a Snapshot, decided in one place.

The Monitor screen puts `queue_rows`, `instance_rows` and `task_rows` (for a pipeline on Batch:
`job_rows`, `environment_rows` and the `batch_notes` under them) into its DataTables, the Rich
view of `yunpipe monitor --plain` into Rich tables; the plain line prints `summary_line`, and
`--once --json` prints `snapshot_record`. A new column is one `Column` and one cell here.

A cell carries a tone (what its value means: good, warn, bad, alert, dim), not a colour;
`STYLES` turns tones into Rich style strings for the screen and the Rich view alike. Pure: no
Rich, no Textual, no AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from yunpipe_tui.ledger import FileRecord
    from yunpipe_tui.monitor import InstanceInfo, PartError, QueueStats, Snapshot, TaskInfo
    from yunpipe_tui.monitor_batch import BatchInfo, ComputeEnvInfo, StepJobs

Tone = Literal["", "good", "warn", "bad", "alert", "dim"]
STYLES: dict[Tone, str] = {
    "": "",
    "good": "green",
    "warn": "yellow",
    "bad": "red",
    "alert": "bold red",
    "dim": "dim",
}
BLOCKS = "▁▂▃▄▅▆▇█"
NONE = "—"  # a value that is not known or not there


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # the screen's header
    heading: str = ""  # the Rich view's header (default: the title in lower case)
    numeric: bool = False  # right-aligned in the Rich view
    wraps: bool = False  # may wrap in the Rich view
    toned: bool = False  # every cell is styled by its tone, the neutral one included

    @property
    def plain_heading(self) -> str:
        return self.heading or self.title.lower()


@dataclass(frozen=True)
class Cell:
    text: str
    tone: Tone = ""
    note: str = ""  # a second line, shown where there is room (the Rich view): a queue's error


Row = tuple[Cell, ...]
Rows = dict[str, Row]  # row key (step, instance id, task ARN) → cells in column order

QUEUE_COLUMNS = (
    Column("step", "Step"),
    Column("queue", "Queue", wraps=True),
    Column("visible", "Visible", numeric=True),
    Column("in_flight", "In flight", numeric=True),
    Column("delayed", "Delayed", numeric=True),
    Column("oldest", "Oldest", numeric=True),
    Column("dead_letter", "Dead letter", numeric=True, toned=True),
    Column("history", "History"),
)
INSTANCE_COLUMNS = (
    Column("id", "Instance", heading="id"),
    Column("step", "Step"),
    Column("type", "Type"),
    Column("state", "State", toned=True),
    Column("uptime", "Uptime"),
    Column("tasks", "Tasks"),
    Column("alarm", "Idle alarm", toned=True),
)
TASK_COLUMNS = (
    Column("id", "Task"),
    Column("step", "Step"),
    Column("status", "Status", toned=True),
    Column("instance", "Instance"),
    Column("files", "Files", wraps=True),
    Column("reason", "Stop reason", wraps=True),
)
# The Batch backend (instead of instances and tasks): jobs by state per step, and the compute
# environments. Short titles: the nine columns fit 80 terminal columns.
JOB_COLUMNS = (
    Column("step", "Step"),
    Column("SUBMITTED", "Submit", heading="submitted", numeric=True),
    Column("PENDING", "Pend", heading="pending", numeric=True),
    Column("RUNNABLE", "Runnable", numeric=True, toned=True),
    Column("STARTING", "Start", heading="starting", numeric=True),
    Column("RUNNING", "Run", heading="running", numeric=True, toned=True),
    Column("SUCCEEDED", "Done", heading="succeeded", numeric=True),
    Column("FAILED", "Failed", numeric=True, toned=True),
    Column("vcpus", "vCPUs", heading="running vCPUs", numeric=True),
)
ENVIRONMENT_COLUMNS = (
    Column("name", "Compute environment", heading="compute environment"),
    Column("kind", "Type"),
    Column("status", "Status", toned=True),
    Column("desired", "Desired", heading="desired vCPUs", numeric=True),
    Column("max", "Max", heading="max vCPUs", numeric=True),
    Column("types", "Instance types", wraps=True),
)
FILE_COLUMNS = (
    Column("state", "State", toned=True),
    Column("file", "File", wraps=True),
    Column("steps", "Steps"),
    Column("attempts", "Tries", numeric=True),
    Column("duration", "Took", numeric=True),
    Column("cost", "Est. $", heading="est. cost", numeric=True),
    Column("outcome", "Result / reason", wraps=True),
)
FILE_STATE_TONES: dict[str, Tone] = {
    "failed": "alert",
    "running": "good",
    "queued": "warn",
    "done": "dim",
}
FILE_ORDER = {"failed": 0, "running": 1, "queued": 2, "done": 3}
STEP_MARKS = {"done": "✓", "failed": "✗", "running": "…", "queued": "◦"}

STATE_TONES: dict[str, Tone] = {
    "running": "good",
    "pending": "warn",
    "shutting-down": "bad",
    "stopping": "warn",
    "stopped": "dim",
}
ALARM_TONES: dict[str, Tone] = {"ALARM": "alert", "OK": "good"}


# --------------------------------------------------------------------------- values


def count(value: int | None) -> str:
    return "?" if value is None else str(value)


def format_duration(seconds: float | None) -> str:
    """`42s`, `3m05s`, `2h04m`, `3d02h`, or `—`."""
    if seconds is None:
        return NONE
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def sparkline(values: tuple[int, ...] | list[int], width: int = 20) -> str:
    """A one-line unicode sparkline of the last `width` values, scaled to their maximum."""
    points = list(values)[-width:]
    if not points:
        return ""
    top = max(points)
    if top <= 0:
        return BLOCKS[0] * len(points)
    return "".join(BLOCKS[min(len(BLOCKS) - 1, round(v / top * (len(BLOCKS) - 1)))] for v in points)


# --------------------------------------------------------------------------- table rows


def queue_rows(
    snapshot: Snapshot, history: Mapping[str, tuple[int, ...]], *, spark_width: int = 20
) -> Rows:
    """Per step: its work queue's depths, dead letters (alert when any) and depth history."""
    return {
        q.step: (
            Cell(q.step),
            Cell(q.name, "bad", q.error) if q.error else Cell(q.name),
            Cell(count(q.visible)),
            Cell(count(q.in_flight)),
            Cell(count(q.delayed)),
            Cell(format_duration(q.oldest_age_s)),
            Cell(count(q.dead_letter), "alert" if q.dead_letter else ""),
            Cell(sparkline(history.get(q.step, ()), width=spark_width)),
        )
        for q in snapshot.queues
    }


def instance_rows(snapshot: Snapshot) -> Rows:
    """Per instance: where it stands, how long it has run, its tasks and its idle alarm."""
    return {
        i.id: (
            Cell(i.id),
            Cell(i.step),
            Cell(i.type),
            Cell(i.state, STATE_TONES.get(i.state, "")),
            Cell(format_duration(i.uptime_s(snapshot.taken_at))),
            Cell(str(i.running_tasks)),
            _alarm_cell(i.alarm_state),
        )
        for i in snapshot.instances
    }


def _alarm_cell(state: str | None) -> Cell:
    if state is None:
        return Cell(NONE, "dim")
    return Cell(state, ALARM_TONES.get(state, "warn"))


def task_rows(snapshot: Snapshot, files: Sequence[FileRecord] = ()) -> Rows:
    """Per recent task: its status (active ones first, as the poll sorted them), what it did
    with its files (from the ledger items that name it as their runner) and why it stopped."""
    did = task_files(files)
    rows: Rows = {}
    for t in snapshot.tasks:
        text, tone = did.get(t.arn) or did.get(t.id) or (NONE, "dim")
        rows[t.arn] = (
            Cell(t.id[:12]),
            Cell(t.step),
            Cell(t.last_status, "good" if t.active else "dim"),
            Cell(t.instance_id or NONE),
            Cell(text, tone),
            Cell(t.stop_reason or ""),
        )
    return rows


def job_rows(snapshot: Snapshot) -> Rows:
    """Per step (Batch): its drain jobs by state (RUNNABLE warns, FAILED alerts) and the vCPUs
    its RUNNING jobs hold."""
    if snapshot.batch is None:
        return {}
    rows: Rows = {}
    for j in snapshot.batch.steps:
        runnable, running, failed = j.count("RUNNABLE"), j.count("RUNNING"), j.count("FAILED")
        rows[j.step] = (
            Cell(j.step),
            Cell(str(j.count("SUBMITTED"))),
            Cell(str(j.count("PENDING"))),
            Cell(str(runnable), "warn" if runnable else "dim"),
            Cell(str(j.count("STARTING"))),
            Cell(str(running), "good" if running else "dim"),
            Cell(str(j.count("SUCCEEDED"))),
            Cell(str(failed), "alert" if failed else "dim"),
            Cell(f"{j.running_vcpus:g}"),
        )
    return rows


def environment_rows(snapshot: Snapshot) -> Rows:
    """Per compute environment (Batch): Spot or on-demand, whether it takes jobs, its vCPUs."""
    if snapshot.batch is None:
        return {}
    return {e.name: environment_cells(e) for e in snapshot.batch.environments}


def environment_cells(e: ComputeEnvInfo) -> Row:
    status = e.status if e.state == "ENABLED" else f"{e.status} {e.state}"
    tone: Tone = "good" if status == "VALID" else "bad" if e.status == "INVALID" else "warn"
    return (
        Cell(e.name),
        Cell({"EC2": "on-demand", "SPOT": "Spot"}.get(e.kind, e.kind)),
        Cell(status, tone, e.status_reason if e.status == "INVALID" else ""),
        Cell(str(e.desired_vcpus)),
        Cell(str(e.max_vcpus)),
        Cell(" ".join(e.instance_types)),
    )


def batch_notes(snapshot: Snapshot) -> list[tuple[str, Tone]]:
    """Lines under the jobs: why RUNNABLE jobs wait, why jobs failed, the queue's trouble."""
    b = snapshot.batch
    if b is None:
        return []
    notes: list[tuple[str, Tone]] = []
    if b.queue_state and (b.queue_state != "ENABLED" or b.queue_status == "INVALID"):
        why = f": {b.queue_reason}" if b.queue_reason else ""
        notes.append((f"job queue {b.job_queue} is {b.queue_state}/{b.queue_status}{why}", "bad"))
    for j in b.steps:
        if j.waiting_reason:
            notes.append((f"{j.step}: {j.count('RUNNABLE')} RUNNABLE: {j.waiting_reason}", "warn"))
        for reason in j.failures:
            notes.append((f"{j.step}: failed: {reason}", "bad"))
    return notes


def batch_summary(b: BatchInfo) -> str:
    """`vCPUs: 4 running · 8 desired of 16 max`, the Batch line above the jobs."""
    text = f"vCPUs: {b.running_vcpus:g} running · {b.desired_vcpus} desired of {b.max_vcpus} max"
    if not b.complete:
        text += " · finished jobs: the newest 100 only"
    return text


def task_files(files: Sequence[FileRecord]) -> dict[str, tuple[str, Tone]]:
    """Runner (task ARN or id) → what it did: `✓ a.txt`, `✗ bad.bin`, `3 files: 2 ✓ 1 ✗`."""
    ran: dict[str, list[tuple[str, str]]] = {}
    for record in files:
        for step in record.steps:
            if step.runner:
                ran.setdefault(step.runner, []).append((step.state, record.key))
    out: dict[str, tuple[str, Tone]] = {}
    for runner, done in ran.items():
        tone: Tone = "bad" if any(s == "failed" for s, _ in done) else ""
        if len(done) == 1:
            state, key = done[0]
            text = f"{STEP_MARKS.get(state, '?')} {key}"
        else:
            tally: dict[str, int] = {}
            for state, _ in done:
                tally[state] = tally.get(state, 0) + 1
            marks = " ".join(f"{n} {STEP_MARKS.get(s, s)}" for s, n in sorted(tally.items()))
            text = f"{len(done)} files: {marks}"
        out[runner] = (text, tone)
        out.setdefault(runner.rsplit("/", 1)[-1], (text, tone))
    return out


def step_marks(record: FileRecord, steps: Sequence[str]) -> str:
    """`s1 ✓ s2 …`: each step's mark (· for a step the file has not reached)."""
    parts = []
    for step in steps or [s.step for s in record.steps]:
        item = record.step(step)
        parts.append(f"{step} {STEP_MARKS.get(item.state, '?') if item else '·'}")
    return " ".join(parts)


def file_rows(files: Sequence[FileRecord], steps: Sequence[str] = ()) -> Rows:
    """Per input file version: failed first (their reason in red), then running, queued, done."""
    ordered = sorted(files, key=lambda r: FILE_ORDER.get(r.state, 9))
    rows: Rows = {}
    for r in ordered:
        if r.state == "failed":
            reason = (r.error or "failed").splitlines()
            outcome = Cell(reason[0], "bad", "\n".join(reason[1:]))
        elif r.result:
            outcome = Cell(r.result)
        else:
            outcome = Cell(NONE, "dim")
        rows[r.file_id] = (
            Cell(r.state, FILE_STATE_TONES.get(r.state, "")),
            Cell(r.key, "bad" if r.state == "failed" else ""),
            Cell(step_marks(r, steps)),
            Cell(str(r.attempts)),
            Cell(format_duration(r.seconds)),
            Cell(NONE if r.cost_usd is None else f"{r.cost_usd:.6f}", "dim"),
            outcome,
        )
    return rows


def files_summary(snapshot: Snapshot) -> str:
    """`s1: 2 done, 1 failed · s2: 1 running` from the ledger's counters (what the poll read)."""
    if snapshot.files is None:
        return "no file ledger (deployed before yunpipe kept one)"
    parts = []
    for step, per_state in snapshot.files.items():
        shown = [f"{n} {state}" for state, n in per_state.items() if n]
        parts.append(f"{step}: {', '.join(shown) or 'no files'}")
    return " · ".join(parts)


def error_lines(snapshot: Snapshot) -> list[str]:
    """`part: message` for each part of the snapshot that could not be read."""
    return [f"{e.part}: {e.message}" for e in snapshot.errors]


def summary_line(snapshot: Snapshot) -> str:
    """The whole snapshot in one line, for logs and pipes (no colour, no cursor movement)."""
    queues = " ".join(
        f"{q.step}:visible={count(q.visible)},in_flight={count(q.in_flight)},"
        f"delayed={count(q.delayed)},dead_letter={count(q.dead_letter)}"
        for q in snapshot.queues
    )
    line = f"{snapshot.taken_at:%Y-%m-%dT%H:%M:%SZ} {snapshot.pipeline} {queues}"
    if snapshot.batch is not None:
        line += " " + _batch_words(snapshot.batch)
    else:
        running = sum(1 for i in snapshot.instances if i.state == "running")
        active = sum(1 for t in snapshot.tasks if t.active)
        line += f" instances={running} tasks={active}"
    if snapshot.files is not None:
        line += " files=" + " ".join(
            f"{step}:" + ",".join(f"{state}={n}" for state, n in per_state.items())
            for step, per_state in snapshot.files.items()
        )
    if snapshot.errors:
        line += " errors=" + "; ".join(error_lines(snapshot))
    return line


def _batch_words(b: BatchInfo) -> str:
    """`jobs=s1:RUNNABLE=2,RUNNING=1 vcpus=running:1,desired:2,max:16 waiting=s1:"..."`"""
    jobs = " ".join(
        f"{j.step}:" + (",".join(f"{k}={n}" for k, n in j.states.items() if n) or "none")
        for j in b.steps
    )
    line = (
        f"jobs={jobs} vcpus=running:{b.running_vcpus:g},desired:{b.desired_vcpus},max:{b.max_vcpus}"
    )
    waiting = [f'{j.step}:"{j.waiting_reason}"' for j in b.steps if j.waiting_reason]
    if waiting:
        line += " waiting=" + " ".join(waiting)
    return line


# --------------------------------------------------------------------------- JSON records


def queue_record(q: QueueStats) -> dict[str, Any]:
    return {
        "step": q.step,
        "name": q.name,
        "visible": q.visible,
        "in_flight": q.in_flight,
        "delayed": q.delayed,
        "dead_letter": q.dead_letter,
        "dead_letter_queue": q.dlq_name,
        "oldest_age_s": q.oldest_age_s,
        "error": q.error,
    }


def instance_record(i: InstanceInfo, now: datetime) -> dict[str, Any]:
    return {
        "id": i.id,
        "type": i.type,
        "state": i.state,
        "step": i.step,
        "launch_time": _iso(i.launch_time),
        "uptime_s": _round(i.uptime_s(now)),
        "running_tasks": i.running_tasks,
        "alarm_state": i.alarm_state,
        "alarm_name": i.alarm_name,
    }


def task_record(t: TaskInfo) -> dict[str, Any]:
    return {
        "id": t.id,
        "arn": t.arn,
        "step": t.step,
        "last_status": t.last_status,
        "desired_status": t.desired_status,
        "instance_id": t.instance_id,
        "started_at": _iso(t.started_at),
        "stopped_at": _iso(t.stopped_at),
        "stop_reason": t.stop_reason,
        "exit_code": t.exit_code,
    }


def batch_record(b: BatchInfo) -> dict[str, Any]:
    return {
        "job_queue": {
            "name": b.job_queue,
            "state": b.queue_state,
            "status": b.queue_status,
            "status_reason": b.queue_reason,
        },
        "compute_environments": [
            {
                "name": e.name,
                "type": e.kind,
                "state": e.state,
                "status": e.status,
                "status_reason": e.status_reason,
                "desired_vcpus": e.desired_vcpus,
                "min_vcpus": e.min_vcpus,
                "max_vcpus": e.max_vcpus,
                "instance_types": list(e.instance_types),
                "order": e.order,
            }
            for e in b.environments
        ],
        "steps": [step_jobs_record(j) for j in b.steps],
        "desired_vcpus": b.desired_vcpus,
        "max_vcpus": b.max_vcpus,
        "running_vcpus": b.running_vcpus,
        "running_vcpus_source": b.running_vcpus_source,
        "complete": b.complete,
    }


def step_jobs_record(j: StepJobs) -> dict[str, Any]:
    return {
        "step": j.step,
        "job_name": j.job_name,
        "jobs": dict(j.states),
        "running_vcpus": j.running_vcpus,
        "job": (
            None
            if j.needs is None
            else {"vcpus": j.needs.vcpus, "memory_mib": j.needs.memory_mib, "gpus": j.needs.gpus}
        ),
        "waiting_reason": j.waiting_reason,
        "recent_failures": list(j.failures),
    }


def error_record(e: PartError) -> dict[str, str]:
    return {"part": e.part, "message": e.message}


def snapshot_record(s: Snapshot) -> dict[str, Any]:
    """The snapshot for `--once --json`: raw values (numbers, ISO times), the same items in the
    same order as the tables."""
    return {
        "pipeline": s.pipeline,
        "region": s.region,
        "taken_at": _iso(s.taken_at),
        "input_bucket": s.input_bucket,
        "output_bucket": s.output_bucket,
        "backend": s.backend,
        "queues": [queue_record(q) for q in s.queues],
        "instances": [instance_record(i, s.taken_at) for i in s.instances],
        "tasks": [task_record(t) for t in s.tasks],
        "batch": None if s.batch is None else batch_record(s.batch),
        "files": (
            None
            if s.files is None
            else {step: dict(per_state) for step, per_state in s.files.items()}
        ),
        "errors": [error_record(e) for e in s.errors],
        "poll_failed": s.poll_failed,
        "api_calls": s.api_calls,
        "elapsed_s": round(s.elapsed_s, 3),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
