"""Read a local JSON record without ever hanging or crashing.

A journal folder can hold anything a user, a crash or an adversary left: a truncated file,
garbage, a FIFO or socket named `x.json` (opening a FIFO for reading blocks until a writer
comes), a folder, a file we may not read, a huge file. `read_record` answers either the parsed
data or one short reason, never an exception.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_BYTES = 16 * 1024 * 1024  # a journal of a hundred steps is well under 1 MiB

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


@dataclass(frozen=True)
class ReadResult:
    """`data` when the file held a JSON value, else `reason` (why it could not be used)."""

    data: Any = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path: Path, limit: int = MAX_BYTES) -> tuple[bytes | None, str]:
    """The content of a regular file, or (None, reason). Never opens anything else."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        return None, f"{_kind(info.st_mode)}, not a file"
    if info.st_size > limit:
        return None, f"too large ({info.st_size} bytes)"
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "a symbolic link, not a file"
        return None, f"unreadable ({exc.strerror or exc})"
    try:
        again = os.fstat(fd)
        if not stat.S_ISREG(again.st_mode):  # swapped between lstat and open
            return None, f"{_kind(again.st_mode)}, not a file"
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                return None, f"too large (over {limit} bytes)"
            chunks.append(chunk)
        return b"".join(chunks), ""
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    finally:
        os.close(fd)


def read_record(path: Path) -> ReadResult:
    """Parse a JSON file; any failure becomes a short reason ("not JSON", "a FIFO, not a file")."""
    raw, reason = read_bytes(path)
    if raw is None:
        return ReadResult(reason=reason)
    if not raw.strip():
        return ReadResult(reason="empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ReadResult(reason="not UTF-8 text")
    try:
        return ReadResult(data=json.loads(text))
    except RecursionError:
        return ReadResult(reason="JSON nested too deeply")
    except ValueError:
        return ReadResult(reason="not JSON, or cut short")
