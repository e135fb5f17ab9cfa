"""Who is writing a record, and whether that process still runs.

A journal left `deploying` by a killed process must read as `interrupted`, not as a deploy in
progress. A pid alone is not proof (pids are reused), so the writer is recorded as host, pid and
the process's start time (`/proc/<pid>/stat` field 22, with the boot id): the same pid with
another start time is another process.
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
from pathlib import Path
from typing import Any

_PROC = Path("/proc")


def _boot_id() -> str:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_marker(pid: int) -> str:
    """When `pid` started (clock ticks since boot, prefixed by the boot id); "" if unknown."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = raw[raw.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return ""
    return f"{_boot_id()}:{fields[19]}"


def host() -> str:
    return socket.gethostname()


def user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


_CURRENT: dict[int, dict[str, Any]] = {}


def current_writer() -> dict[str, Any]:
    """This process, as recorded in a journal or lock: host, pid, start marker, user, command."""
    pid = os.getpid()
    if pid in _CURRENT:  # computed once per process (a fork gets its own)
        return dict(_CURRENT[pid])
    argv = list(sys.argv)
    if not argv or argv[0] in ("", "-c", "-m"):  # `python -c ...`: name the interpreter too
        argv = list(getattr(sys, "orig_argv", argv))
    command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))
    _CURRENT[pid] = {
        "host": host(),
        "pid": pid,
        "start": start_marker(pid),
        "user": user(),
        "command": command[:200],
    }
    return dict(_CURRENT[pid])


def is_alive(writer: Any) -> bool | None:
    """True/False when we can tell (same host), None when the writer is elsewhere or unknown."""
    if not isinstance(writer, dict):
        return None
    pid = writer.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    if writer.get("host") != host():
        return None
    recorded = writer.get("start")
    if _PROC.is_dir() and isinstance(recorded, str) and recorded:
        return start_marker(pid) == recorded
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True
