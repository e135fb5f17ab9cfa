"""Home: who you are on AWS (or the local sandbox), the doctor's one line, deployed pipelines,
and the way to every other screen."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Footer, Header, Static
from textual.worker import Worker

from yunpipe_tui.screens._base import YunpipeScreen
from yunpipe_tui.screens.messages import (
    ChecksLoaded,
    Identity,
    IdentityFailed,
    IdentityLoaded,
    PipelinesLoaded,
)
from yunpipe_tui.screens.widgets import credentials_failing

NAV = (
    ("doctor", "d", "Doctor"),
    ("credentials", "c", "Credentials"),
    ("workflow", "w", "Workflow"),
    ("deploy", "p", "Deploy"),
    ("monitor", "m", "Monitor"),
)


def pipeline_rows(ctx: Any = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Deployed pipelines of the account and endpoint in use (newest first), and one line per
    record that is damaged or belongs elsewhere; ([], []) before anything was deployed."""
    from yunpipe_tui.deploy import records

    found = records.here(ctx, include_torn_down=False)
    rows = []
    for record in found.records:
        rows.append(
            {
                "name": record.pipeline,
                "state": record.status or "unknown",
                "region": record.region,
                "steps": " → ".join(s.algorithm for s in record.steps) or "-",
                "input": record.input_bucket,
                "updated": record.updated_at[:16].replace("T", " "),
            }
        )
    return rows, found.lines()


class HomeScreen(YunpipeScreen):
    HELP_TITLE = "Home"
    HELP = (
        "Home shows the AWS identity the wizard uses (or LOCAL SANDBOX), the doctor's summary "
        "and the pipelines deployed from this machine. Enter on a pipeline opens its monitor."
    )
    BINDINGS: ClassVar[list[Any]] = [
        # the nav buttons carry these keys on screen; the footer keeps room for the rest
        *(
            Binding(key, f"open('{name}')", label, id=f"home.{name}", show=False)
            for name, key, label in NAV
        ),
        Binding("r", "refresh", "Refresh", id="home.refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        if self.wizard.sandbox:
            yield Static(
                "LOCAL SANDBOX · an AWS emulated on this machine · no real account is touched",
                id="sandbox-banner",
            )
        with Vertical(id="home-body"):
            identity = Static("Identity: asking AWS who you are…", id="identity", markup=True)
            identity.border_title = "Identity"
            yield identity
            doctor = Static("Doctor: …", id="doctor-line", markup=True)
            doctor.border_title = "Doctor (d)"
            yield doctor
            with Vertical(id="pipelines-box") as box:
                box.border_title = "Deployed pipelines (enter: monitor)"
                yield DataTable(id="pipelines", cursor_type="row", zebra_stripes=True)
                yield Static("", id="pipelines-empty")
        with Horizontal(id="nav"):
            for name, key, label in NAV:
                yield Button(f"{key} {label}", id=f"nav-{name}", classes="nav", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#pipelines", DataTable)
        for key, label in (
            ("name", "Pipeline"),
            ("state", "State"),
            ("region", "Region"),
            ("steps", "Steps"),
            ("updated", "Updated (UTC)"),
        ):
            table.add_column(label, key=key)
        self.refresh_all()

    def on_screen_resume(self) -> None:
        self.show_doctor_summary()
        if self.is_mounted:
            self.load_pipelines()

    # --- loading ---------------------------------------------------------------------------

    def refresh_all(self) -> None:
        self.load_identity()
        self.load_pipelines()
        self.run_doctor()

    def action_refresh(self) -> None:
        self.refresh_all()

    @work(thread=True, exclusive=True, exit_on_error=False, group="identity", name="identity")
    def load_identity(self) -> None:
        from yunpipe_tui.lookups import caller_identity

        ctx = self.wizard.aws
        try:
            found = caller_identity(ctx)
        except Exception as exc:
            from yunpipe_tui.errors import describe_error

            self.post_message(
                IdentityFailed(describe_error(exc), profile=ctx.profile or "", region="")
            )
            return
        self.post_message(
            IdentityLoaded(
                Identity(
                    account=found.account,
                    arn=found.arn,
                    profile=found.profile,
                    region=found.region,
                    sandbox=self.wizard.sandbox,
                )
            )
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="pipelines", name="pipelines")
    def load_pipelines(self) -> None:
        rows, notes = pipeline_rows(self.wizard.aws)
        self.post_message(PipelinesLoaded(rows, notes))

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor", name="doctor")
    def run_doctor(self) -> None:
        from yunpipe_tui import doctor

        self.post_message(ChecksLoaded(list(doctor.run_checks(self.wizard.aws))))

    # --- state -----------------------------------------------------------------------------

    @on(IdentityLoaded)
    def identity_loaded(self, message: IdentityLoaded) -> None:
        self.wizard.set_identity(message.identity)
        i = message.identity
        where = "[b $warning]LOCAL SANDBOX[/]  " if self.wizard.sandbox else ""
        profile = f"Profile [b]{escape(i.profile)}[/]" if i.profile else "No profile"
        self.query_one("#identity", Static).update(
            f"{where}Account [b]{escape(i.account)}[/]  {profile}  "
            f"Region [b]{escape(i.region)}[/]\n{escape(i.arn)}"
        )

    @on(IdentityFailed)
    def identity_failed(self, message: IdentityFailed) -> None:
        self.wizard.set_identity(None)
        self.query_one("#identity", Static).update(
            f"[b $error]✗[/] {escape(message.error)}\n"
            "Set up access on Credentials (c), or check with Doctor (d)."
        )

    @on(ChecksLoaded)
    def checks_loaded(self, message: ChecksLoaded) -> None:
        self.wizard.set_doctor_checks(message.checks)
        self.show_doctor_summary()

    def show_doctor_summary(self) -> None:
        line = self.query_one("#doctor-line", Static)
        if self.wizard.doctor_checks is None:
            line.update("Checking prerequisites…")
        else:
            summary = escape(self.wizard.doctor_summary)
            hint = "  — press d to fix" if "failing" in summary else ""
            if credentials_failing(self.wizard.doctor_checks):
                hint = "  — AWS credentials needed: press c (Credentials)"
            line.update(summary + hint)

    @on(PipelinesLoaded)
    def pipelines_loaded(self, message: PipelinesLoaded) -> None:
        table = self.query_one("#pipelines", DataTable)
        empty = self.query_one("#pipelines-empty", Static)
        with self.app.batch_update():
            table.clear()
            for row in message.pipelines:
                table.add_row(
                    row["name"],
                    row["state"],
                    row["region"],
                    row["steps"],
                    row["updated"],
                    key=row["name"],
                )
        table.display = bool(message.pipelines)
        empty.display = not message.pipelines or bool(message.notes)
        if message.pipelines and self.focused is None:
            table.focus()
        lines = (
            []
            if message.pipelines
            else [
                "No pipeline deployed from this machine yet. Build one on Workflow (w), "
                "then Deploy (p)."
            ]
        )
        empty.update(escape("\n".join(lines + message.notes)))

    def worker_failure(self, worker: Worker[Any], line: str) -> None:
        if worker.group == "doctor":
            self.query_one("#doctor-line", Static).update(
                f"[b $error]✗[/] the checks could not run: {escape(line)}"
            )

    # --- navigation ------------------------------------------------------------------------

    def action_open(self, name: str) -> None:
        self.wizard.open_screen(name)

    @on(Button.Pressed, ".nav")
    def nav_pressed(self, event: Button.Pressed) -> None:
        assert event.button.id is not None
        self.wizard.open_screen(event.button.id.removeprefix("nav-"))

    @on(DataTable.RowSelected, "#pipelines")
    def pipeline_selected(self, event: DataTable.RowSelected) -> None:
        self.wizard.open_screen("monitor", pipeline=str(event.row_key.value))
