"""The Monitor's Files view under Pilot, against a ledger and a log group in moto: failed first
with its reason, the detail pane's story and log lines, redrive, download, and the view switch;
a snapshot at 100×32 on fixed data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from textual.widgets import DataTable, Static

from tests.files.helpers import FAIL_TAIL, demo_ledger, log_stream, step_item
from tests.files.test_cli import _put_logs
from tests.monitor.helpers import INPUT, OUTPUT, PIPELINE, build_pipeline, write_journal
from tests.tui.test_monitor_screen import monitor_of, wait_for
from yunpipe_tui import resource_names as names
from yunpipe_tui.screens.monitor import MonitorScreen


def make(aws: Any) -> Any:
    from yunpipe_tui.app import make_app

    app = make_app(aws, initial="monitor", pipeline=PIPELINE)
    app.monitor_interval = 60.0
    app.monitor_view = "files"  # as the demo opens it
    return app


async def test_files_view_failed_first_story_log_redrive_download(
    aws: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    built = build_pipeline(aws)
    write_journal(built)
    demo_ledger(aws, PIPELINE)
    _put_logs(aws, log_stream("bad.bin#e1", "s1"), ["reading bad.bin", FAIL_TAIL.strip()])
    aws.client("s3").put_object(Bucket=OUTPUT, Key="Result-s2-a.txt", Body=b"1: A\n")
    monkeypatch.chdir(tmp_path)
    app = make(aws)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        await wait_for(pilot, lambda: screen.polls >= 1 and len(screen.files) == 5)
        assert screen.files_shown
        table = screen.query_one("#files", DataTable)
        first = table.coordinate_to_cell_key((0, 0)).row_key.value
        assert first == "bad.bin#e1"
        assert table.get_cell(first, "state").plain == "failed"
        assert str(table.get_cell(first, "outcome")) == "s1: the algorithm exited with code 4"
        assert "files" in str(screen.query_one("#files-heading").render()).lower()
        detail = screen.query_one("#file-detail", Static)
        await wait_for(pilot, lambda: "reading bad.bin" in str(detail.render()))
        text = str(detail.render())
        assert "reason   the algorithm exited with code 4" in text
        assert "not UTF-8 text" in text
        # The tasks table (other view) says what the task did with its files.
        # Redrive this file: a confirmation, then a message for it in step 1's queue.
        await pilot.press("R")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: screen.polls >= 2 and app.screen is screen)
        url = built.urls[names.queue(PIPELINE, "s1")]
        body = aws.client("sqs").receive_message(QueueUrl=url)["Messages"][0]["Body"]
        assert json.loads(body)["Records"][0]["s3"]["bucket"]["name"] == INPUT
        # Download the result of a done file into the current folder.
        done_row = next(
            i
            for i in range(table.row_count)
            if table.coordinate_to_cell_key((i, 0)).row_key.value == "a.txt#e1"
        )
        table.move_cursor(row=done_row)
        await pilot.pause()
        await pilot.press("g")
        await wait_for(pilot, lambda: (tmp_path / "Result-s2-a.txt").exists())
        assert (tmp_path / "Result-s2-a.txt").read_bytes() == b"1: A\n"
        # f goes back to the pipeline view and again to the files.
        await pilot.press("f")
        assert not screen.files_shown
        await pilot.press("f")
        assert screen.files_shown


async def test_a_running_file_is_tailed(aws: Any) -> None:
    built = build_pipeline(aws)
    write_journal(built)
    from tests.files.helpers import create_ledger, put_items

    create_ledger(aws, PIPELINE)
    put_items(aws, PIPELINE, [step_item(PIPELINE, "slow.txt", "s1", "running")])
    stream = log_stream("slow.txt#e1", "s1")
    _put_logs(aws, stream, ["step one"])
    app = make(aws)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        detail = screen.query_one("#file-detail", Static)
        await wait_for(pilot, lambda: "step one" in str(detail.render()))
        assert "tailing while it runs" in str(detail.render())
        from tests.files.test_cli import NOW_MS

        _put_logs(aws, stream, ["step two"], start_ms=NOW_MS + 10)
        screen.files_at_poll = -10  # the next poll reads the files (and the tail) again
        screen.action_refresh_now()
        await wait_for(pilot, lambda: "step two" in str(detail.render()))
        assert str(detail.render()).count("step one") == 1


# --------------------------------------------------------------------------- snapshot


T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def _fixed_files() -> list[Any]:
    from yunpipe_tui.ledger import FileRecord, FileStep

    rows = [
        [
            step_item(
                PIPELINE,
                "bad.bin",
                "s1",
                "failed",
                attempts=3,
                error="the algorithm exited with code 4",
                stderr_tail=FAIL_TAIL,
                exit_code=4,
            )
        ],
        [
            step_item(PIPELINE, "scans/slow.txt", "s1", "done"),
            step_item(PIPELINE, "scans/slow.txt", "s2", "running"),
        ],
        [step_item(PIPELINE, "new.txt", "s1", "queued", attempts=0)],
        [
            step_item(PIPELINE, "hello.txt", "s1", "done"),
            step_item(PIPELINE, "hello.txt", "s2", "done"),
        ],
    ]
    now = datetime(2026, 12, 1, 5, 0, 30, tzinfo=UTC)
    return [
        FileRecord.from_steps([FileStep.from_item(i) for i in group], "s2", now) for group in rows
    ]


def test_files_view_snapshot(snap_compare: Any) -> None:
    from dataclasses import replace

    from tests.tui import test_monitor_snapshots as base
    from yunpipe_tui.file_logs import LogLine

    files = _fixed_files()
    snapshot = replace(
        base.SERIES[-1],
        files={
            "s1": {"queued": 1, "running": 0, "done": 2, "failed": 1},
            "s2": {"queued": 0, "running": 1, "done": 1, "failed": 0},
        },
    )

    class FakeMonitor(base.FakeMonitor):
        def recent_files(self) -> list[Any]:
            return files

        def file_log(self, record: Any, tail: Any = None) -> tuple[Any, list[Any]]:
            return None, [LogLine(0, "s", "reading bad.bin"), LogLine(1, "s", FAIL_TAIL.strip())]

    def factory(aws: Any, target: Any) -> Any:
        return FakeMonitor([snapshot])

    from yunpipe_tui.app import YunpipeApp
    from yunpipe_tui.aws import AwsContext

    class SnapApp(YunpipeApp):
        def make_screen(self, name: str, **kwargs: Any) -> Any:
            return MonitorScreen(
                "demo", interval=3600, target=base.TARGET, monitor_factory=factory, view="files"
            )

    async def run_before(pilot: Any) -> None:
        from tests.pilot import settle_tables, wait_workers

        for _ in range(200):
            await wait_workers(pilot.app)
            await pilot.pause()
            screen = pilot.app.screen
            if screen.files and "reading bad.bin" in str(screen.query_one("#file-detail").render()):
                break
        await settle_tables(pilot)

    assert snap_compare(
        SnapApp(AwsContext(region="us-east-1")), terminal_size=(100, 32), run_before=run_before
    )
