"""Widgets and modals shared by the wizard's screens."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-", "running": "…", "unknown": "?"}


def status_of(check: Any) -> str:
    """'ok' / 'warn' / 'fail' / 'skip' from a doctor CheckResult (enum or string status)."""
    raw = getattr(check, "status", "unknown")
    value = str(getattr(raw, "value", raw)).lower()
    if value in ("ok", "pass", "passed", "success"):
        return "ok"
    if value in ("warn", "warning"):
        return "warn"
    if value in ("fail", "failed", "error"):
        return "fail"
    if value in ("skip", "skipped"):
        return "skip"
    return "unknown"


def mark(status: str) -> str:
    """The ✓ / ! / ✗ of a status as Textual markup with theme colours."""
    style = {"ok": "$success", "warn": "$warning", "fail": "$error"}.get(status, "$text-muted")
    return f"[bold {style}]{MARKS.get(status, '?')}[/]"


def mark_cell(status: str, app: Any) -> Text:
    """The mark as a Rich Text for tables (which take Rich markup, not theme variables);
    the colour comes from the app's theme, so theme changes and NO_COLOR still apply."""
    key = {"ok": "success", "warn": "warning", "fail": "error"}.get(status, "foreground")
    colour = app.theme_variables.get(key, "")
    return Text(MARKS.get(status, "?"), style=f"bold {colour}".strip())


def credentials_failing(checks: Iterable[Any] | None) -> bool:
    """The doctor's credentials check failed: the way forward is the Credentials screen (c),
    not a fix the doctor can apply."""
    return any(
        getattr(c, "id", "") == "credentials" and status_of(c) == "fail" for c in checks or ()
    )


def summarize_checks(checks: Iterable[Any]) -> str:
    counts = {"ok": 0, "warn": 0, "fail": 0, "skip": 0}
    for check in checks:
        status = status_of(check)
        if status in counts:
            counts[status] += 1
    parts = []  # worst first
    if counts["fail"]:
        parts.append(f"✗ {counts['fail']} failing")
    if counts["warn"]:
        parts.append(f"! {counts['warn']} warning{'s' if counts['warn'] != 1 else ''}")
    if counts["ok"] or not parts:
        parts.append(f"✓ {counts['ok']} ok")
    if counts["skip"]:
        parts.append(f"- {counts['skip']} skipped")
    return " · ".join(parts)


def json_view(text: str) -> Content:
    """Highlighted JSON in the app theme's colours (Pygments underneath; no tree-sitter)."""
    return highlight(text, language="json")


class ConfirmModal(ModalScreen[bool]):
    """Ask before doing something; shows exactly what will happen (e.g. a policy's JSON)."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "cancel", "Cancel", id="modal.cancel"),
        Binding("y", "confirm", "Confirm", id="modal.confirm", show=False),
        # what is being approved scrolls with the keys too (focus stays on the buttons)
        Binding("down,j", "scroll('down')", "Scroll down", id="modal.down", show=False),
        Binding("up,k", "scroll('up')", "Scroll up", id="modal.up", show=False),
        Binding("pagedown", "scroll('page_down')", "Page down", id="modal.pgdn", show=False),
        Binding("pageup", "scroll('page_up')", "Page up", id="modal.pgup", show=False),
        Binding("end", "scroll('end')", "End", id="modal.end", show=False),
        Binding("home", "scroll('home')", "Start", id="modal.home", show=False),
    ]

    def __init__(
        self,
        title: str,
        body: str = "",
        *,
        detail: str | None = None,
        confirm: str = "Confirm",
        danger: bool = False,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.detail = detail
        self.confirm_label = confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            if self.detail:
                # everything being approved in one scroll: every fix, every line of the policy
                with VerticalScroll(classes="dialog-scroll", id="approve"):
                    if self.body:
                        yield Static(self.body, classes="dialog-scroll-body", markup=False)
                    yield Static(json_view(self.detail), id="detail", classes="dialog-json")
                yield Label(
                    "↑↓ PgUp PgDn End: scroll · y: confirm · escape: cancel",
                    classes="dialog-hint muted",
                )
            elif self.body:
                yield Static(self.body, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    self.confirm_label,
                    id="confirm",
                    variant="error" if self.danger else "primary",
                    compact=True,
                )
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#cancel" if self.danger else "#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_scroll(self, where: str) -> None:
        if not self.detail:
            return
        area = self.query_one("#approve", VerticalScroll)
        {
            "down": area.scroll_down,
            "up": area.scroll_up,
            "page_down": area.scroll_page_down,
            "page_up": area.scroll_page_up,
            "end": area.scroll_end,
            "home": area.scroll_home,
        }[where](animate=False)


class ErrorModal(ModalScreen[None]):
    """A failure that needs reading (several lines), dismissed with enter or escape."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "close", "Close", id="modal.close"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog error"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            with VerticalScroll(classes="dialog-detail"):
                yield Static(self.message, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class InputDialog(ModalScreen[str | None]):
    """A dialog around one or more Inputs: enter or OK submits what `accept` approves, escape or
    Cancel dismisses with None. Subclasses compose the fields and say what is acceptable."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "cancel", "Cancel", id="modal.cancel"),
    ]

    def accept(self) -> str | None:
        """The value to dismiss with, or None after showing why it is not acceptable."""
        raise NotImplementedError

    def _submit(self) -> None:
        value = self.accept()
        if value is not None:
            self.dismiss(value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PassphraseModal(InputDialog):
    """The encrypted-file keyring's passphrase, typed into a password Input (never a prompt)."""

    def __init__(self, prompt: str, *, confirm_twice: bool = False) -> None:
        super().__init__()
        self.prompt = prompt
        self.confirm_twice = confirm_twice

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label("Keyring passphrase", classes="dialog-title")
            yield Static(self.prompt, classes="dialog-body", markup=False)
            yield Input(password=True, placeholder="passphrase", id="passphrase")
            if self.confirm_twice:
                yield Input(password=True, placeholder="again", id="again")
            yield Label("", id="passphrase-error", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="ok", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#passphrase", Input).focus()

    def accept(self) -> str | None:
        value = self.query_one("#passphrase", Input).value
        error = self.query_one("#passphrase-error", Label)
        if not value:
            error.update("Type the passphrase (it is never stored).")
            return None
        if self.confirm_twice and value != self.query_one("#again", Input).value:
            error.update("The two passphrases differ.")
            return None
        return value
