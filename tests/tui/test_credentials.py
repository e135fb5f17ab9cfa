"""Credentials screen: keys added through the form land in the (test) keyring, masked on screen;
a stored profile tests against STS; the seed's plaintext task file migrates."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from tests.pilot import wait_workers
from yunpipe_tui import credentials
from yunpipe_tui.app import make_app
from yunpipe_tui.credentials import backends
from yunpipe_tui.screens.credentials import CredentialsScreen
from yunpipe_tui.screens.widgets import ConfirmModal, PassphraseModal

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
SIZE = (100, 32)


async def settle(pilot) -> None:
    await pilot.pause()
    await wait_workers(pilot.app)
    await pilot.pause()


async def test_added_credential_lands_in_the_keyring(aws, memory_keyring, tmp_path: Path):
    app = make_app(aws, initial="credentials")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CredentialsScreen)
        assert screen.status is not None and screen.status.usable
        screen.query_one("#profile", Input).value = "work"
        screen.query_one("#access-key", Input).value = ACCESS_KEY
        secret = screen.query_one("#secret-key", Input)
        assert secret.password  # typed into a password field
        secret.value = SECRET
        screen.query_one("#cred-region", Input).value = "eu-west-1"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.failures == []
        stored = credentials.get_profile("work")
        assert stored is not None
        assert stored.access_key_id == ACCESS_KEY
        assert stored.secret_access_key == SECRET
        assert stored.region == "eu-west-1"
        assert (credentials.service_for("work"), "aws_secret_access_key") in memory_keyring.items
        # the form forgets the secret; the table shows the key masked, never the secret
        assert secret.value == ""
        table = screen.query_one("#profiles", DataTable)
        assert table.row_count == 1
        shown = app.export_screenshot()
        assert "AKIA…MPLE" in shown
        assert SECRET not in shown and ACCESS_KEY not in shown
        # test the stored profile with STS (moto answers for any keys)
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert screen.tested["work"].startswith("✓ 123456789012")


async def test_replacing_a_profile_asks_first(aws, memory_keyring):
    credentials.set_profile("default", ACCESS_KEY, SECRET)
    app = make_app(aws, initial="credentials")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("#access-key", Input).value = "AKIAREPLACEMENT00000"
        screen.query_one("#secret-key", Input).value = "another-secret"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#cancel")
        await settle(pilot)
        assert credentials.get_profile("default").access_key_id == ACCESS_KEY


async def test_seed_plaintext_task_file_migrates(aws, memory_keyring, isolated_home: Path):
    task = isolated_home / ".yunpipe" / "task"
    task.parent.mkdir()
    task.write_text(
        f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET}\n"
        "region = us-east-1\n"
    )
    app = make_app(aws, initial="credentials")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert [s.kind for s in screen.plaintext] == ["task"]
        screen.query_one("#migrate").press()
        await pilot.pause()
        await pilot.click("#confirm")  # copy into the keyring
        await settle(pilot)
        assert credentials.get_task_credentials().secret_access_key == SECRET
        assert isinstance(app.screen, ConfirmModal)  # then: delete the plaintext?
        await pilot.click("#confirm")
        await settle(pilot)
        assert not task.exists()
        assert screen.plaintext == []


async def test_no_os_keyring_then_encrypted_file_unlocked_in_a_modal(
    aws, monkeypatch, isolated_home: Path
):
    def no_os_keyring(choice: str) -> None:
        raise credentials.KeyringUnavailable(credentials.NO_KEYRING_HELP)

    monkeypatch.setattr(backends, "_os_backend", no_os_keyring)
    monkeypatch.setattr(
        backends, "CRYPTFILE_COST", {"time_cost": 1, "memory_cost": 64, "parallelism": 1}
    )
    credentials.set_backend_override(None)
    app = make_app(aws, initial="credentials")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            assert not screen.status.usable
            backend_text = str(screen.query_one("#backend-text").render())
            assert "gnome-keyring-daemon" in backend_text  # way forward 1
            assert "encrypted file" in backend_text  # way forward 2
            screen.query_one("#use-file").press()
            await pilot.pause()
            await pilot.click("#confirm")
            await settle(pilot)
            modal = app.screen
            assert isinstance(modal, PassphraseModal)  # asked here, not on the terminal
            modal.query_one("#passphrase", Input).value = "correct horse"
            modal.query_one("#again", Input).value = "correct horse"
            await pilot.click("#ok")
            await settle(pilot)
            assert app.screen is screen
            assert screen.status.usable and not screen.status.needs_passphrase
            screen.query_one("#access-key", Input).value = ACCESS_KEY
            screen.query_one("#secret-key", Input).value = SECRET
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.failures == []
        stored = credentials.get_profile("default")
        assert stored is not None and stored.secret_access_key == SECRET
        keyring_file = credentials.cryptfile_path()
        assert keyring_file.exists()
        assert SECRET.encode() not in keyring_file.read_bytes()
    finally:
        credentials.set_backend_override(None)  # forget the unlocked file


async def test_a_quick_tab_in_the_passphrase_dialog_reaches_the_second_field(
    aws, monkeypatch, isolated_home: Path
):
    """Issue 14, point 8: keys typed the moment the dialog opens land in their own fields."""

    def no_os_keyring(choice: str) -> None:
        raise credentials.KeyringUnavailable(credentials.NO_KEYRING_HELP)

    monkeypatch.setattr(backends, "_os_backend", no_os_keyring)
    credentials.set_backend_override(None)
    app = make_app(aws, initial="credentials")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.screen.query_one("#use-file").press()
            await pilot.pause()
            await pilot.click("#confirm")
            await pilot.press("a", "tab", "b")
            await settle(pilot)
            modal = app.screen
            assert isinstance(modal, PassphraseModal)
            assert modal.query_one("#passphrase", Input).value == "a"
            assert modal.query_one("#again", Input).value == "b"
    finally:
        credentials.set_backend_override(None)
