"""What every part of the sandbox shares: its fixed identity, its dummy keys and its pace.

The server starts the executor, the agent and the Lambda bridge, and they read these; keeping them
here lets the dependency point one way (server -> parts -> constants).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "pip install 'yunpipe-tui[sandbox]'"
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# Credentials moto accepts; never real ones. The sandbox gives these to everything it starts.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class Timings:
    """How fast the sandbox's stand-ins for AWS move, in seconds.

    AWS's own figures (a one-minute reconcile schedule, a runner idling 60 s, alarms after ten
    minutes) would make a demo or a test crawl; the sandbox scales them down.
    """

    poll: float = 0.2  # the local ECS agent / executor loop
    reconcile: float = 5.0  # EventBridge schedules (AWS: the rule's rate, one minute)
    instance_idle: float = 10.0  # an instance with no task (Batch: idle vCPUs) goes after this
    batch_boot: float = 3.0  # Batch capacity launched becomes usable after this (AWS: ~90 s)
    # RunInstances until the instance joins its cluster (AWS: about 90 s); 0: at the agent's next
    # poll. Only benchmarks/scaling.py sets it, to compare the launch rules at AWS's proportions.
    instance_boot: float = 0.0
    runner_idle: float = 3.0  # YUNPIPE_IDLE_SECONDS given to runners
    runner_wait: float = 1.0  # YUNPIPE_WAIT_SECONDS (the runner's long poll)
    runner_retry_delay: float = 2.0  # YUNPIPE_RETRY_DELAY_SECONDS (a failed file comes back)
    stop_grace: float = 5.0  # YUNPIPE_STOP_GRACE_SECONDS; the runner is killed 2 s after it
    lambda_workers: int = 4  # concurrent asynchronous Lambda invocations
    lambda_timeout: float | None = None  # cap on a dispatcher's remaining time (None: its own)
    dispatcher_backoff: float | None = None  # scales the dispatcher's waits for a new instance

    @classmethod
    def fast(cls) -> Timings:
        """For tests and benchmarks: everything within a second or two."""
        return cls(
            poll=0.1,
            reconcile=1.0,
            instance_idle=1.5,
            batch_boot=0.3,
            runner_idle=1.0,
            runner_wait=1.0,
            runner_retry_delay=0.0,
            stop_grace=2.0,
            lambda_timeout=15.0,
            dispatcher_backoff=0.1,
        )

    @classmethod
    def demo(cls) -> Timings:
        """For `yunpipe demo`: quick, yet slow enough to watch instances come and go."""
        return cls(
            poll=0.2,
            reconcile=2.0,
            instance_idle=4.0,
            batch_boot=2.0,
            runner_idle=2.0,
            runner_wait=1.0,
            runner_retry_delay=1.0,
            dispatcher_backoff=0.25,
        )


def python_bin_dir() -> str:
    """The folder of this interpreter, put first on PATH so `python3` in commands is this one."""
    return str(Path(sys.executable).parent)
