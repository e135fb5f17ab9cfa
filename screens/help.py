"""`?` or F1: the keys of the screen you came from, and what each screen is for."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

INTRO = (
    "yunpipe turns containerized algorithms into an AWS pipeline (S3 → SQS → Lambda → ECS) "
    "and shows it running. Go Home → Doctor → Credentials → Workflow → Deploy → Monitor. "
    "ctrl+p opens the command palette from anywhere; F1 (or ? outside a text field) opens "
    "this help."
)


def binding_rows(screen: Screen[Any]) -> list[tuple[str, str]]:
    """(key, description) for the bindings of `screen` itself and of the App, described ones
    only: a focused widget's own keys (a table's Page Left, ^home Top) are not the screen's."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if active.node is not screen and active.node is not screen.app:
            continue
        if not binding.description or binding.action in seen:
            continue
        if screen.check_action(binding.action.split("(")[0], ()) is False:
            continue  # hidden here (e.g. Back on Home)
        seen.add(binding.action)
        shown = binding.key_display or screen.app.get_key_display(binding)
        rows.append((shown or key, binding.description))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", id="help.close2", show=False),
    ]

    def __init__(self, target: Screen[Any]) -> None:
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        from yunpipe_tui.screens.routes import ROUTES, SCREEN_KEYS

        title = getattr(self.target, "HELP_TITLE", type(self.target).__name__)
        keys = "\n".join(
            f"[b]{escape(k):>10}[/]  {escape(d)}" for k, d in binding_rows(self.target)
        )
        screens = "\n".join(
            f"[b]{escape(SCREEN_KEYS.get(name, '') or '-'):>3}[/] {name.title():<12} {purpose}"
            for name, (_, _, purpose) in ROUTES.items()
        )
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(f"Help — {title}", classes="dialog-title")
            with VerticalScroll(classes="dialog-detail"):
                yield Static(INTRO, classes="help-intro", markup=False)
                doc = getattr(self.target, "HELP", "")
                if doc:
                    yield Static(doc, classes="help-intro", markup=False)
                yield Label("Keys here", classes="section-title")
                yield Static(keys or "(none)", id="help-keys")
                yield Label("Screens (keys on Home)", classes="section-title")
                yield Static(screens, id="help-screens", markup=True)

    def action_close(self) -> None:
        self.dismiss(None)
