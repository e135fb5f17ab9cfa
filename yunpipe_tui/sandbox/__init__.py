"""The embedded AWS: moto's server in-process plus a local executor for what moto does not run
(Lambda code, ECS tasks, Batch jobs and Batch's scaling: see executor, batch_runner, lambda_bridge).

Needs the optional extra `sandbox` (moto, flask). Importing this package imports neither moto nor
the server module (the demo's transform runs as `python3 -m yunpipe_tui.sandbox.transform` and
stays light); `Sandbox.start()` imports moto.

    from yunpipe_tui.sandbox import Sandbox, Timings

    with Sandbox(timings=Timings.fast()) as sb:
        ctx = sb.aws_context()            # an AwsContext pointed at the sandbox
        ...                                # deploy, upload, watch results arrive
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yunpipe_tui.sandbox.server import (
        DUMMY_CREDENTIALS,
        MOTO_VERSION,
        Sandbox,
        SandboxUnavailable,
        Timings,
        moto_available,
    )

__all__ = [
    "DUMMY_CREDENTIALS",
    "MOTO_VERSION",
    "Sandbox",
    "SandboxUnavailable",
    "Timings",
    "moto_available",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from yunpipe_tui.sandbox import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
