"""Pieces the Monitor and Deploy screens use: diffing a DataTable by row key, a path modal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Static

from yunpipe_tui.screens.widgets import InputDialog


def sync_rows(table: DataTable[Any], rows: Mapping[str, Sequence[Any]]) -> tuple[int, int, int]:
    """Make `table` show `rows` (row key → cells, in column order) by diff.

    Rows that vanished are removed, changed cells updated in place, new rows added at the end,
    so the cursor, the selection and the scroll position stay where the user left them. Call it
    inside `app.batch_update()`. Returns (added, updated cells, removed).
    """
    columns = list(table.columns)
    removed = 0
    for gone in [k for k in table.rows if k.value not in rows]:
        table.remove_row(gone)
        removed += 1
    added = updated = 0
    for key, cells in rows.items():
        if key in table.rows:
            for column, value in zip(columns, cells, strict=False):
                if table.get_cell(key, column) != value:
                    table.update_cell(key, column, value, update_width=True)
                    updated += 1
        else:
            table.add_row(*cells, key=key)
            added += 1
    return added, updated, removed


def cursor_key(table: DataTable[Any]) -> str | None:
    """The row key under the cursor, or None for an empty table."""
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # the cursor is past the last row for a moment after removals
        return None


class PathModal(InputDialog):
    """Ask for a local file path (upload); dismisses with the path or None."""

    def __init__(
        self, title: str, body: str, *, placeholder: str = "path/to/file", value: str = ""
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body", markup=False)
            yield Input(self.value, placeholder=self.placeholder, id="path")
            yield Label("", id="path-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Upload", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def accept(self) -> str | None:
        value = self.query_one("#path", Input).value.strip()
        if not value:
            self.query_one("#path-error", Label).update("Type the path of a local file.")
            return None
        return value


class ScreenActions(Provider):
    """The command palette's entries for the calling screen's main actions.

    A screen lists them in `PALETTE = [(title, help, action_name), ...]`; entries whose action
    is not allowed right now (`check_action` says False) are left out.
    """

    def _entries(self) -> list[tuple[str, str, Any]]:
        screen = self.screen
        out = []
        for title, help_text, action in getattr(screen, "PALETTE", ()):
            allowed = screen.check_action(action, ())
            if allowed is False:
                continue
            out.append((title, help_text, partial(screen.run_action, action)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
