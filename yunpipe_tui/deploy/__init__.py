"""Deploying a pipeline: plan it, apply it, journal it, tear it down.

    from yunpipe_tui import deploy
    result = deploy.deploy(plan, ctx, sink)        # -> DeployResult; raises DeployError
    actions = deploy.diff(plan, ctx)               # {key: "create" | "update" | "keep"}, read-only

The package reads top to bottom as the pipeline it runs:

- `prepare`    workflow file → region context → account facts → plan → problems → actions;
- `preflight`  what the account must have before anything is created (read-only);
- `model`, `layout`, `plan`   the pure plan: resources, names, dependencies;
- `kinds/`     one module per resource kind (plan fragment, inspect/create/update, delete, how
               the scans find it) behind a registry: a new kind is one module and one line;
- `engine`     applies a plan through the kinds, in parallel where dependencies allow;
- `guarded`    what runs around the engine and teardown: the pipeline's lock, its ownership
               and loop checks, its account record, Ctrl-C/SIGTERM as `interrupted`;
- `journal`    what was created, written atomically before and after every create;
- `teardown`   removes a pipeline in reverse order, then scans for leftovers;
- `events`, `progress`   the engine's event interface and its CLI renderers.

Nothing here imports Textual: the CLI, the wizard and the sandbox all drive the same code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from yunpipe_tui.aws import AwsContext
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy import journal as jr
from yunpipe_tui.deploy.engine import (
    ACTION,
    MAX_WORKERS,
    DeployCancelled,
    DeployError,
    DeployResult,
    Engine,
    pipeline_names,
)
from yunpipe_tui.deploy.guarded import (
    LOCK_WAIT,
    DeployInterrupted,
    OwnershipRefused,
    deploy_plan,
)
from yunpipe_tui.deploy.kinds.base import CURRENT, MISSING, STALE
from yunpipe_tui.deploy.kinds.dispatcher import code_sha256, dispatcher_zip, zip_source
from yunpipe_tui.deploy.model import Plan

__all__ = [
    "ACTION",
    "CURRENT",
    "LOCK_WAIT",
    "MAX_WORKERS",
    "MISSING",
    "STALE",
    "DeployCancelled",
    "DeployError",
    "DeployInterrupted",
    "DeployResult",
    "Engine",
    "OwnershipRefused",
    "code_sha256",
    "deploy",
    "diff",
    "dispatcher_zip",
    "pipeline_names",
    "zip_source",
]


def deploy(
    plan: Plan,
    ctx: AwsContext,
    sink: ev.EventSink | None = None,
    *,
    journal: jr.Journal | None = None,
    code: Callable[[], bytes] | None = None,
    max_workers: int = MAX_WORKERS,
    sleep: Callable[[float], None] = time.sleep,
    cancel: threading.Event | None = None,
    replace: bool = False,
    wait: float = LOCK_WAIT,
) -> DeployResult:
    """Create or update every resource of `plan` as the pipeline's one writer: its lock held,
    its ownership and bucket loops checked, its account record written; see
    `yunpipe_tui.deploy.guarded` and `yunpipe_tui.deploy.engine`.

    `cancel`: when set (from any thread), resources in flight finish and nothing new starts;
    raises DeployCancelled. `replace`: take over a name another workflow deployed. `wait`:
    seconds to wait for another deploy or teardown of the pipeline (then LockBusy)."""
    return deploy_plan(
        plan,
        ctx,
        sink,
        replace=replace,
        wait=wait,
        journal=journal,
        code=code,
        max_workers=max_workers,
        sleep=sleep,
        cancel=cancel,
    )


def diff(plan: Plan, ctx: AwsContext, *, code: Callable[[], bytes] | None = None) -> dict[str, str]:
    """What `deploy` would do to each resource: create / update / keep. Read-only."""
    return Engine(ctx, code=code).diff(plan)
