"""The wizard with a profile that exists nowhere (issue 14, point 5): the header says so, Home
and the doctor point to the Credentials screen, the doctor shows one failure and the rest
skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from tests.pilot import wait_workers
from yunpipe_tui.app import make_app
from yunpipe_tui.aws import AwsContext, CallCounter
from yunpipe_tui.screens.credentials import CredentialsScreen
from yunpipe_tui.screens.doctor import DoctorScreen
from yunpipe_tui.screens.widgets import status_of

SIZE = (100, 32)


@pytest.fixture
def nope_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AwsContext:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_PROFILE", "nope")
    return AwsContext(counter=CallCounter())


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await wait_workers(pilot.app)
    await pilot.pause()


async def test_home_and_doctor_point_to_credentials(nope_aws: AwsContext) -> None:
    app = make_app(nope_aws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "profile nope (not found)" in app.sub_title
        identity = str(app.screen.query_one("#identity", Static).render())
        assert "profile 'nope' not found" in identity and "ProfileNotFound" not in identity
        line = str(app.screen.query_one("#doctor-line", Static).render())
        assert "press c" in line and "press d" not in line
        await pilot.press("d")
        await settle(pilot)
        doctor = app.screen
        assert isinstance(doctor, DoctorScreen)
        found = {c.id: status_of(c) for c in doctor.checks}
        assert [k for k, v in found.items() if v == "fail"] == ["credentials"]
        assert {v for k, v in found.items() if k != "credentials"} == {"skip"}
        summary = str(doctor.query_one("#doctor-summary", Static).render())
        assert "press c" in summary and "- 14 skipped" in summary
        app.clear_notifications()
        await pilot.press("a")
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert said and "press c" in said[-1] and "Nothing to fix." not in said
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
