"""Keys a new user reaches for (issue 14, point 8): F1 opens help everywhere (also from a text
field, where `?` is typed), `?` still opens it where no text field has focus, and the help lists the
screen's own keys only."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Static

from tests.pilot import wait_workers
from yunpipe_tui.app import make_app
from yunpipe_tui.screens.credentials import CredentialsScreen
from yunpipe_tui.screens.help import HelpScreen, binding_rows

SIZE = (100, 32)


async def settle(pilot: Any) -> None:
    for _ in range(3):
        await pilot.pause()
        await wait_workers(pilot.app)
    await pilot.pause()


async def test_f1_opens_help_from_a_text_field_and_question_mark_types(aws: Any) -> None:
    app = make_app(aws, initial="credentials")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        field = app.screen.query_one("#profile", Input)
        field.focus()
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen) and field.value.endswith("?")
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "F1" in str(app.screen.query(".help-intro").first(Static).render())
        await pilot.press("escape")
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_help_lists_the_screens_own_keys_not_the_tables(aws: Any) -> None:
    app = make_app(aws, initial="doctor")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#checks").focus()
        await pilot.pause()
        described = [d for _, d in binding_rows(app.screen)]
        assert "Re-run" in described and "Help" in described
        for internal in ("Page Left", "Page Right", "Top", "Bottom", "Select"):
            assert internal not in described, described


async def test_f1_closes_the_help_again(aws: Any) -> None:
    app = make_app(aws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
