"""What the three AWS Batch kinds share: reading one compute environment or job queue by name,
waiting out Batch's asynchronous states, and telling this pipeline's resources from look-alikes.

Batch answers a create, update or delete at once and finishes it later: a compute environment or
job queue is CREATING, UPDATING or DELETING for seconds to minutes (a compute environment being
deleted first terminates its instances), and a job queue cannot take a compute environment that
is not VALID, nor can a compute environment be deleted while a queue still names it. Every wait
here is bounded and sleeps through `pause` (time.sleep; tests replace it) or the engine's
`Ops.sleep`, and ends with a YunpipeError saying what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.deploy.kinds.base import removed
from yunpipe_tui.errors import YunpipeError

ENVIRONMENT, QUEUE = "compute environment", "job queue"
SETTLING = frozenset({"CREATING", "UPDATING", "DELETING"})
SPEC_TAG = "yunpipe:spec"
WAIT_SECONDS = 5.0
WAIT_ATTEMPTS = 120  # 10 minutes: deleting a compute environment waits for its instances

pause: Callable[[float], None] = time.sleep


def describe(batch: Any, what: str, name: str) -> dict[str, Any] | None:
    """The compute environment or job queue called `name`, unless it is gone (DELETED)."""
    if what == ENVIRONMENT:
        found = batch.describe_compute_environments(computeEnvironments=[name])
        items = found.get("computeEnvironments", [])
        key = "computeEnvironmentName"
    else:
        items = batch.describe_job_queues(jobQueues=[name]).get("jobQueues", [])
        key = "jobQueueName"
    for item in items:
        if item.get(key) == name and item.get("status") != "DELETED":
            return dict(item)
    return None


def wait_until(
    batch: Any,
    what: str,
    name: str,
    done: Callable[[dict[str, Any] | None], bool],
    sleep: Callable[[float], None] | None = None,
    goal: str = "settle",
) -> dict[str, Any] | None:
    """Describe until `done` holds (None: the resource is gone); bounded."""
    for _ in range(WAIT_ATTEMPTS):
        item = describe(batch, what, name)
        if done(item):
            return item
        (sleep or pause)(WAIT_SECONDS)
    raise YunpipeError(
        f"{what} {name} did not {goal} within {int(WAIT_SECONDS * WAIT_ATTEMPTS)} s; "
        "run the command again later"
    )


def settled(item: dict[str, Any] | None) -> bool:
    return item is None or item.get("status") not in SETTLING


def gone(item: dict[str, Any] | None) -> bool:
    return item is None


def valid(what: str, name: str) -> Callable[[dict[str, Any] | None], bool]:
    """Done when VALID; an INVALID one or one that vanished is an error worth reading."""

    def check(item: dict[str, Any] | None) -> bool:
        if item is None:
            raise YunpipeError(f"{what} {name} vanished while it was being made; deploy again")
        if item.get("status") == "INVALID":
            reason = item.get("statusReason") or "no reason given"
            raise YunpipeError(f"{what} {name} is INVALID: {reason}")
        return item.get("status") == "VALID"

    return check


def tags_of(item: Mapping[str, Any]) -> dict[str, str]:
    """Batch describes tags as a plain mapping."""
    return {str(k): str(v) for k, v in (item.get("tags") or {}).items()}


def belongs(item: Mapping[str, Any], pipeline: str) -> bool:
    return tags_of(item).get(names.TAG_PIPELINE) == pipeline


def environments(batch: Any) -> Iterator[dict[str, Any]]:
    """Every compute environment of the region (paginated), gone ones left out."""
    for page in batch.get_paginator("describe_compute_environments").paginate():
        for item in page.get("computeEnvironments", []):
            if item.get("status") != "DELETED":
                yield dict(item)


def queues(batch: Any) -> Iterator[dict[str, Any]]:
    """Every job queue of the region (paginated), gone ones left out."""
    for page in batch.get_paginator("describe_job_queues").paginate():
        for item in page.get("jobQueues", []):
            if item.get("status") != "DELETED":
                yield dict(item)


def disable_then_delete(
    batch: Any, what: str, name: str, disable: Callable[[], Any], delete: Callable[[], Any]
) -> bool:
    """How Batch removes a job queue or a compute environment: wait until it settles, disable
    it, wait, delete it, wait until it is gone. False when it was already gone."""
    found = wait_until(batch, what, name, settled)
    if found is None:
        return False
    if found.get("state") != "DISABLED":
        if not removed(disable):
            return False
        wait_until(batch, what, name, settled)
    if not removed(delete):
        return False
    wait_until(batch, what, name, gone, goal="be deleted")
    return True
