"""Credentials: AWS keys in the OS keyring (or an encrypted file), never in plaintext.

Shows the backend in use (or why none is usable, with the two ways forward), the stored
profiles with masked keys, a form to add or replace a profile (password inputs), the seed's
plaintext files to migrate, and a test of a profile with STS. The encrypted file's passphrase
is asked in a modal and kept only in memory; every keyring call runs in a worker.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Static
from textual.worker import Worker

from yunpipe_tui.screens._base import YunpipeScreen
from yunpipe_tui.screens.messages import (
    CredentialChanged,
    CredentialSaved,
    CredentialsLoaded,
    CredentialsMigrated,
    ProfileTested,
)
from yunpipe_tui.screens.widgets import ConfirmModal, PassphraseModal


class CredentialsScreen(YunpipeScreen):
    HELP_TITLE = "Credentials"
    HELP = (
        "Keep AWS keys in the OS keyring (or an encrypted file you unlock with a passphrase) "
        "instead of plaintext files. Stored profiles are used by every yunpipe command through "
        "a credential provider; environment variables still win. Keys are shown masked."
    )
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+s", "save", "Save", id="credentials.save"),
        Binding("ctrl+t", "test", "Test", id="credentials.test"),
        Binding("ctrl+r", "reload", "Reload", id="credentials.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status: Any = None
        self.profiles: list[Any] = []
        self.plaintext: list[Any] = []
        self.tested: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="credentials-body"):
            with Vertical(id="backend") as backend:
                backend.border_title = "Keyring backend"
                yield Static("Looking for a keyring…", id="backend-text")
                with Horizontal(classes="button-row"):
                    yield Button("Use an encrypted file", id="use-file", compact=True)
                    yield Button("Unlock…", id="unlock", variant="primary", compact=True)
            yield Label("Stored profiles", classes="section-title")
            yield DataTable(id="profiles", cursor_type="row", zebra_stripes=True)
            yield Static("", id="profiles-empty", classes="muted")
            with Horizontal(classes="button-row", id="profile-buttons"):
                yield Button("Test with STS", id="test", compact=True)
                yield Button("Edit", id="edit", compact=True)
                yield Button("Delete", id="delete", variant="error", compact=True)
            with Vertical(id="cred-form") as form:
                form.border_title = "Add or replace a profile"
                with Horizontal(classes="form-row"):
                    yield Label("Profile")
                    yield Input(value="default", id="profile", compact=True)
                with Horizontal(classes="form-row"):
                    yield Label("Access key id")
                    yield Input(placeholder="AKIA…", id="access-key", compact=True)
                with Horizontal(classes="form-row"):
                    yield Label("Secret access key")
                    yield Input(password=True, id="secret-key", compact=True)
                with Horizontal(classes="form-row"):
                    yield Label("Session token")
                    yield Input(
                        password=True, placeholder="(optional)", id="session-token", compact=True
                    )
                with Horizontal(classes="form-row"):
                    yield Label("Region")
                    yield Input(placeholder="(optional) us-east-1", id="cred-region", compact=True)
                yield Label("", id="form-error", classes="field-error")
                with Horizontal(classes="button-row"):
                    yield Button("Save to keyring", id="save", variant="primary", compact=True)
            yield Label("Plaintext keys found", classes="section-title")
            yield Static("", id="plaintext-text")
            with Horizontal(classes="button-row", id="migrate-buttons"):
                yield Button("Migrate into the keyring…", id="migrate", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#profiles", DataTable)
        for key, label in (
            ("profile", "Profile"),
            ("key", "Access key"),
            ("region", "Region"),
            ("token", "Token"),
            ("test", "Last test"),
        ):
            table.add_column(label, key=key)
        self.query_one("#access-key", Input).focus()
        self.action_reload()

    # --- state -----------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load_state()

    @work(thread=True, exclusive=True, exit_on_error=False, group="creds-load", name="keyring")
    def load_state(self) -> None:
        from yunpipe_tui import credentials

        status = credentials.backend_status()
        plaintext = credentials.find_plaintext(aws_profiles=True)
        self.post_message(CredentialsLoaded(status, credentials.list_profiles(), plaintext))

    @on(CredentialsLoaded)
    def state_loaded(self, message: CredentialsLoaded) -> None:
        self.status = message.status
        self.profiles = message.profiles
        self.plaintext = message.plaintext
        self.show_backend()
        self.show_profiles()
        self.show_plaintext()

    def show_backend(self) -> None:
        status = self.status
        text = self.query_one("#backend-text", Static)
        use_file = self.query_one("#use-file", Button)
        unlock = self.query_one("#unlock", Button)
        if status is None:
            return
        if not status.usable:
            text.update(
                "[b $error]✗ No usable keyring.[/]\n"
                + escape(status.detail)
                + "\nStarted a Secret Service? Press ctrl+r. Or use an encrypted file (below)."
            )
        elif status.needs_passphrase:
            text.update(
                f"[b $warning]![/] {escape(status.detail)}\n"
                "Unlock it with its passphrase (asked here, never stored)."
            )
        else:
            text.update(f"[b $success]✓[/] {escape(status.detail)}")
        use_file.display = not status.usable
        unlock.display = bool(status.usable and status.needs_passphrase)

    def show_profiles(self) -> None:
        table = self.query_one("#profiles", DataTable)
        with self.app.batch_update():
            table.clear()
            for info in self.profiles:
                table.add_row(
                    Text(info.profile),
                    Text(info.access_key),
                    Text(info.region or "-"),
                    Text("yes" if info.session_token else "no"),
                    Text(self.tested.get(info.profile, "")),
                    key=info.profile,
                )
        table.display = bool(self.profiles)
        self.query_one("#profile-buttons").display = bool(self.profiles)
        self.query_one("#profiles-empty", Static).update(
            "" if self.profiles else "No profile stored yet: add one below."
        )

    def show_plaintext(self) -> None:
        text = self.query_one("#plaintext-text", Static)
        if not self.plaintext:
            text.update("None: no seed task file and no keys in ~/.aws/credentials.")
        else:
            text.update(
                "\n".join(
                    f"• {escape(s.label)} (key {escape(s.access_key)})" for s in self.plaintext
                )
            )
        self.query_one("#migrate-buttons").display = bool(self.plaintext)

    def selected_profile(self) -> str | None:
        table = self.query_one("#profiles", DataTable)
        if not self.profiles or not 0 <= table.cursor_row < len(self.profiles):
            return None
        return str(self.profiles[table.cursor_row].profile)

    def worker_failure(self, worker: Worker[Any], line: str) -> None:
        if worker.group == "creds-save":
            error = self.query_one("#form-error", Label)
            error.update(line)
        elif worker.group == "creds-test" and worker.name.startswith("test "):
            profile = worker.name.removeprefix("test ")
            self.tested[profile] = "✗ " + line
            self.show_profiles()
        if "passphrase" in line or "locked" in line.lower():
            self.load_state()

    # --- backend choice and unlocking ------------------------------------------------------

    @on(Button.Pressed, "#use-file")
    def use_file_pressed(self) -> None:
        self.app.push_screen(
            ConfirmModal(
                "Keep keys in an encrypted file?",
                "yunpipe will keep AWS keys in an encrypted file under its data folder "
                "(Argon2 + AES). You choose a passphrase now and type it when the wizard "
                "starts; it is never stored.",
                confirm="Use an encrypted file",
            ),
            lambda go: self.choose_file_backend() if go else None,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="creds-backend", name="backend")
    def choose_file_backend(self) -> None:
        from yunpipe_tui import credentials

        credentials.choose_backend(credentials.ENCRYPTED_FILE)
        self.post_message(CredentialChanged("backend"))

    @on(Button.Pressed, "#unlock")
    def unlock_pressed(self) -> None:
        self.ask_passphrase()

    def ask_passphrase(self) -> None:
        from yunpipe_tui import credentials

        new = not credentials.cryptfile_path().exists()
        prompt = (
            "Choose a passphrase for the new encrypted keyring file (type it twice)."
            if new
            else f"The passphrase of {credentials.cryptfile_path()}."
        )

        def chosen(passphrase: str | None) -> None:
            if passphrase:
                self.unlock(passphrase)

        self.app.push_screen(PassphraseModal(prompt, confirm_twice=new), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="creds-unlock", name="unlock")
    def unlock(self, passphrase: str) -> None:
        from yunpipe_tui import credentials

        credentials.open_store(passphrase=passphrase)  # caches the unlocked backend
        self.post_message(CredentialChanged("unlocked"))

    @on(CredentialChanged)
    def changed(self, message: CredentialChanged) -> None:
        if message.what == "unlocked":
            self.notify("Keyring unlocked for this session.")
        elif message.what == "backend":
            self.notify("Keys will be kept in an encrypted file.")
        self.load_state()
        if message.what == "backend":
            self.call_after_refresh(self.ask_passphrase)

    # --- add or replace --------------------------------------------------------------------

    def _form(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def action_save(self) -> None:
        profile = self._form("#profile") or "default"
        access_key = self._form("#access-key")
        secret = self.query_one("#secret-key", Input).value
        error = self.query_one("#form-error", Label)
        if not access_key or not secret.strip():
            error.update("Type the access key id and the secret access key.")
            return
        if self.status is not None and self.status.needs_passphrase:
            error.update("Unlock the encrypted keyring first.")
            self.ask_passphrase()
            return
        error.update("")
        exists = any(p.profile == profile for p in self.profiles)
        values = (
            profile,
            access_key,
            secret,
            self.query_one("#session-token", Input).value,
            self._form("#cred-region"),
        )
        if not exists:
            self.save_profile(*values)
            return
        self.app.push_screen(
            ConfirmModal(
                f"Replace the keys of profile {profile!r}?",
                "The keys stored for this profile will be overwritten.",
                confirm="Replace",
                danger=True,
            ),
            lambda go: self.save_profile(*values) if go else None,
        )

    @on(Button.Pressed, "#save")
    def save_pressed(self) -> None:
        self.action_save()

    @on(Input.Submitted, "#cred-form Input")
    def form_submitted(self) -> None:
        self.action_save()

    @work(thread=True, exclusive=True, exit_on_error=False, group="creds-save", name="save keys")
    def save_profile(
        self, profile: str, access_key: str, secret: str, token: str, region: str
    ) -> None:
        from yunpipe_tui import credentials

        credentials.set_profile(profile, access_key, secret, token or None, region or None)
        self.post_message(CredentialSaved(profile))

    @on(CredentialSaved)
    def saved(self, message: CredentialSaved) -> None:
        for selector in ("#access-key", "#secret-key", "#session-token"):
            self.query_one(selector, Input).value = ""  # no secret stays on screen
        self.notify(f"Keys of profile {message.profile!r} saved in the keyring.")
        self.load_state()

    @on(Button.Pressed, "#edit")
    def edit_pressed(self) -> None:
        profile = self.selected_profile()
        if profile is None:
            return
        self.query_one("#profile", Input).value = profile
        self.query_one("#access-key", Input).focus()

    # --- delete ----------------------------------------------------------------------------

    @on(Button.Pressed, "#delete")
    def delete_pressed(self) -> None:
        profile = self.selected_profile()
        if profile is None:
            return
        self.app.push_screen(
            ConfirmModal(
                f"Delete profile {profile!r} from the keyring?",
                "Its keys are removed from the keyring; AWS itself is not changed.",
                confirm="Delete",
                danger=True,
            ),
            lambda go: self.delete_profile(profile) if go else None,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="creds-save", name="delete")
    def delete_profile(self, profile: str) -> None:
        from yunpipe_tui import credentials

        credentials.delete_profile(profile)
        self.post_message(CredentialChanged("deleted"))

    # --- test ------------------------------------------------------------------------------

    def action_test(self) -> None:
        profile = self.selected_profile()
        if profile is None:
            self.notify("No stored profile to test.", severity="warning")
            return
        self.tested[profile] = "testing…"
        self.show_profiles()
        self.test_profile(profile)

    @on(Button.Pressed, "#test")
    def test_pressed(self) -> None:
        self.action_test()

    def test_profile(self, profile: str) -> None:
        self.run_worker(
            lambda: self._test(profile),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group="creds-test",
            name=f"test {profile}",
        )

    def _test(self, profile: str) -> None:
        from yunpipe_tui import credentials

        identity = credentials.test_profile(profile, endpoint_url=self.wizard.aws.endpoint_url)
        self.post_message(ProfileTested(profile, True, f"{identity.account} {identity.arn}"))

    @on(ProfileTested)
    def tested_profile(self, message: ProfileTested) -> None:
        self.tested[message.profile] = ("✓ " if message.ok else "✗ ") + message.detail
        self.show_profiles()

    # --- migrate ---------------------------------------------------------------------------

    @on(Button.Pressed, "#migrate")
    def migrate_pressed(self) -> None:
        if not self.plaintext:
            return
        source = self.plaintext[0]
        self.app.push_screen(
            ConfirmModal(
                "Copy these keys into the keyring?",
                f"{source.label} (key {source.access_key}) will be copied into the keyring "
                "and read back to verify. The plaintext file stays until you agree to delete it.",
                confirm="Migrate",
            ),
            lambda go: self.migrate(source) if go else None,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="creds-save", name="migrate")
    def migrate(self, source: Any) -> None:
        from yunpipe_tui import credentials

        self.post_message(CredentialsMigrated(source, credentials.migrate(source)))

    @on(CredentialsMigrated)
    def migrated(self, message: CredentialsMigrated) -> None:
        self.notify(f"Copied into {message.where} and verified.")
        self.load_state()
        source = message.source
        self.app.push_screen(
            ConfirmModal(
                "Delete the plaintext copy?",
                f"The keys are now in the keyring. Remove them from {source.path}"
                + (" (only that profile's section)" if source.kind == "aws-profile" else "")
                + "?",
                confirm="Delete plaintext",
                danger=True,
            ),
            lambda go: self.delete_plaintext(source) if go else None,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="creds-save", name="cleanup")
    def delete_plaintext(self, source: Any) -> None:
        from yunpipe_tui import credentials

        credentials.delete_plaintext(source)
        self.post_message(CredentialChanged("plaintext deleted"))
