"""The embedded AWS: moto's server in-process plus a local executor for what moto does not run.

Needs the optional extra `sandbox` (moto, flask). Importing this package does not import moto;
`Sandbox.start()` does. Core modules never import this package.

    from yunpipe_tui.sandbox import Sandbox, Timings

    with Sandbox(timings=Timings.fast()) as sb:
        ctx = sb.aws_context()            # an AwsContext pointed at the sandbox
        ...                                # deploy, upload, watch results arrive
"""

from __future__ import annotations

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
