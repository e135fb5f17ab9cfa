"""Doctor: every prerequisite check with ✓ / ! / ✗ and its detail; fix one or all after a
confirmation that shows exactly what will be created (the policy JSON); re-run."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Footer, Header, Static
from textual.worker import Worker

from yunpipe_tui.screens._base import YunpipeScreen
from yunpipe_tui.screens.messages import ChecksLoaded, FixApplied
from yunpipe_tui.screens.widgets import (
    ConfirmModal,
    credentials_failing,
    mark,
    mark_cell,
    status_of,
    summarize_checks,
)

CREDENTIALS_HINT = "AWS credentials needed: press c (Credentials) to set them up"


def fix_document(checks: list[Any]) -> str:
    """The exact documents the fixes apply, as JSON (one check: its policy; several: by id)."""
    docs = {c.id: c.fix.policy for c in checks if c.fix is not None and c.fix.policy}
    if not docs:
        return ""
    if len(checks) == 1:
        return json.dumps(next(iter(docs.values())), indent=2)
    return json.dumps(docs, indent=2)


def fixable(check: Any) -> bool:
    return getattr(check, "fix", None) is not None and status_of(check) != "ok"


class DoctorScreen(YunpipeScreen):
    HELP_TITLE = "Doctor"
    HELP = (
        "The prerequisites yunpipe needs in your account: credentials, region, each service, "
        "the IAM roles the dispatcher and instances use, and whether you may deploy. A check "
        "with a fix can be fixed here; the confirmation shows the exact policy it applies."
    )
    BINDINGS: ClassVar[list[Any]] = [
        Binding("r", "rerun", "Re-run", id="doctor.rerun"),
        Binding("f", "fix_selected", "Fix", id="doctor.fix"),
        Binding("a", "fix_all", "Fix all", id="doctor.fix_all"),
        Binding("c", "credentials", "Credentials", id="doctor.credentials", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.checks: list[Any] = []
        self.running = False
        self.fixing = False
        self.workflow_note = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="doctor-body"):
            yield Static("Running the checks…", id="doctor-summary")
            yield DataTable(id="checks", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="check-detail") as detail:
                detail.border_title = "Detail"
                yield Static("", id="check-detail-text")
            with Horizontal(classes="button-row"):
                yield Button("Fix selected (f)", id="fix", variant="primary", compact=True)
                yield Button("Fix all (a)", id="fix-all", compact=True)
                yield Button("Re-run (r)", id="rerun", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#checks", DataTable)
        table.add_column(" ", key="mark", width=1)
        table.add_column("Check", key="title", width=32)
        table.add_column("Detail", key="detail")
        if self.wizard.doctor_checks is not None:
            self.show_checks(self.wizard.doctor_checks)
        self.action_rerun()

    # --- running ---------------------------------------------------------------------------

    def action_rerun(self) -> None:
        if self.fixing:
            return
        self.running = True
        self.query_one("#doctor-summary", Static).update("Running the checks…")
        self.run_checks()

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor", name="doctor")
    def run_checks(self) -> None:
        from yunpipe_tui import doctor

        workflow, note = self.current_workflow()
        self.post_message(ChecksLoaded(list(doctor.run_checks(self.wizard.aws, workflow)), note))

    def current_workflow(self) -> tuple[Any | None, str]:
        """The workflow last saved or opened in the wizard, when it is valid: its checks
        (key pair, buckets, network, AMI) run too. Called in the worker (reads files)."""
        from pathlib import Path

        from yunpipe_tui.catalog import default_catalog
        from yunpipe_tui.errors import InputError
        from yunpipe_tui.workflow import load_workflow

        path = self.wizard.workflow_path
        if not path or not Path(path).is_file():
            return None, ""
        try:
            workflow = load_workflow(path, default_catalog())
        except InputError:
            return None, f" (workflow {path} has problems; its checks are skipped)"
        return workflow, f" (with the checks for workflow {path})"

    @on(ChecksLoaded)
    def checks_loaded(self, message: ChecksLoaded) -> None:
        self.running = False
        self.workflow_note = message.note
        self.wizard.set_doctor_checks(message.checks)
        self.show_checks(message.checks)

    def show_checks(self, checks: list[Any]) -> None:
        self.checks = list(checks)
        table = self.query_one("#checks", DataTable)
        keep = table.cursor_row
        with self.app.batch_update():
            table.clear()
            for check in self.checks:
                detail = check.detail.splitlines()[0] if check.detail else ""
                if fixable(check):
                    detail = "[fix available] " + detail
                table.add_row(
                    mark_cell(status_of(check), self.app),
                    Text(check.title),
                    Text(detail),
                    key=check.id,
                )
        if self.checks:
            table.move_cursor(row=min(keep, len(self.checks) - 1))
        failing = any(status_of(c) == "fail" for c in self.checks)
        summary = summarize_checks(self.checks)
        if not self.checks:
            summary = "No checks ran."
        elif credentials_failing(self.checks):
            summary += " — " + CREDENTIALS_HINT
        elif not failing:
            summary += " — ready to deploy"
        self.query_one("#doctor-summary", Static).update(escape(summary + self.workflow_note))
        self.show_detail()
        self.query_one("#fix-all", Button).disabled = not any(fixable(c) for c in self.checks)

    def selected(self) -> Any | None:
        table = self.query_one("#checks", DataTable)
        if not self.checks or table.cursor_row < 0 or table.cursor_row >= len(self.checks):
            return None
        return self.checks[table.cursor_row]

    @on(DataTable.RowHighlighted, "#checks")
    def show_detail(self) -> None:
        check = self.selected()
        text = self.query_one("#check-detail-text", Static)
        self.query_one("#fix", Button).disabled = check is None or not fixable(check)
        if check is None:
            text.update("")
            return
        lines = [f"{mark(status_of(check))} [b]{escape(check.title)}[/]", escape(check.detail)]
        if check.fix is not None and fixable(check):
            lines.append(f"[b]Fix:[/] {escape(check.fix.description)} (press f)")
        elif check.id == "credentials" and status_of(check) == "fail":
            lines.append(f"[b]Fix:[/] {CREDENTIALS_HINT}")
        text.update("\n".join(lines))

    def worker_failure(self, worker: Worker[Any], line: str) -> None:
        if worker.group == "doctor":
            self.running = False
            self.query_one("#doctor-summary", Static).update(
                f"[b $error]✗[/] the checks could not run: {escape(line)}"
            )
        elif worker.group == "doctor-fix":
            self.fixing = False
            self.action_rerun()

    # --- fixing ----------------------------------------------------------------------------

    def action_fix_selected(self) -> None:
        check = self.selected()
        if check is not None and check.id == "credentials" and status_of(check) == "fail":
            self.notify(f"{CREDENTIALS_HINT}.", severity="warning")
            return
        if check is None or not fixable(check):
            self.notify("This check has nothing to fix.", severity="warning")
            return
        self.confirm_fix([check])

    def action_fix_all(self) -> None:
        chosen = [c for c in self.checks if fixable(c)]
        if not chosen and credentials_failing(self.checks):
            self.notify(f"Nothing the doctor can fix: {CREDENTIALS_HINT}.", severity="warning")
            return
        if not chosen:
            self.notify("Nothing to fix.")
            return
        self.confirm_fix(chosen)

    def action_credentials(self) -> None:
        self.wizard.open_screen("credentials")

    def confirm_fix(self, checks: list[Any]) -> None:
        if self.fixing:
            return
        body = "\n".join(f"• {c.title}: {c.fix.description}" for c in checks)
        title = f"Fix {checks[0].title}?" if len(checks) == 1 else f"Apply {len(checks)} fixes?"

        def decided(go: bool | None) -> None:
            if go:
                self.fixing = True
                self.query_one("#doctor-summary", Static).update("Applying the fix…")
                self.apply_fixes([c.id for c in checks])

        self.app.push_screen(
            ConfirmModal(
                title,
                "This will change your AWS account:\n" + body,
                detail=fix_document(checks) or None,
                confirm="Apply",
            ),
            decided,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor-fix", name="doctor fix")
    def apply_fixes(self, check_ids: list[str]) -> None:
        from yunpipe_tui import doctor

        results = [doctor.apply_fix(self.wizard.aws, check_id) for check_id in check_ids]
        self.post_message(FixApplied(check_ids, results))

    @on(FixApplied)
    def fix_applied(self, message: FixApplied) -> None:
        self.fixing = False
        for line in message.results:
            self.notify(line, title="Fixed")
        self.action_rerun()

    @on(Button.Pressed, "#fix")
    def fix_pressed(self) -> None:
        self.action_fix_selected()

    @on(Button.Pressed, "#fix-all")
    def fix_all_pressed(self) -> None:
        self.action_fix_all()

    @on(Button.Pressed, "#rerun")
    def rerun_pressed(self) -> None:
        self.action_rerun()
