"""The App itself: routes, command palette, bindings, quitting with unsaved work, worker
failures reported in one place, and the `wizard` / `serve` commands' edges."""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import Any

import pytest
from textual.widgets import Input, Label

from tests.pilot import wait_workers
from yunpipe_tui.app import ROUTES, YunpipeApp, make_app
from yunpipe_tui.screens.widgets import ConfirmModal

SIZE = (100, 32)
MY_SCREENS = ("home", "doctor", "credentials", "workflow")


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await wait_workers(pilot.app)
    await pilot.pause()


def screen_class(name: str) -> type:
    module, cls, _ = ROUTES[name]
    return getattr(importlib.import_module(module), cls)


@pytest.mark.parametrize("name", MY_SCREENS)
def test_every_binding_has_a_description_and_an_id(name: str):
    from yunpipe_tui.screens._base import YunpipeScreen

    for binding in [*screen_class(name).BINDINGS, *YunpipeScreen.BINDINGS, *YunpipeApp.BINDINGS]:
        assert binding.description, binding
        assert binding.id, binding


def test_unknown_initial_screen_is_refused():
    with pytest.raises(ValueError, match="unknown screen"):
        make_app(initial="nowhere")


@pytest.mark.parametrize("name", ["doctor", "credentials", "workflow"])
async def test_initial_screen_sits_on_home(aws, memory_keyring, name: str):
    app = make_app(aws, initial=name)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert type(app.screen) is screen_class(name)
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "HomeScreen"


async def test_command_palette_opens_screens(aws):
    app = make_app(aws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"open doctor")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DoctorScreen"


async def test_routes_of_the_other_screens_are_lazy(aws):
    app = make_app(aws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for name in ("deploy", "monitor"):
            screen = app.make_screen(name, pipeline="demo", workflow_path=None)
            assert type(screen).__name__ == ROUTES[name][1]


async def test_quit_with_unsaved_workflow_asks(aws, catalog):
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#input-bucket", Input).value = "unsaved-bucket"
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#cancel")
        await pilot.pause()
        assert app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.click("#confirm")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_failing_worker_is_reported_once_and_inline(aws, catalog):
    def refuse(**_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "UnauthorizedOperation", "Message": "not allowed"}},
            "DescribeKeyPairs",
        )

    aws.add_hook("before-call.ec2.DescribeKeyPairs", refuse)
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        failures = [f for f in app.failures if f.startswith("key pairs")]
        assert failures == [
            "key pairs: DescribeKeyPairs failed: UnauthorizedOperation: not allowed"
        ]
        status = str(app.screen.query_one("#key-pair-status", Label).render())
        assert "could not list key pairs" in status
        # the form still works
        app.screen.query_one("#input-bucket", Input).value = "still-works"
        await pilot.pause()
        assert app.screen.has_unsaved_changes()


def test_wizard_needs_a_terminal(monkeypatch, capsys):
    from yunpipe_tui.commands import wizard

    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    with open(__file__) as not_a_tty:
        monkeypatch.setattr(sys, "stdin", not_a_tty)
        assert wizard.run_wizard(object()) == 2
    assert "needs a terminal" in capsys.readouterr().err


def test_serve_without_textual_serve_says_how_to_install(monkeypatch, capsys):
    from yunpipe_tui.cli import main

    monkeypatch.setitem(sys.modules, "textual_serve", None)
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "8123"])
    assert info.value.code == 2
    assert "pip install 'yunpipe-tui[serve]'" in capsys.readouterr().err


def test_serve_runs_this_wizard_with_the_global_options():
    from yunpipe_tui.tui_serve import wizard_command

    command = wizard_command("work", "eu-west-1")
    assert command.startswith(sys.executable)
    assert command.endswith("-m yunpipe_tui --profile work --region eu-west-1")


def test_core_modules_of_the_wizard_do_not_import_textual():
    code = (
        "import sys, yunpipe_tui.lookups, yunpipe_tui.workflow, yunpipe_tui.catalog;"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'textual'], 'textual imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_going_home_from_the_palette_guards_unsaved_work(aws, catalog):
    app = make_app(aws, initial="workflow")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        workflow = app.screen
        workflow.query_one("#input-bucket", Input).value = "unsaved-bucket"
        app.open_screen("home")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#cancel")
        await pilot.pause()
        assert app.screen is workflow
        app.open_screen("home")
        await pilot.pause()
        await pilot.click("#confirm")
        await pilot.pause()
        assert type(app.screen).__name__ == "HomeScreen"
