"""The Monitor screen under Pilot: depth after messages are sent, inline errors with the loop
going on, pause, interval, and the actions behind their modals."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from textual.command import CommandList
from textual.widgets import DataTable, Static

from tests.monitor.helpers import PIPELINE, Built, launch_instance, write_journal
from tests.pilot import wait_workers
from yunpipe_tui import resource_names as names
from yunpipe_tui.screens.monitor import MonitorScreen


async def wait_for(pilot: Any, condition: Any, tries: int = 200) -> None:
    """Let the app run until `condition()` holds (bounded; no fixed sleeps)."""
    for _ in range(tries):
        await wait_workers(pilot.app)
        await pilot.pause()
        if condition():
            return
    raise AssertionError("condition not reached")


def make(aws: Any, **kwargs: Any) -> Any:
    from yunpipe_tui.app import make_app

    app = make_app(aws, initial="monitor", pipeline=kwargs.pop("pipeline", None))
    app.monitor_interval = kwargs.pop("interval", 60.0)
    return app


def monitor_of(app: Any) -> MonitorScreen:
    screen = app.screen
    assert isinstance(screen, MonitorScreen), screen
    return screen


async def test_shows_depth_after_messages_are_sent(aws: Any, pipeline: Built) -> None:
    write_journal(pipeline)
    url = pipeline.urls[names.queue(PIPELINE, "s1")]
    for i in range(3):
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=f"m{i}")
    inst = launch_instance(aws, PIPELINE, "s1")
    app = make(aws)  # no pipeline named: the most recent journal
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        await wait_for(pilot, lambda: screen.polls >= 1)
        queues = screen.query_one("#queues", DataTable)
        assert queues.get_cell("s1", "visible") == "3"
        assert queues.get_cell("s2", "visible") == "0"
        instances = screen.query_one("#instances", DataTable)
        assert instances.get_cell(inst, "type") == "t3.medium"
        assert str(instances.get_cell(inst, "alarm")) in ("OK", "INSUFFICIENT_DATA")
        assert screen.pipeline == PIPELINE
        assert screen._timer is not None  # the next poll is scheduled after this one
        # More messages, refresh now: the same rows are updated in place.
        queues.move_cursor(row=1)
        for i in range(2):
            aws.client("sqs").send_message(QueueUrl=url, MessageBody=f"n{i}")
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.polls >= 2)
        assert queues.get_cell("s1", "visible") == "5"
        assert queues.cursor_row == 1 and queues.row_count == 2  # selection stayed put
        assert screen.history["s1"] == (3, 5)
        assert "s2 visible" in str(screen.query_one("#history-label").render())


async def test_keeps_working_when_a_poll_fails(aws: Any, pipeline: Built) -> None:
    write_journal(pipeline)
    failing = {"on": True}

    def deny(**_: Any) -> None:
        if failing["on"]:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "GetQueueAttributes"
            )

    aws.add_hook("before-call.sqs.GetQueueAttributes", deny)
    aws.client("sqs").send_message(
        QueueUrl=pipeline.urls[names.queue(PIPELINE, "s2")], MessageBody="x"
    )
    app = make(aws, pipeline=PIPELINE, interval=5.0)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        await wait_for(pilot, lambda: screen.polls >= 1)
        errors = screen.query_one("#monitor-errors", Static)
        assert errors.display
        text = str(errors.render())
        assert "queue:s1" in text and "AccessDenied" in text
        assert screen.failures == 1
        assert "backing off: 10s" in str(screen.query_one("#monitor-status").render())
        assert screen._timer is not None  # the loop goes on
        assert screen.query_one("#queues", DataTable).get_cell("s1", "visible") == "?"
        failing["on"] = False
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.polls >= 2)
        assert not errors.display and screen.failures == 0
        assert screen.query_one("#queues", DataTable).get_cell("s2", "visible") == "1"


async def test_pause_interval_and_no_pipeline(aws: Any, pipeline: Built) -> None:
    write_journal(pipeline)
    app = make(aws, interval=5.0)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        await wait_for(pilot, lambda: screen.polls >= 1)
        await pilot.press("space")
        assert screen.paused and screen._timer is None
        aws.client("sqs").send_message(
            QueueUrl=pipeline.urls[names.queue(PIPELINE, "s1")], MessageBody="x"
        )
        await pilot.press("r")  # refresh now still works while paused, without rescheduling
        await wait_for(pilot, lambda: screen.polls >= 2)
        assert screen._timer is None
        assert screen.query_one("#queues", DataTable).get_cell("s1", "visible") == "1"
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.polls >= 3)
        assert not screen.paused and screen._timer is not None
        await pilot.press("plus")
        assert screen.interval == 10.0
        await pilot.press("minus", "minus")
        assert screen.interval == 2.0


async def test_nothing_deployed_says_so(mocked_aws: None, aws: Any) -> None:
    app = make(aws)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        status = screen.query_one("#monitor-status")
        await wait_for(pilot, lambda: "no pipeline deployed" in str(status.render()))
        assert screen.monitor is None


async def test_actions_redrive_terminate_upload(aws: Any, pipeline: Built, tmp_path) -> None:
    write_journal(pipeline)
    sqs = aws.client("sqs")
    for i in range(2):
        sqs.send_message(
            QueueUrl=pipeline.urls[names.dead_letter_queue(PIPELINE, "s1")], MessageBody=f"d{i}"
        )
    inst = launch_instance(aws, PIPELINE, "s2")
    source = tmp_path / "in.txt"
    source.write_text("hello")
    app = make(aws, pipeline=PIPELINE)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        await wait_for(pilot, lambda: screen.polls >= 1)
        assert screen.query_one("#queues", DataTable).get_cell("s1", "dead_letter").plain == "2"
        # Redrive: confirm modal, then the messages are back in the work queue.
        await pilot.press("d")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: screen.polls >= 2 and screen.app.screen is screen)
        queues = screen.query_one("#queues", DataTable)
        assert queues.get_cell("s1", "visible") == "2"
        assert queues.get_cell("s1", "dead_letter").plain == "0"
        # Terminate: cancel first (nothing happens), then confirm.
        screen.query_one("#instances", DataTable).focus()
        await pilot.press("t")
        await pilot.click("#cancel")
        await pilot.pause()
        state = aws.client("ec2").describe_instances(InstanceIds=[inst])
        assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"
        await pilot.press("t")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: screen.polls >= 3 and screen.app.screen is screen)
        state = aws.client("ec2").describe_instances(InstanceIds=[inst])
        assert state["Reservations"][0]["Instances"][0]["State"]["Name"] != "running"
        # Upload through the path modal.
        await pilot.press("u")
        app.screen.query_one("#path").value = str(source)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.polls >= 4 and screen.app.screen is screen)
        body = aws.client("s3").get_object(Bucket=pipeline.target.input_bucket, Key="in.txt")
        assert body["Body"].read() == b"hello"


async def test_no_redraw_under_a_modal_until_back(aws: Any, pipeline: Built) -> None:
    write_journal(pipeline)
    url = pipeline.urls[names.queue(PIPELINE, "s1")]
    app = make(aws, pipeline=PIPELINE)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        await wait_for(pilot, lambda: screen.polls >= 1)
        queues = screen.query_one("#queues", DataTable)
        assert queues.get_cell("s1", "visible") == "0"
        await pilot.press("question_mark")  # the help modal covers the monitor
        await wait_for(pilot, lambda: app.screen is not screen)
        aws.client("sqs").send_message(QueueUrl=url, MessageBody="x")
        screen.action_refresh_now()  # a poll while covered: fetched, not drawn
        await wait_for(pilot, lambda: screen.polls >= 2)
        assert screen.snapshot.queue("s1").visible == 1
        assert screen.shown is not screen.snapshot
        assert queues.get_cell("s1", "visible") == "0"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen and screen.shown is screen.snapshot)
        assert queues.get_cell("s1", "visible") == "1"


async def test_command_palette_offers_the_monitor_actions(aws: Any, pipeline: Built) -> None:
    write_journal(pipeline)
    app = make(aws, pipeline=PIPELINE)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = monitor_of(app)
        await wait_for(pilot, lambda: screen.polls >= 1)
        await pilot.press("ctrl+p")
        await pilot.press(*"pause or resume")
        for _ in range(100):  # the palette gathers hits in a worker
            await pilot.pause()
            hits = app.screen.query(CommandList)
            if hits and hits.first().option_count:
                break
        commands = app.screen.query_one(CommandList)
        titles = [str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)]
        assert any("Monitor: pause or resume" in t for t in titles), titles
        if commands.highlighted is None:
            await pilot.press("down")
        assert "pause or resume" in str(commands.get_option_at_index(commands.highlighted).prompt)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.paused)
