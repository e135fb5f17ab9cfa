"""The yunpipe wizard: one Textual App, screens in `yunpipe_tui.screens`, built by `make_app`.

The App owns what every screen shares: the AwsContext (`app.aws`), whether it runs on the local
sandbox, the last identity and doctor results, the routing to screens by name (each screen's
module is imported when it is first opened), the command palette, and the ONE place where
failed workers become a notification.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from yunpipe_tui.errors import describe_error
from yunpipe_tui.screens.messages import Identity
from yunpipe_tui.screens.routes import ROUTES

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext


def _stylesheets() -> list[str]:
    """Every .tcss shipped in yunpipe_tui.assets (installed or editable), app.tcss first."""
    folder = resources.files("yunpipe_tui.assets")
    names = sorted(
        (p.name for p in folder.iterdir() if p.name.endswith(".tcss")),
        key=lambda n: (n != "app.tcss", n),
    )
    return [str(folder.joinpath(name)) for name in names]


# Worker group -> what the user was waiting for, for a failure's notification title.
WORKER_TITLES = {
    "identity": "Asking AWS who you are",
    "pipelines": "Listing deployed pipelines",
    "doctor": "Running the checks",
    "doctor-fix": "Applying the fixes",
    "creds-load": "Reading the credential store",
    "creds-backend": "Switching to the encrypted file",
    "creds-unlock": "Unlocking the encrypted file",
    "creds-save": "Saving credentials",
    "catalog": "Reading the algorithm catalog",
    "key-pairs": "Listing key pairs",
    "account": "Asking AWS for your account",
    "deploy-plan": "Planning the deploy",
    "deploy-run": "Deploying",
    "deploy-rollback": "Rolling back",
    "monitor-resolve": "Finding the pipeline",
    "monitor-poll": "Reading the pipeline's state",
    "monitor-action": "The monitor's action",
}


class ScreensProvider(Provider):
    """The command palette's screens and main actions."""

    def _commands(self) -> list[tuple[str, str, Any]]:
        app = self.app
        assert isinstance(app, YunpipeApp)
        out: list[tuple[str, str, Any]] = []
        for name, (_, _, purpose) in ROUTES.items():
            out.append((f"Open {name.title()}", purpose, partial(app.open_screen, name)))
        out += [
            ("Doctor: re-run checks", "Run every prerequisite check again", app.rerun_doctor),
            ("Help", "Keys of this screen and what each screen is for", app.action_help),
            ("Quit", "Leave yunpipe (asks when a workflow is unsaved)", app.action_request_quit),
        ]
        return out

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


class YunpipeApp(App[int]):
    """The wizard. Build it with `make_app`."""

    TITLE = "yunpipe"
    CSS_PATH: ClassVar[Any] = _stylesheets()
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, ScreensProvider}
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+q", "request_quit", "Quit", id="app.quit", priority=True, show=True),
        Binding("question_mark", "help", "Help", id="app.help", key_display="?"),
        # F1 works everywhere, also in a text field (where `?` is typed into it)
        Binding("f1", "help", "Help", id="app.help_f1", priority=True, show=False),
    ]

    def __init__(
        self,
        aws: AwsContext,
        *,
        sandbox: bool = False,
        initial: str = "home",
        workflow_path: str | None = None,
        pipeline: str | None = None,
        monitor_interval: float | None = None,
    ) -> None:
        super().__init__()
        if initial not in ROUTES:
            raise ValueError(f"unknown screen {initial!r}; one of {', '.join(ROUTES)}")
        self.aws = aws
        self.sandbox = sandbox
        self.initial = initial
        self.workflow_path = workflow_path
        self.sample_file = ""  # a local file the upload dialog offers (the demo sets it)
        self.monitor_view = ""  # "files": the Monitor opens on its Files view (the demo sets it)
        self.pipeline = pipeline
        self.monitor_interval = monitor_interval  # seconds between polls (the monitor reads it)
        self.identity: Identity | None = None
        self.doctor_checks: list[Any] | None = None
        self.doctor_summary = "not run yet"
        self.failures: list[str] = []  # worker failures shown, newest last (tests read it)
        self.sub_title = self._subtitle()

    def run(self, *args: Any, **kwargs: Any) -> int | None:
        """Like App.run, on a loop whose thread workers are abandoned at exit: quitting never
        waits for an AWS call in flight (see `yunpipe_tui.quick_exit`)."""
        if kwargs.get("loop") is not None:
            return super().run(*args, **kwargs)
        from yunpipe_tui.quick_exit import note_full_screen_app, run_without_waiting

        if not kwargs.get("headless"):
            note_full_screen_app()

        return run_without_waiting(
            lambda loop: super(YunpipeApp, self).run(*args, loop=loop, **kwargs)
        )

    def _subtitle(self) -> str:
        region = self.aws.region or "default region"
        if self.sandbox:
            return f"LOCAL SANDBOX · {region}"
        if self.identity is not None:
            profile = f"profile {self.identity.profile}" if self.identity.profile else "no profile"
            return f"{self.identity.account} · {profile} · {self.identity.region}"
        return f"{self.aws.profile_label()} · {region}"

    def set_identity(self, identity: Identity | None) -> None:
        self.identity = identity
        self.sub_title = self._subtitle()

    def set_doctor_checks(self, checks: list[Any]) -> None:
        from yunpipe_tui.screens.widgets import summarize_checks

        self.doctor_checks = list(checks)
        self.doctor_summary = summarize_checks(self.doctor_checks)

    # --- routing -------------------------------------------------------------------------

    def make_screen(
        self,
        name: str,
        *,
        workflow_path: str | None = None,
        pipeline: str | None = None,
    ) -> Screen[Any]:
        """Build the screen of a route; each module is imported on first use (fast start)."""
        if name == "home":
            from yunpipe_tui.screens.home import HomeScreen

            return HomeScreen()
        if name == "doctor":
            from yunpipe_tui.screens.doctor import DoctorScreen

            return DoctorScreen()
        if name == "credentials":
            from yunpipe_tui.screens.credentials import CredentialsScreen

            return CredentialsScreen()
        if name == "workflow":
            from yunpipe_tui.screens.workflow import WorkflowScreen

            return WorkflowScreen(workflow_path=workflow_path)
        if name == "deploy":
            from yunpipe_tui.screens.deploy import DeployScreen

            return DeployScreen(workflow_path=workflow_path)
        if name == "monitor":
            from yunpipe_tui.screens.monitor import MonitorScreen

            return MonitorScreen(pipeline)
        raise ValueError(f"unknown screen {name!r}; one of {', '.join(ROUTES)}")

    def open_screen(
        self, name: str, *, workflow_path: str | None = None, pipeline: str | None = None
    ) -> None:
        """Show a screen by its route name on top of the current one (escape comes back)."""
        if name == "home":
            self._guard_unsaved(self._pop_to_home, "Go Home without saving?", "Discard changes")
            return
        given = workflow_path is not None or pipeline is not None
        if type(self.screen).__name__ == ROUTES[name][1] and not given:
            return
        self.push_screen(
            self.make_screen(
                name,
                workflow_path=self.workflow_path if workflow_path is None else workflow_path,
                pipeline=self.pipeline if pipeline is None else pipeline,
            )
        )

    def on_mount(self) -> None:
        self._set_keyring_prompts(allowed=False)
        self.push_screen(self.make_screen("home"))
        if self.initial != "home":
            self.open_screen(self.initial)

    def on_unmount(self) -> None:
        self._set_keyring_prompts(allowed=True)

    @staticmethod
    def _set_keyring_prompts(allowed: bool) -> None:
        """Under the TUI the keyring never prompts on the terminal; the Credentials screen
        asks for the encrypted file's passphrase in a modal instead."""
        from yunpipe_tui import credentials

        credentials.set_interactive(allowed)

    # --- actions -------------------------------------------------------------------------

    def action_help(self) -> None:
        from yunpipe_tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):  # F1 again closes it
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen(self.screen))

    def rerun_doctor(self) -> None:
        self.open_screen("doctor")
        rerun = getattr(self.screen, "action_rerun", None)
        if callable(rerun):
            self.call_after_refresh(rerun)

    def unsaved_screens(self) -> list[Screen[Any]]:
        return [s for s in self.screen_stack if getattr(s, "has_unsaved_changes", lambda: False)()]

    def _pop_to_home(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def _guard_unsaved(self, then: Any, question: str, confirm: str) -> None:
        """Run `then`, after asking when a screen on the stack has unsaved changes."""
        if not self.unsaved_screens():
            then()
            return
        from yunpipe_tui.screens.widgets import ConfirmModal

        def decided(go: bool | None) -> None:
            if go:
                then()

        self.push_screen(
            ConfirmModal(
                question,
                "The workflow has changes that are not saved. They will be lost.",
                confirm=confirm,
                danger=True,
            ),
            decided,
        )

    def action_request_quit(self) -> None:
        self._guard_unsaved(
            lambda: self.exit(0), "Quit with unsaved changes?", "Quit without saving"
        )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Quit":  # ours asks about unsaved work
                yield command

    # --- the one place where failed workers are reported ----------------------------------

    def worker_failed(self, worker: Worker[Any]) -> str:
        """Turn a failed worker into a notification; returns the line shown."""
        line = describe_error(worker.error)
        what = worker.name or worker.group or "background task"
        self.failures.append(f"{what}: {line}")
        title = WORKER_TITLES.get(worker.group or "", "A background task")
        self.notify(line, title=f"{title} failed", severity="error", timeout=12)
        return line

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notifications carry paths, names, patterns and AWS errors, never markup: each is
        shown as written (screens' `notify` passes markup=True by default, so it is ignored)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    @on(Worker.StateChanged)
    def _app_worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.worker_failed(event.worker)


def make_app(
    aws: AwsContext | None = None,
    *,
    sandbox: bool = False,
    initial: str = "home",
    workflow_path: str | None = None,
    pipeline: str | None = None,
    monitor_interval: float | None = None,
) -> YunpipeApp:
    """The one factory the CLI, `yunpipe demo`, `yunpipe monitor` and the tests use.

    `initial` is the screen shown first (on top of Home, so escape leads Home). Without `aws`,
    the default profile and region are used, with yunpipe's keyring store as a credential source.
    """
    if aws is None:
        from yunpipe_tui.aws import AwsContext
        from yunpipe_tui.credentials import install_provider

        aws = AwsContext.from_environment(provider=install_provider)
    return YunpipeApp(
        aws,
        sandbox=sandbox,
        initial=initial,
        workflow_path=workflow_path,
        pipeline=pipeline,
        monitor_interval=monitor_interval,
    )
