"""The algorithm's own output, from CloudWatch Logs: one file's stream(s) or a whole step.

The runner writes each file's stdout and stderr to group `/yunpipe/<pipeline>`, stream
`files/<step>/<sha256(file id)[:32]>`, and the ledger item names that stream; so one file's lines
are read without scanning the group, and a whole step's are the streams under `files/<step>/`.
`LogTail` is what `yunpipe logs [--follow]` and the monitor's Files view share: each `fetch()`
returns only the lines not returned before (FilterLogEvents from the last timestamp seen, paged
with nextToken; events at that same timestamp are told apart by their event id). Pure core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.errors import AwsError

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.ledger import FileRecord

MAX_STREAMS = 100  # FilterLogEvents takes at most 100 stream names


def step_prefix(step: str | None) -> str:
    """The stream-name prefix of a step's files (every step's when None)."""
    return f"files/{step}/" if step else "files/"


@dataclass(frozen=True)
class LogLine:
    timestamp: int  # milliseconds since the epoch
    stream: str
    message: str
    label: str = ""  # the step (one file's streams) or the file's short id (a whole step)
    event_id: str = ""

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, UTC)

    def text(self, with_time: bool = False) -> str:
        head = f"{self.time:%H:%M:%S} " if with_time else ""
        label = f"{self.label}  " if self.label else ""
        return f"{head}{label}{self.message.rstrip()}"


@dataclass
class LogTail:
    """New lines of a log group's chosen streams at each `fetch()`."""

    group: str
    streams: Sequence[str] = ()  # these streams (one file), else every stream under `prefix`
    prefix: str = "files/"
    labels: dict[str, str] = field(default_factory=dict)  # stream → label shown before its lines
    last_ms: int | None = None
    _ids_at_last: set[str] = field(default_factory=set)

    def fetch(self, ctx: AwsContext, limit: int = 10_000) -> list[LogLine]:
        """Every line after the last one returned (at most `limit` per call), oldest first."""
        logs = ctx.client("logs")
        kwargs: dict[str, Any] = {"logGroupName": self.group, "interleaved": True}
        if self.streams:
            kwargs["logStreamNames"] = list(self.streams)[:MAX_STREAMS]
        else:
            kwargs["logStreamNamePrefix"] = self.prefix
        if self.last_ms is not None:
            kwargs["startTime"] = self.last_ms
        out: list[LogLine] = []
        try:
            while len(out) < limit:
                page = logs.filter_log_events(**kwargs)
                for event in page.get("events", []):
                    ts = int(event.get("timestamp", 0))
                    event_id = str(event.get("eventId", ""))
                    if self.last_ms is not None and (
                        ts < self.last_ms or (ts == self.last_ms and event_id in self._ids_at_last)
                    ):
                        continue
                    stream = str(event.get("logStreamName", ""))
                    if not self.streams and not stream.startswith(self.prefix):
                        continue  # moto ignores the prefix; AWS honours it
                    message = str(event.get("message", ""))
                    out.append(LogLine(ts, stream, message, self._label(stream), event_id))
                token = page.get("nextToken")
                if not token or token == kwargs.get("nextToken"):
                    break
                kwargs["nextToken"] = token
        except Exception as exc:
            from yunpipe_tui.aws import error_code, error_message

            if error_code(exc) == "ResourceNotFoundException":
                return []  # no group or stream yet: nothing written so far
            raise AwsError(f"reading log group {self.group}: {error_message(exc)}") from None
        out.sort(key=lambda line: line.timestamp)
        out = out[:limit]
        if out:
            newest = out[-1].timestamp
            if newest != self.last_ms:
                self._ids_at_last = set()
            self.last_ms = newest
            self._ids_at_last |= {line.event_id for line in out if line.timestamp == newest}
        return out

    def _label(self, stream: str) -> str:
        if stream in self.labels:
            return self.labels[stream]
        return stream.rsplit("/", 1)[-1][:8] if not self.streams else ""


def for_file(record: FileRecord, step: str | None = None) -> LogTail:
    """The tail of one file's streams (each step's, or only `step`'s), labelled by step."""
    chosen = [s for s in record.steps if s.log_stream and (step is None or s.step == step)]
    group = next((s.log_group for s in chosen if s.log_group), None)
    if group is None:
        from yunpipe_tui.errors import YunpipeError

        where = f" in step {step}" if step else ""
        raise YunpipeError(
            f"{record.key}: the ledger names no log stream{where} yet (not started?); "
            "see its state with `yunpipe files show KEY`"
        )
    streams = [s.log_stream for s in chosen if s.log_stream]
    many = len(streams) > 1
    return LogTail(
        group,
        streams,
        labels={s.log_stream: s.step if many else "" for s in chosen if s.log_stream},
    )


def for_step(pipeline: str, step: str | None) -> LogTail:
    """The tail of a whole step's files (every step's when None), labelled by file short id."""
    return LogTail(names.log_group(pipeline), (), step_prefix(step))
