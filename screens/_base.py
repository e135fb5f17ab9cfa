"""What every wizard screen shares: a way back, and failed workers routed to the App."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from yunpipe_tui.app import YunpipeApp


class YunpipeScreen(Screen[Any]):
    """Base of the wizard's screens (tui-b's monitor and deploy screens may use it too).

    Worker.StateChanged does not bubble, so each screen forwards its failed workers to
    `YunpipeApp.worker_failed` (the one place that words and shows them), then lets the screen
    show the failure inline with `worker_failure(worker, line)`.
    """

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "back", "Back", id="screen.back"),
    ]

    @property
    def wizard(self) -> YunpipeApp:
        """The App as the wizard (screens run only inside `YunpipeApp`; no import of it here,
        so that the App can import its screens without a circle)."""
        return cast("YunpipeApp", self.app)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the bottom screen (Home) has nowhere to go back to
        return not (action == "back" and self.is_bottom)

    @property
    def is_bottom(self) -> bool:
        """True for the first screen the wizard shows (Home): nowhere to go back to."""
        stack = self.app.screen_stack
        return self not in stack or stack.index(self) <= 1

    def action_back(self) -> None:
        if self.app.screen is self and not self.is_bottom:
            self.app.pop_screen()

    def worker_failure(self, worker: Worker[Any], line: str) -> None:
        """Override to show a failure beside what it concerns (the notification is already out)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            line = self.wizard.worker_failed(event.worker)
            self.worker_failure(event.worker, line)
