"""A file picker: the folders under a start folder and the workflow files (*.json) in them.
Enter on a file chooses it; escape cancels."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Label


class JsonTree(DirectoryTree):
    """Folders (hidden ones left out) and `.json` files only."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p
            for p in paths
            if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() == ".json")
        ]


class OpenFileModal(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("backspace", "up", "Parent folder", id="picker.up"),
    ]

    def __init__(self, start: str | Path, title: str = "Open a workflow file") -> None:
        super().__init__()
        start = Path(start).expanduser()
        self.start = (start if start.is_dir() else start.parent).resolve()
        if not self.start.is_dir():
            self.start = Path.cwd()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog picker"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Label(str(self.start), id="picker-folder", classes="muted", markup=False)
            yield JsonTree(self.start, id="picker-tree")
            yield Label(
                "enter: open · backspace: parent folder · escape: cancel", classes="dialog-hint"
            )

    def on_mount(self) -> None:
        self.query_one(JsonTree).focus()

    @on(DirectoryTree.FileSelected)
    def chosen(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(str(event.path))

    def action_up(self) -> None:
        tree = self.query_one(JsonTree)
        parent = Path(tree.path).resolve().parent
        tree.path = parent
        self.query_one("#picker-folder", Label).update(str(parent))

    def action_cancel(self) -> None:
        self.dismiss(None)
