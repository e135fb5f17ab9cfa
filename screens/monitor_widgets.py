"""Pieces the Monitor and Deploy screens use: diffing a DataTable by row key, a path modal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static


def sync_rows(table: DataTable[Any], rows: Mapping[str, Sequence[Any]]) -> tuple[int, int, int]:
    """Make `table` show `rows` (row key → cells, in column order) by diff.

    Rows that vanished are removed, changed cells updated in place, new rows added at the end,
    so the cursor, the selection and the scroll position stay where the user left them. Call it
    inside `app.batch_update()`. Returns (added, updated cells, removed).
    """
    columns = list(table.columns)
    removed = 0
    for key in [k for k in table.rows if k.value not in rows]:
        table.remove_row(key)
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


class PathModal(ModalScreen[str | None]):
    """Ask for a local file path (upload); dismisses with the path or None."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, title: str, body: str, *, placeholder: str = "path/to/file") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body", markup=False)
            yield Input(placeholder=self.placeholder, id="path")
            yield Label("", id="path-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Upload", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def _submit(self) -> None:
        value = self.query_one("#path", Input).value.strip()
        if not value:
            self.query_one("#path-error", Label).update("Type the path of a local file.")
            return
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
