"""A bucket's notification configuration, shared by every pipeline that reads the bucket.

S3 has one configuration per bucket and no conditional write, so two deploys (or a deploy and a
teardown) changing it at the same moment can each read the old configuration and the second
put silently drops the first one's entry: both report success, one pipeline never hears of an
upload. Every change here is therefore:

1. serialised on this machine by an exclusive flock per bucket (threads and processes alike);
2. a read-modify-write that touches only our entry (by its Id);
3. checked after writing: after a short random pause (a concurrent writer's put lands in it),
   the configuration is read back; our entry must be as we wrote it and every other entry we
   saw must still be there. Otherwise the update was lost: wait with jitter and do it again.

    changed = set_entry(ctx, "in-bucket", "yunpipe-p-s1", entry, sleep=time.sleep)   # add/replace
    changed = set_entry(ctx, "in-bucket", "yunpipe-p-s1", None, sleep=time.sleep)    # remove
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from yunpipe_tui import locations
from yunpipe_tui.errors import YunpipeError

SECTIONS = (
    "TopicConfigurations",
    "QueueConfigurations",
    "LambdaFunctionConfigurations",
    "EventBridgeConfiguration",
)
LAMBDA = "LambdaFunctionConfigurations"
ATTEMPTS = 6
SETTLE = (0.3, 0.8)  # seconds before reading back what we wrote
BACKOFF = (0.2, 1.0)  # seconds, times the attempt number, before trying again
LOCAL_WAIT = 120.0  # seconds to wait for another process on this machine to finish its change


class LostUpdate(YunpipeError):
    """The configuration kept changing under us for every attempt."""


def writable(got: Mapping[str, Any]) -> dict[str, Any]:
    """The writable part of a GetBucketNotificationConfiguration answer."""
    return {k: got[k] for k in SECTIONS if k in got}


def _ids(config: Mapping[str, Any]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for section in SECTIONS:
        value = config.get(section)
        if isinstance(value, list):
            out |= {(section, str(e.get("Id", ""))) for e in value if isinstance(e, dict)}
    return out


def _same(entry: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return entry.get("LambdaFunctionArn") == wanted.get("LambdaFunctionArn") and sorted(
        entry.get("Events", [])
    ) == sorted(wanted.get("Events", []))


@contextlib.contextmanager
def local_guard(endpoint: str, bucket: str, wait: float = LOCAL_WAIT) -> Iterator[None]:
    """An exclusive flock for changes to `bucket`'s configuration on this machine."""
    from yunpipe_tui.state.lock import POLL, LocalLock

    digest = hashlib.sha256(f"{endpoint}|{bucket}".encode()).hexdigest()[:24]
    lock = LocalLock(locations.state_dir() / "locks" / f"bucket-notification-{digest}.lock")
    deadline = time.monotonic() + wait
    while not lock.try_acquire():
        if time.monotonic() >= deadline:
            raise YunpipeError(
                f"bucket {bucket}: another yunpipe process on this machine has been changing "
                f"its notifications for {wait:.0f}s; retry when it has finished"
            )
        time.sleep(POLL)
    try:
        yield
    finally:
        lock.release()


def set_entry(
    ctx: Any,
    bucket: str,
    entry_id: str,
    entry: Mapping[str, Any] | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    put: Callable[[dict[str, Any]], None] | None = None,
    uniform: Callable[[float, float], float] = random.uniform,
) -> bool:
    """Make `bucket`'s Lambda entry `entry_id` be `entry` (None: absent), keeping every other
    entry. Returns False when nothing had to change. `put` (the write) can be replaced, e.g.
    by a retrying one; it gets the whole configuration."""
    s3 = ctx.client("s3")

    def read() -> dict[str, Any]:
        return writable(s3.get_bucket_notification_configuration(Bucket=bucket))

    def write(config: dict[str, Any]) -> None:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)

    write_config = put or write
    with local_guard(str(getattr(ctx, "endpoint_url", "") or ""), bucket):
        for attempt in range(1, ATTEMPTS + 1):
            before = read()
            entries = [e for e in before.get(LAMBDA, []) if e.get("Id") != entry_id]
            mine = [e for e in before.get(LAMBDA, []) if e.get("Id") == entry_id]
            if entry is None and not mine:
                return False
            if entry is not None and len(mine) == 1 and _same(mine[0], entry):
                return False
            config = dict(before)
            if entry is not None:
                entries.append({"Id": entry_id, **entry})
            if entries:
                config[LAMBDA] = entries
            else:
                config.pop(LAMBDA, None)
            write_config(config)
            sleep(uniform(*SETTLE))
            after = read()
            others_kept = (_ids(before) - {(LAMBDA, entry_id)}) <= _ids(after)
            found = [e for e in after.get(LAMBDA, []) if e.get("Id") == entry_id]
            ours_right = not found if entry is None else len(found) == 1 and _same(found[0], entry)
            if others_kept and ours_right:
                return True
            if attempt < ATTEMPTS:
                sleep(uniform(*BACKOFF) * attempt)
    raise LostUpdate(
        f"bucket {bucket}: its notification configuration changed under us {ATTEMPTS} times "
        f"while setting entry {entry_id} (another writer keeps changing it); retry"
    )
