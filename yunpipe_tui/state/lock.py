"""One writer per pipeline: a deploy or teardown holds its pipeline's lock while it works.

Two layers, taken in this order:

1. On this machine, an exclusive `fcntl.flock` on `<state dir>/locks/<target>-<pipeline>.lock`.
   The kernel releases it when the process dies, however it dies. The holder writes a small
   JSON (user, host, pid, command, operation, start) into the file so a second process can say
   who it is waiting for. The file itself is never deleted (deleting lock files races).
2. Across machines, a marker in the account: the SSM parameter `/yunpipe/locks/<pipeline>`,
   created with `Overwrite=False` (atomic: exactly one creator wins), holding owner, operation,
   start, expiry and a random token, tagged `yunpipe:pipeline`. A marker past its expiry (its
   holder died without releasing) is taken over: re-read, deleted only if it is still the same
   expired marker, created again with `Overwrite=False`, then read back after a short pause to
   confirm that we, not a concurrent taker, hold it. Released (deleted, if still ours) at exit.

    with pipeline_lock(ctx, "demo", operation="deploy", wait=30):
        ...

`LockBusy` names the holder: "pipeline demo is being deployed by ana@host (pid 123) since
12:03; wait or retry later".
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yunpipe_tui import aws, locations
from yunpipe_tui import resource_names as names
from yunpipe_tui.errors import YunpipeError
from yunpipe_tui.state import process
from yunpipe_tui.state._text import cap
from yunpipe_tui.state.target import Target

MARKER_PREFIX = "/yunpipe/locks/"
DEFAULT_TTL = 2 * 3600.0  # longer than any deploy or teardown; `Lock.refresh` extends it
POLL = 0.2  # seconds between local tries
ACCOUNT_POLL = 2.0  # seconds between account tries (one SSM call each)
SETTLE = 0.5  # pause before reading a taken-over marker back

_DOING = {"deploy": "being deployed", "teardown": "being torn down"}
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class LockBusy(YunpipeError):
    """Another process (here or on another machine) is deploying or tearing down the pipeline."""

    def __init__(self, pipeline: str, holder: dict[str, Any] | None, where: str = "") -> None:
        self.pipeline = pipeline
        self.holder = holder or {}
        super().__init__(busy_message(pipeline, self.holder, where))


def busy_message(pipeline: str, holder: dict[str, Any], where: str = "") -> str:
    """One line naming who holds the lock; every value read from the holder is capped."""
    operation = str(holder.get("operation", ""))
    doing = _DOING.get(operation, f"in use ({cap(operation)})" if operation else "in use")
    who = holder.get("owner") or (
        f"{holder.get('user', '?')}@{holder.get('host', '?')}" if holder else "another process"
    )
    text = f"pipeline {cap(pipeline)} is {doing} by {cap(who)}"
    pid = holder.get("pid")
    if isinstance(pid, int) and not isinstance(pid, bool):
        text += f" (pid {pid})"
    command = holder.get("command")
    if command:
        text += f" running `{cap(command)}`"
    started = holder.get("started")
    if isinstance(started, int | float) and not isinstance(started, bool):
        text += f" since {time.strftime('%H:%M', time.localtime(started))}"
    if where:
        text += f" ({where})"
    return text + "; wait or retry later"


def lock_path(target: Target, pipeline: str) -> Path:
    name = pipeline if _SAFE.match(pipeline) else hashlib.sha256(pipeline.encode()).hexdigest()
    return locations.state_dir() / "locks" / f"{target.key()}-{name[:100]}.lock"


def marker_name(pipeline: str) -> str:
    return f"{MARKER_PREFIX}{pipeline}"


def _holder(operation: str, ttl: float) -> dict[str, Any]:
    me = process.current_writer()
    now = time.time()
    return {
        "owner": f"{me['user']}@{me['host']}",
        "user": me["user"],
        "host": me["host"],
        "pid": me["pid"],
        "command": me["command"],
        "operation": operation,
        "started": now,
        "expires": now + ttl,
        "token": uuid.uuid4().hex,
    }


# --------------------------------------------------------------------------- local (flock)


class LocalLock:
    """The flock layer alone (one machine)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise YunpipeError(
                f"cannot open the lock file {self.path} ({exc.strerror or exc}); it must be a "
                "plain file: remove it and retry"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return True

    def write_holder(self, holder: dict[str, Any]) -> None:
        if self.fd is None:
            return
        public = {k: v for k, v in holder.items() if k != "token"}
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps(public).encode(), 0)

    def holder(self) -> dict[str, Any]:
        """Who holds it, as written into the file ({} if unreadable)."""
        from yunpipe_tui.state.files import read_record

        result = read_record(self.path)
        return result.data if result.ok and isinstance(result.data, dict) else {}

    def holder_soon(self, within: float = 1.0) -> dict[str, Any]:
        """The holder, waiting briefly: a process that has just taken the flock writes its
        name a moment later, and "another process" is a poorer answer than its name."""
        deadline = time.monotonic() + within
        while True:
            found = self.holder()
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing the last descriptor releases the flock
            self.fd = None


# --------------------------------------------------------------------------- account (SSM)


def _ours(marker: dict[str, Any]) -> bool:
    """A marker left by this user on this host (a killed process, or a release that failed).

    The account layer is only tried while we hold the local flock, which no live process of
    this user on this host can hold at the same time: such a marker is stale whatever its
    expiry, and waiting two hours for it would keep `deploy` from finishing an interrupted run.
    """
    me = process.current_writer()
    return (
        marker.get("host") == me["host"]
        and marker.get("user") == me["user"]
        and marker.get("owner") == f"{me['user']}@{me['host']}"
    )


class AccountMarker:
    """The SSM marker layer alone (across machines)."""

    def __init__(self, ctx: Any, pipeline: str, settle: float = SETTLE) -> None:
        self.ctx = ctx
        self.pipeline = pipeline
        self.name = marker_name(pipeline)
        self.settle = settle
        self.token = ""

    @property
    def _ssm(self) -> Any:
        return self.ctx.client("ssm")

    def read(self) -> tuple[dict[str, Any] | None, int]:
        """(marker, version); (None, 0) when there is none. An unparsable marker counts as
        expired (its holder is unknown) so it cannot block a pipeline forever."""
        try:
            param = self._ssm.get_parameter(Name=self.name)["Parameter"]
        except Exception as exc:
            if aws.error_code(exc) == "ParameterNotFound" or aws.is_gone(exc):
                return None, 0
            raise
        try:
            data = json.loads(param.get("Value", ""))
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {"expires": 0}
        return data, int(param.get("Version", 0))

    def _create(self, holder: dict[str, Any]) -> bool:
        try:
            self._ssm.put_parameter(
                Name=self.name,
                Value=json.dumps(holder),
                Type="String",
                Overwrite=False,
                Description="yunpipe: a deploy or teardown of this pipeline is running",
                Tags=[{"Key": names.TAG_PIPELINE, "Value": self.pipeline}],
            )
        except Exception as exc:
            if aws.error_code(exc) == "ParameterAlreadyExists":
                return False
            raise
        return True

    def _delete(self) -> None:
        try:
            self._ssm.delete_parameter(Name=self.name)
        except Exception as exc:
            if aws.error_code(exc) != "ParameterNotFound" and not aws.is_gone(exc):
                raise

    def try_acquire(
        self, holder: dict[str, Any], local_held: bool = False
    ) -> dict[str, Any] | None:
        """None when we now hold the marker; else the current holder's marker. `local_held`:
        the caller holds the local flock, so this host's own markers are stale (`_ours`)."""
        if self._create(holder):
            self.token = holder["token"]
            return None
        current, version = self.read()
        if current is None:  # released between our create and read: try once more
            if self._create(holder):
                self.token = holder["token"]
                return None
            current, version = self.read()
            return current or {}
        expires = current.get("expires", 0)
        live = isinstance(expires, int | float) and expires > time.time()
        if live and not (local_held and _ours(current)):
            return current
        # expired (or our own stale one): take it over, deleting only the marker we judged
        again, again_version = self.read()
        if again is not None and (
            again_version != version or again.get("token") != current.get("token")
        ):
            return again
        self._delete()
        if not self._create(holder):
            return self.read()[0] or {}
        if self.settle:
            time.sleep(self.settle)
        mine, _ = self.read()
        if mine is None or mine.get("token") != holder["token"]:
            return mine or {}  # a concurrent taker deleted ours and won
        self.token = holder["token"]
        return None

    def refresh(self, ttl: float) -> None:
        """Push the expiry further out while a long operation runs (only if still ours)."""
        current, _ = self.read()
        if current is None or current.get("token") != self.token:
            return
        current["expires"] = time.time() + ttl
        self._ssm.put_parameter(Name=self.name, Value=json.dumps(current), Overwrite=True)

    def release(self) -> None:
        if not self.token:
            return
        current, _ = self.read()
        if current is not None and current.get("token") == self.token:
            self._delete()
        self.token = ""


# --------------------------------------------------------------------------- both


@dataclass
class Lock:
    """A held pipeline lock (both layers). `refresh()` extends the account marker's expiry."""

    pipeline: str
    operation: str
    local: LocalLock
    marker: AccountMarker | None = None
    ttl: float = DEFAULT_TTL
    holder: dict[str, Any] = field(default_factory=dict)

    def refresh(self) -> None:
        if self.marker is not None:
            self.marker.refresh(self.ttl)

    def release(self) -> None:
        """Best effort for the marker: one left behind expires, and this host takes its own
        stale markers over at once (`_ours`); the flock is always released."""
        try:
            if self.marker is not None:
                with contextlib.suppress(Exception):
                    self.marker.release()
        finally:
            self.local.release()


def acquire(
    ctx: Any | None,
    pipeline: str,
    operation: str = "deploy",
    *,
    wait: float = 0.0,
    target: Target | None = None,
    ttl: float = DEFAULT_TTL,
    settle: float = SETTLE,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Lock:
    """Take the pipeline's lock, waiting up to `wait` seconds; LockBusy when it stays taken.

    `ctx=None` takes the local layer only. `target` defaults to `Target.of(ctx)` (one STS call);
    without a context the local lock file is keyed by an empty target."""
    if target is None:
        target = Target.of(ctx) if ctx is not None else Target("", "", "")
    deadline = clock() + max(wait, 0.0)
    local = LocalLock(lock_path(target, pipeline))
    while not local.try_acquire():
        if clock() >= deadline:
            raise LockBusy(pipeline, local.holder_soon(), "on this machine")
        sleep(POLL)
    holder = _holder(operation, ttl)
    local.write_holder(holder)
    lock = Lock(pipeline, operation, local, ttl=ttl, holder=holder)
    if ctx is None:
        return lock
    marker = AccountMarker(ctx, pipeline, settle=settle)
    try:
        while True:
            try:
                current = marker.try_acquire(holder, local_held=True)
            except Exception as exc:
                if not aws.is_denied(exc):
                    raise
                raise YunpipeError(
                    f"cannot place the lock marker {marker.name} in the account "
                    f"({cap(aws.error_message(exc), 160)}); yunpipe needs ssm:PutParameter, "
                    "ssm:GetParameter, ssm:DeleteParameter and ssm:AddTagsToResource on "
                    "parameter/yunpipe/*"
                ) from None
            if current is None:
                break
            if clock() >= deadline:
                raise LockBusy(pipeline, current, f"marker {marker.name} in the account")
            sleep(ACCOUNT_POLL)
    except BaseException:
        local.release()
        raise
    lock.marker = marker
    return lock


@contextlib.contextmanager
def pipeline_lock(
    ctx: Any | None,
    pipeline: str,
    operation: str = "deploy",
    *,
    wait: float = 0.0,
    target: Target | None = None,
    ttl: float = DEFAULT_TTL,
    settle: float = SETTLE,
) -> Iterator[Lock]:
    """Hold the pipeline's lock for the `with` block; released however the block ends."""
    lock = acquire(ctx, pipeline, operation, wait=wait, target=target, ttl=ttl, settle=settle)
    try:
        yield lock
    finally:
        lock.release()
