"""The wizard at 80×24 (issue 14, point 7): the doctor's fix-all confirmation reaches every fix
and every line of the policy being approved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Static

from tests.pilot import wait_workers
from yunpipe_tui.app import make_app
from yunpipe_tui.aws import AwsContext, CallCounter
from yunpipe_tui.screens.doctor import DoctorScreen, fix_document
from yunpipe_tui.screens.widgets import ConfirmModal

SMALL = (80, 24)


@pytest.fixture
def iam_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsContext]:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from moto import mock_aws

    with mock_aws():
        yield AwsContext(region="us-east-1", counter=CallCounter())


async def settle(pilot: Any) -> None:
    for _ in range(3):
        await pilot.pause()
        await wait_workers(pilot.app)
    await pilot.pause()


def visible_lines(scroll: VerticalScroll) -> dict[int, str]:
    """The content lines inside the scroll's window right now, by their row in the content."""
    top, height = int(scroll.scroll_y), scroll.scrollable_content_region.height
    lines: dict[int, str] = {}
    for child in scroll.query(Static):
        offset = child.virtual_region.y
        for y in range(child.size.height):
            if top <= offset + y < top + height:
                lines[offset + y] = child.render_line(y).text
    return lines


async def test_fix_all_confirmation_scrolls_to_every_fix_and_policy_line(iam_aws) -> None:
    app = make_app(iam_aws, initial="doctor")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        doctor = app.screen
        assert isinstance(doctor, DoctorScreen)
        fixable = [c for c in doctor.checks if c.fix is not None and c.status != "ok"]
        assert len(fixable) >= 4
        await pilot.press("a")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ConfirmModal)
        area = modal.query_one("#approve", VerticalScroll)
        assert area.region.bottom <= SMALL[1]
        seen = visible_lines(area)
        wanted_policy = ["".join(line.split()) for line in fix_document(fixable).splitlines()]
        for _ in range(200):  # page down until the end, collecting what was on screen
            if area.scroll_y >= area.max_scroll_y:
                break
            await pilot.press("pagedown")
            await pilot.pause()
            seen.update(visible_lines(area))
        assert area.scroll_y == area.max_scroll_y
        shown = "\n".join(seen[y] for y in sorted(seen))
        flat = " ".join(shown.split())
        for check in fixable:
            assert check.title in flat, check.title
        solid = "".join(shown.split())
        missing = [line for line in wanted_policy if line not in solid]
        assert not missing, missing[:5]


async def test_a_long_workflow_path_shows_its_end(aws, catalog, tmp_path) -> None:
    import shutil

    from textual.widgets import Input

    from tests.tui.conftest import SEED

    folder = tmp_path / "a-rather-long-folder-name-for-projects" / "another-level" / "demo"
    folder.mkdir(parents=True)
    path = folder / "work-flow.json"
    shutil.copy(SEED / "work-flow.json", path)
    app = make_app(aws, initial="workflow", workflow_path=str(path))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        title = app.screen.sub_title
        assert title.endswith("demo/work-flow.json") and len(title) <= SMALL[0] - 20, title
        field = app.screen.query_one("#path", Input)
        assert "work-flow.json" in field.render_line(0).text
