"""Snapshots of the wizard's screens at 100×32 with fixed data (moto's fixed account, a journal
with a fixed time, an in-memory keyring); cursors do not blink. Review the SVGs before
accepting them with `--snapshot-update`."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Select

from tests.pilot import settle_tables, wait_workers
from yunpipe_tui import credentials
from yunpipe_tui.app import make_app
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import journal
from yunpipe_tui.jsonfile import dump_json, write_atomic

SIZE = (100, 32)


@pytest.fixture
def deployed(isolated_home: Path) -> None:
    """One deployed pipeline in the journals, with a fixed time."""
    write_atomic(
        journal.path_for("demo"),
        dump_json(
            {
                "version": journal.VERSION,
                "pipeline": "demo",
                "status": journal.DEPLOYED,
                "region": "us-east-1",
                "account_id": "123456789012",
                "updated_at": "2026-01-02T03:04:05Z",
                "updated_ts": 1767323045,
                "workflow": {"input_s3_name": "demo-in", "output_s3_name": "demo-out"},
                "steps": [{"id": "s1", "algorithm": "change123-s3"}],
                "resources": {},
            }
        ),
    )


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await wait_workers(pilot.app)
    await pilot.pause()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    pilot.app.clear_notifications()
    await pilot.pause()
    await settle_tables(pilot)


def test_home(snap_compare, aws, deployed):
    assert snap_compare(make_app(aws), terminal_size=SIZE, run_before=settle)


def test_home_sandbox(snap_compare, aws):
    assert snap_compare(make_app(aws, sandbox=True), terminal_size=SIZE, run_before=settle)


def test_home_at_80x24(snap_compare, aws, deployed):
    assert snap_compare(make_app(aws), terminal_size=(80, 24), run_before=settle)


def test_doctor(snap_compare, iam_aws):
    assert snap_compare(make_app(iam_aws, initial="doctor"), terminal_size=SIZE, run_before=settle)


def test_doctor_fix_confirmation(snap_compare, iam_aws):
    async def before(pilot) -> None:
        await settle(pilot)
        screen = pilot.app.screen
        row = [c.id for c in screen.checks].index("ecs-instance-role")
        screen.query_one("#checks").move_cursor(row=row)
        await pilot.press("f")
        await pilot.pause()

    assert snap_compare(make_app(iam_aws, initial="doctor"), terminal_size=SIZE, run_before=before)


def test_credentials(snap_compare, aws, memory_keyring):
    credentials.set_profile(
        "default",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        None,
        "us-east-1",
    )
    assert snap_compare(make_app(aws, initial="credentials"), terminal_size=SIZE, run_before=settle)


def test_workflow_filled(snap_compare, aws, catalog: Catalog):
    async def before(pilot) -> None:
        await settle(pilot)
        screen = pilot.app.screen
        screen.query_one("#name", Input).value = "demo"
        screen.query_one("#input-bucket", Input).value = "demo-input"
        screen.query_one("#output-bucket", Input).value = "Demo_Output"  # shows a problem
        screen.query_one("#add-algorithm", Select).value = "change123-s3"
        await pilot.pause()
        screen.add_step("change123-s3")
        await settle(pilot)
        screen.query_one("#name", Input).focus()
        await settle(pilot)

    assert snap_compare(
        make_app(aws, initial="workflow"), terminal_size=(120, 40), run_before=before
    )


def test_help(snap_compare, aws):
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(aws), terminal_size=SIZE, run_before=before)


def test_workflow_at_80x24(snap_compare, aws, catalog: Catalog):
    async def before(pilot) -> None:
        await settle(pilot)
        screen = pilot.app.screen
        screen.query_one("#input-bucket", Input).value = "demo-input"
        screen.add_step("change123-s3")
        await settle(pilot)

    assert snap_compare(
        make_app(aws, initial="workflow"), terminal_size=(80, 24), run_before=before
    )
