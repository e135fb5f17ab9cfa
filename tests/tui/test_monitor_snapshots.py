"""Snapshot of the Monitor screen at 100×32 with fixed data (no AWS: a fake monitor returns
hand-built Snapshots; times are fixed, so uptimes and the status line are stable)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.pilot import settle_tables, wait_workers
from yunpipe_tui.monitor import (
    InstanceInfo,
    PartError,
    PipelineTarget,
    QueueStats,
    Snapshot,
    TaskInfo,
)

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
TARGET = PipelineTarget.from_names(
    "demo", 2, region="us-east-1", input_bucket="demo-input", output_bucket="demo-output"
)


def snapshot_at(minute: int, s1: int, s2: int, *, errors: bool = False) -> Snapshot:
    q = [
        QueueStats("s1", "yunpipe-demo-s1-queue", "yunpipe-demo-s1-dlq", s1, 2, 0, 0),
        QueueStats("s2", "yunpipe-demo-s2-queue", "yunpipe-demo-s2-dlq", s2, 0, 1, 3),
    ]
    errs: tuple[PartError, ...] = ()
    if errors:
        q[1] = QueueStats(
            "s2",
            "yunpipe-demo-s2-queue",
            "yunpipe-demo-s2-dlq",
            None,
            None,
            None,
            3,
            error="GetQueueAttributes failed: AccessDenied: not allowed",
        )
        errs = (PartError("queue:s2", "GetQueueAttributes failed: AccessDenied: not allowed"),)
    taken = T0 + timedelta(minutes=minute)
    return Snapshot(
        pipeline="demo",
        taken_at=taken,
        queues=tuple(q),
        instances=(
            InstanceInfo(
                "i-0abc1234def567890",
                "t3.medium",
                "running",
                "s1",
                T0 - timedelta(minutes=42),
                2,
                "OK",
                "yunpipe-demo-s1-idle-i-0abc1234def567890",
            ),
            InstanceInfo(
                "i-0fff0000aaaa11112",
                "c5.xlarge",
                "shutting-down",
                "s2",
                T0 - timedelta(hours=3),
                0,
                "ALARM",
                "yunpipe-demo-s2-idle-i-0fff0000aaaa11112",
            ),
        ),
        tasks=(
            TaskInfo(
                "arn:aws:ecs:us-east-1:123456789012:task/yunpipe-demo/5f1e2d3c4b5a69788796",
                "s1",
                "RUNNING",
                "RUNNING",
                "i-0abc1234def567890",
                T0,
            ),
            TaskInfo(
                "arn:aws:ecs:us-east-1:123456789012:task/yunpipe-demo/0a1b2c3d4e5f60718293",
                "s2",
                "STOPPED",
                "STOPPED",
                "i-0fff0000aaaa11112",
                T0,
                T0,
                "Essential container in task exited",
                1,
            ),
        ),
        errors=errs,
        api_calls=8,
        elapsed_s=0.123,
        region="us-east-1",
        input_bucket="demo-input",
        output_bucket="demo-output",
    )


SERIES = [snapshot_at(i, s1, s2) for i, (s1, s2) in enumerate([(0, 1), (4, 2), (9, 3), (6, 1)])]


class FakeMonitor:
    def __init__(self, snapshots: list[Snapshot]) -> None:
        self.target = TARGET
        self.snapshots = list(snapshots)

    def poll(self) -> Snapshot:
        return self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]

    def close(self) -> None:
        pass


def make_app(snapshots: list[Snapshot]) -> Any:
    from yunpipe_tui.app import YunpipeApp
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.screens.monitor import MonitorScreen

    class SnapApp(YunpipeApp):
        """The wizard whose first screen is the monitor on fixed data."""

        def make_screen(self, name: str, **kwargs: Any) -> Any:
            return MonitorScreen(
                "demo",
                interval=3600,
                target=TARGET,
                monitor_factory=lambda aws, target: FakeMonitor(snapshots),  # type: ignore
            )

    return SnapApp(AwsContext(region="us-east-1"))


async def _polls(pilot: Any, n: int) -> None:
    screen = pilot.app.screen
    for _ in range(n - 1):
        for _ in range(100):
            await wait_workers(pilot.app)
            await pilot.pause()
            if not screen.polling:
                break
        await pilot.press("r")
    for _ in range(100):
        await wait_workers(pilot.app)
        await pilot.pause()
        if screen.polls >= n and not screen.polling:
            break
    assert screen.polls >= n
    await settle_tables(pilot)


def test_monitor_snapshot(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _polls(pilot, len(SERIES))

    assert snap_compare(make_app(SERIES), terminal_size=(100, 32), run_before=run_before)


def test_monitor_snapshot_with_an_error(snap_compare: Any) -> None:
    snaps = [*SERIES[:3], snapshot_at(3, 6, 0, errors=True)]

    async def run_before(pilot: Any) -> None:
        await _polls(pilot, len(snaps))

    assert snap_compare(make_app(snaps), terminal_size=(100, 32), run_before=run_before)
