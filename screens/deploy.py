"""The Deploy screen: the plan (create / update / keep for every resource) and a confirmation;
then a live Tree (pipeline → group → resource, each with a spinner, ✓ or ✗, its elapsed time and
the failure reason under a failed node), a log panel, a safe cancel, retry or tear down after a
failure, and the way to the monitor after success.

The deploy engine runs in a thread worker and reports through its event interface
(`yunpipe_tui.deploy.events`): the sink posts each Event as a message (post_message is thread-safe),
and the handler on the main thread updates the tree and the log. Cancel sets the
`threading.Event` the engine checks before each resource: work in flight finishes, then it stops.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, Footer, Header, Input, RichLog, Static, Tree
from textual.widgets.tree import TreeNode
from textual.worker import Worker

from yunpipe_tui.deploy import events as ev
from yunpipe_tui.screens._base import YunpipeScreen
from yunpipe_tui.screens.monitor_widgets import ScreenActions

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.deploy.plan import Plan

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ACTION_MARKS = {"create": ("+", "green"), "update": ("~", "yellow"), "keep": ("=", "dim")}
WORDS = {"create": "created", "update": "updated", "delete": "deleted", "keep": "kept"}

# Phases of the screen.
CHOOSE, PLANNING, PLANNED, DEPLOYING, DONE, FAILED, CANCELLED, ROLLING_BACK, ROLLED_BACK = (
    "choose",
    "planning",
    "planned",
    "deploying",
    "done",
    "failed",
    "cancelled",
    "rolling-back",
    "rolled-back",
)
BUSY = (PLANNING, DEPLOYING, ROLLING_BACK)


# --- messages (screen-local: only this screen posts and handles them) -------------------------


@dataclass
class PlanReady(Message):
    plan: Any
    actions: dict[str, str]
    problems: list[str]
    ctx: Any = None


@dataclass
class DeployEvent(Message):
    """One engine event, posted from the engine's threads."""

    event: ev.Event


@dataclass
class DeployFinished(Message):
    outcome: str  # done | failed | cancelled
    created: list[str] = field(default_factory=list)
    error: str = ""
    elapsed: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RollbackFinished(Message):
    deleted: int
    kept_buckets: list[str]
    error: str = ""


# --- the tree's model (pure) ------------------------------------------------------------------


@dataclass
class NodeState:
    key: str
    label: str
    group: str
    action: str = ""  # planned action: create / update / keep
    status: str = ""  # last event status ("" = not started)
    done_action: str = ""  # what the engine did: create / update / delete / keep
    elapsed: float = 0.0
    message: str = ""
    started: float = 0.0  # monotonic time of STARTED, for the running clock


def resource_label(state: NodeState, frame: int = 0, now: float | None = None) -> Text:
    """The tree label of one resource in its current state."""
    text = Text()
    if state.status == "":
        mark, style = ACTION_MARKS.get(state.action, ("·", "dim"))
        text.append(f"{mark} ", style=style)
        text.append(state.label)
        if state.action:
            text.append(f"  {state.action}", style=style)
        return text
    if state.status == ev.STARTED:
        running = (now if now is not None else time.monotonic()) - state.started
        text.append(f"{SPINNER[frame % len(SPINNER)]} ", style="yellow")
        text.append(state.label)
        text.append(f"  {running:.1f}s", style="yellow")
        return text
    if state.status in (ev.DONE, ev.KEPT):
        deleted = state.done_action == "delete"
        text.append("⌫ " if deleted else "✓ ", style="dim" if deleted else "bold green")
        text.append(state.label)
        word = "kept" if state.status == ev.KEPT else WORDS.get(state.done_action, "")
        text.append(f"  {word} {state.elapsed:.1f}s", style="dim")
        return text
    if state.status == ev.FAILED:
        text.append("✗ ", style="bold red")
        text.append(state.label, style="red")
        if state.elapsed:
            text.append(f"  {state.elapsed:.1f}s", style="dim")
        return text
    text.append("– ", style="dim")
    text.append(state.label, style="dim")
    if state.message:
        text.append(f"  {state.message}", style="dim")
    return text


def group_mark(states: list[NodeState], frame: int = 0) -> tuple[str, str]:
    """(mark, style) of a group or the whole pipeline from its resources' states."""
    statuses = {s.status for s in states}
    if ev.FAILED in statuses:
        return "✗", "bold red"
    if ev.STARTED in statuses:
        return SPINNER[frame % len(SPINNER)], "yellow"
    if states and statuses <= {ev.DONE, ev.KEPT}:
        return "✓", "bold green"
    if ev.SKIPPED in statuses and statuses <= {ev.DONE, ev.KEPT, ev.SKIPPED}:
        return "–", "dim"
    return "·", "dim"


def plan_counts(actions: dict[str, str]) -> dict[str, int]:
    return {a: sum(1 for v in actions.values() if v == a) for a in ("create", "update", "keep")}


# --- the screen -------------------------------------------------------------------------------


class DeployScreen(YunpipeScreen):
    # Below 100 columns the log panel is hidden (l shows it) so the tree keeps its width.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [
        (0, "-narrow"),
        (100, "-wide"),
    ]
    HELP_TITLE = "Deploy"
    COMMANDS: ClassVar[set[Any]] = {ScreenActions}
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Deploy: deploy the plan", "Create/update the planned resources", "deploy"),
        ("Deploy: cancel safely", "Finish what is in flight, start nothing new", "cancel_deploy"),
        ("Deploy: retry", "Run the deploy again (it converges)", "retry"),
        ("Deploy: tear down this run", "Remove what this run created", "rollback"),
        ("Deploy: open the monitor", "Watch the deployed pipeline", "monitor"),
    ]
    HELP = (
        "Plan a workflow file: every resource with create / update / keep. Deploy asks for a "
        "confirmation, then shows each resource as it is made (spinner, ✓ or ✗ with the reason "
        "underneath) and a log. c cancels safely: what is in flight finishes, nothing new starts, "
        "the journal stays consistent. After a failure: r retries (deploy converges), x tears "
        "down what this run created. After success: m opens the monitor."
    )
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+d", "deploy", "Deploy", id="deploy.deploy"),
        Binding("c", "cancel_deploy", "Cancel deploy", id="deploy.cancel"),
        Binding("r", "retry", "Retry", id="deploy.retry"),
        Binding("x", "rollback", "Tear down run", id="deploy.rollback"),
        Binding("m", "monitor", "Monitor", id="deploy.monitor"),
        Binding("l", "toggle_log", "Log", id="deploy.log"),
    ]

    def __init__(
        self,
        workflow_path: str | None = None,
        *,
        plan: Plan | None = None,
        actions: dict[str, str] | None = None,
        problems: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.workflow_path = workflow_path
        self.plan: Plan | None = plan
        self.actions: dict[str, str] = dict(actions or {})
        self.problems: list[str] = list(problems or [])
        self.ctx: AwsContext | None = None
        self.phase = CHOOSE
        self.states: dict[str, NodeState] = {}
        self.nodes: dict[str, TreeNode[str]] = {}
        self.group_nodes: dict[str, TreeNode[str]] = {}
        self.reason_nodes: dict[str, TreeNode[str]] = {}
        self.created: list[str] = []
        self.cancel_event: threading.Event | None = None
        self.result_lines: list[str] = []
        self.events_seen: list[ev.Event] = []
        self.frame = 0
        self._spinner: Timer | None = None

    # --- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="deploy"):
            with Horizontal(id="deploy-source"):
                yield Input(
                    self.workflow_path or "",
                    placeholder="workflow file, e.g. workflow.json",
                    id="workflow-path",
                )
                yield Button("Plan", id="plan", variant="primary", compact=True)
            yield Static("", id="deploy-summary", markup=False)
            with Horizontal(id="deploy-body"):
                yield Tree("pipeline", id="deploy-tree")
                yield RichLog(
                    id="deploy-log", markup=False, wrap=True, max_lines=2000, min_width=20
                )
            with Horizontal(id="deploy-actions"):
                yield Button("Deploy", id="deploy-button", variant="success", compact=True)
                yield Button("Cancel deploy", id="cancel-button", variant="warning", compact=True)
                yield Button("Retry", id="retry-button", variant="primary", compact=True)
                yield Button(
                    "Tear down this run", id="rollback-button", variant="error", compact=True
                )
                yield Button("Open monitor", id="monitor-button", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Deploy"
        tree = self.query_one("#deploy-tree", Tree)
        tree.show_root = True
        tree.guide_depth = 3
        self.query_one("#deploy-log", RichLog).border_title = "Log"
        if self.plan is not None:
            self._show_plan()
        elif self.workflow_path:
            self._start_planning(self.workflow_path)
        else:
            self._set_phase(CHOOSE)
            self.query_one("#workflow-path", Input).focus()

    # --- phases ---------------------------------------------------------------------------
    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        shown = {
            "deploy-button": phase == PLANNED and not self.problems,
            "cancel-button": phase == DEPLOYING,
            "retry-button": phase in (FAILED, CANCELLED),
            "rollback-button": phase in (FAILED, CANCELLED) and bool(self.created),
            "monitor-button": phase == DONE,
        }
        for button_id, visible in shown.items():
            self.query_one(f"#{button_id}", Button).display = visible
        self.query_one("#deploy-source").display = phase in (CHOOSE, PLANNING, PLANNED)
        self._update_summary()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = {
            "deploy": self.phase == PLANNED and not self.problems,
            "cancel_deploy": self.phase == DEPLOYING,
            "retry": self.phase in (FAILED, CANCELLED),
            "rollback": self.phase in (FAILED, CANCELLED) and bool(self.created),
            "monitor": self.phase == DONE,
        }
        return allowed.get(action, True)

    def _update_summary(self) -> None:
        lines: list[str] = []
        plan = self.plan
        if self.phase == CHOOSE:
            lines.append("Type the path of a workflow file and press Plan (enter).")
        elif self.phase == PLANNING:
            lines.append(f"Planning {self.workflow_path}: reading the account and what exists…")
        elif plan is not None:
            c = plan_counts(self.actions)
            lines.append(
                f"Pipeline {plan.pipeline} · {plan.facts.region} · account "
                f"{plan.facts.account_id}: {c['create']} to create, {c['update']} to update, "
                f"{c['keep']} to keep"
            )
            if self.phase == PLANNED:
                if self.problems:
                    lines += [f"✗ {p}" for p in self.problems]
                    lines.append("Fix these first (the doctor fixes missing roles), then re-plan.")
                else:
                    lines.append(
                        "Press ctrl+d (or Deploy) to deploy; you will be asked to confirm."
                    )
            elif self.phase == DEPLOYING:
                if self.cancel_event is not None and self.cancel_event.is_set():
                    lines.append("Cancelling: letting the resources in flight finish…")
                else:
                    lines.append("Deploying… c cancels safely (work in flight finishes first).")
        lines += self.result_lines
        self.query_one("#deploy-summary", Static).update("\n".join(lines))

    # --- planning -------------------------------------------------------------------------
    def _start_planning(self, path: str) -> None:
        self.workflow_path = path
        self.plan = None
        self.result_lines = []
        self._set_phase(PLANNING)
        self._plan(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="deploy-plan")
    def _plan(self, path: str) -> None:
        from yunpipe_tui.catalog import default_catalog
        from yunpipe_tui.deploy.prepare import prepare

        catalog = default_catalog()
        aws = self.app.aws  # type: ignore[attr-defined]
        prepared = prepare(path, aws, catalog)
        self.post_message(
            PlanReady(prepared.plan, prepared.actions, prepared.problems, prepared.ctx)
        )

    @on(PlanReady)
    def _plan_ready(self, message: PlanReady) -> None:
        self.plan = message.plan
        self.actions = dict(message.actions)
        self.problems = list(message.problems)
        self.ctx = message.ctx
        self._show_plan()

    def _show_plan(self) -> None:
        plan = self.plan
        assert plan is not None
        self.states = {
            r.key: NodeState(r.key, r.label, r.group, action=self.actions.get(r.key, ""))
            for r in plan.resources
        }
        self._build_tree()
        self._set_phase(PLANNED)
        if not self.problems:
            self.query_one("#deploy-button", Button).focus()

    def _build_tree(self) -> None:
        plan = self.plan
        assert plan is not None
        tree = self.query_one("#deploy-tree", Tree)
        tree.clear()
        tree.root.data = ""
        self.nodes.clear()
        self.group_nodes.clear()
        self.reason_nodes.clear()
        for group in plan.groups():
            self.group_nodes[group] = tree.root.add(group, data=f"group:{group}", expand=True)
        for key, state in self.states.items():
            parent = self.group_nodes.get(state.group) or self._add_group(state.group)
            self.nodes[key] = parent.add_leaf(resource_label(state), data=key)
        tree.root.expand()
        self._relabel_groups()

    def _add_group(self, group: str) -> TreeNode[str]:
        tree = self.query_one("#deploy-tree", Tree)
        node = tree.root.add(group or "other", data=f"group:{group}", expand=True)
        self.group_nodes[group] = node
        return node

    def _relabel_groups(self) -> None:
        tree = self.query_one("#deploy-tree", Tree)
        for group, node in self.group_nodes.items():
            states = [s for s in self.states.values() if s.group == group]
            mark, style = group_mark(states, self.frame)
            node.set_label(Text.assemble((f"{mark} ", style), (group, "bold")))
        if self.plan is not None:
            mark, style = group_mark(list(self.states.values()), self.frame)
            tree.root.set_label(
                Text.assemble(
                    (f"{mark} ", style), ("pipeline ", "bold"), (self.plan.pipeline, "bold cyan")
                )
            )

    # --- deploying ------------------------------------------------------------------------
    def action_deploy(self) -> None:
        if self.phase != PLANNED or self.plan is None or self.problems:
            return
        from yunpipe_tui.screens.widgets import ConfirmModal

        c = plan_counts(self.actions)
        plan = self.plan

        def decided(ok: bool | None) -> None:
            if ok:
                self._start_deploy()

        self.app.push_screen(
            ConfirmModal(
                f"Deploy pipeline {plan.pipeline}?",
                f"In account {plan.facts.account_id}, region {plan.facts.region}: "
                f"{c['create']} resource(s) will be created, {c['update']} updated and "
                f"{c['keep']} kept as they are. Buckets and their objects are never deleted "
                "by a deploy.",
                confirm="Deploy",
            ),
            decided,
        )

    def _start_deploy(self) -> None:
        assert self.plan is not None
        for state in self.states.values():
            state.status, state.done_action, state.message, state.elapsed = "", "", "", 0.0
        for node in self.reason_nodes.values():
            node.remove()
        self.reason_nodes.clear()
        for key, node in self.nodes.items():
            node.set_label(resource_label(self.states[key]))
        self.created = []
        self.result_lines = []
        self.cancel_event = threading.Event()
        self._set_phase(DEPLOYING)
        self._start_spinner()
        self._log(f"== deploy {self.plan.pipeline}")
        self._deploy(self.plan, self.ctx or self.app.aws, self.cancel_event)  # type: ignore[attr-defined]

    def _sink(self, event: ev.Event) -> None:
        """The engine's sink: called from its threads; post_message is thread-safe."""
        self.post_message(DeployEvent(event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="deploy-run")
    def _deploy(self, plan: Plan, ctx: AwsContext, cancel: threading.Event) -> None:
        from yunpipe_tui import deploy as engine

        try:
            result = engine.deploy(plan, ctx, self._sink, cancel=cancel)
        except engine.DeployCancelled as exc:
            self.post_message(DeployFinished(CANCELLED, created=exc.created, error=str(exc)))
            return
        except engine.DeployError as exc:
            self.post_message(DeployFinished(FAILED, created=exc.created, error=str(exc)))
            return
        counts = {a: result.count(a) for a in ("create", "update", "keep")}
        self.post_message(
            DeployFinished(DONE, elapsed=result.elapsed, counts=counts, warnings=result.warnings)
        )

    @on(DeployEvent)
    def _on_deploy_event(self, message: DeployEvent) -> None:
        self.apply_event(message.event)

    def apply_event(self, event: ev.Event) -> None:
        """Show one engine event: the resource's node, its group's mark, the log."""
        self.events_seen.append(event)
        line = _describe(event)
        if line:
            self._log(line)
        if not event.key:
            return
        state = self.states.get(event.key)
        if state is None:  # teardown may report resources the plan did not list
            from yunpipe_tui.deploy.progress import _label

            state = NodeState(event.key, _label(event), event.group)
            self.states[event.key] = state
            group = self.group_nodes.get(state.group) or self._add_group(state.group)
            self.nodes[event.key] = group.add_leaf(resource_label(state), data=event.key)
        state.status = event.status
        state.message = event.message
        if event.status == ev.STARTED:
            state.started = time.monotonic()
        else:
            state.elapsed = event.elapsed
            state.done_action = event.action
        node = self.nodes[event.key]
        node.set_label(resource_label(state, self.frame))
        reason = self.reason_nodes.pop(event.key, None)
        if reason is not None:
            reason.remove()
        if event.status == ev.FAILED:
            self.reason_nodes[event.key] = node.add_leaf(
                Text(event.message or "failed", style="red"), data=f"reason:{event.key}"
            )
            node.allow_expand = True
            node.expand()
            self.query_one("#deploy-tree", Tree).move_cursor(node)
        self._relabel_groups()

    @on(DeployFinished)
    def _deploy_finished(self, message: DeployFinished) -> None:
        self._stop_spinner()
        plan = self.plan
        assert plan is not None
        self.created = list(message.created)
        if message.outcome == DONE:
            c = message.counts
            self.result_lines = [
                f"✓ Pipeline {plan.pipeline} deployed in {message.elapsed:.1f}s: "
                f"{c.get('create', 0)} created, {c.get('update', 0)} updated, "
                f"{c.get('keep', 0)} kept",
                *(f"! {w}" for w in message.warnings),
                f"You can start upload files at {plan.workflow.input_bucket}",
                f"You will get your result at {plan.workflow.output_bucket}",
                "Press m to watch it in the monitor.",
            ]
            self.wizard.pipeline = plan.pipeline
            self._set_phase(DONE)
            self.query_one("#monitor-button", Button).focus()
        else:
            what = "cancelled" if message.outcome == CANCELLED else "failed"
            self.result_lines = [f"✗ Deploy {what}: {message.error}"]
            if self.created:
                self.result_lines.append(
                    f"This run created {len(self.created)} resource(s): r retries (deploy "
                    "converges), x tears them down. The journal keeps them either way."
                )
            else:
                self.result_lines.append("This run created nothing. r retries.")
            self._set_phase(message.outcome)
        self._log(self.result_lines[0])

    def worker_failure(self, worker: Worker[Any], line: str) -> None:
        """An error outside the engine's own reporting (a bad file, no credentials, …)."""
        self._stop_spinner()
        error = str(worker.error) if worker.error is not None else line
        from yunpipe_tui.errors import YunpipeError

        if not isinstance(worker.error, YunpipeError):
            error = line
        if worker.group == "deploy-plan":
            self.result_lines = [f"✗ {x}" for x in error.splitlines()[:8]]
            self._set_phase(CHOOSE)
        elif worker.group == "deploy-run":
            self.result_lines = [f"✗ Deploy failed: {line}"]
            self._set_phase(FAILED)
        elif worker.group == "deploy-rollback":
            self.result_lines = [f"✗ Teardown failed: {line}", "Run `yunpipe teardown` later."]
            self._set_phase(FAILED)
        self._log(f"error: {line}")

    def action_cancel_deploy(self) -> None:
        if self.phase == DEPLOYING and self.cancel_event is not None:
            self.cancel_event.set()
            self._log("cancel requested: letting the resources in flight finish")
            self._update_summary()

    def action_retry(self) -> None:
        if self.phase in (FAILED, CANCELLED) and self.plan is not None:
            self._start_deploy()

    def action_rollback(self) -> None:
        if self.phase not in (FAILED, CANCELLED) or not self.created or self.plan is None:
            return
        from yunpipe_tui.screens.widgets import ConfirmModal

        def decided(ok: bool | None) -> None:
            if ok:
                self._set_phase(ROLLING_BACK)
                self._start_spinner()
                self._log("== tear down what this run created")
                self._rollback(self.plan, list(self.created), self.ctx or self.app.aws)  # type: ignore[attr-defined]

        self.app.push_screen(
            ConfirmModal(
                "Tear down what this run created?",
                f"{len(self.created)} resource(s) created by this run are deleted in reverse "
                "order. Buckets are deleted only when empty; objects are never deleted.",
                confirm="Tear down",
                danger=True,
            ),
            decided,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="deploy-rollback")
    def _rollback(self, plan: Plan, created: list[str], ctx: AwsContext) -> None:
        from yunpipe_tui.deploy import teardown as td

        result = td.rollback(plan.pipeline, created, ctx, self._sink)
        self.post_message(RollbackFinished(len(result.deleted), list(result.kept_buckets)))

    @on(RollbackFinished)
    def _rollback_finished(self, message: RollbackFinished) -> None:
        self._stop_spinner()
        self.created = []
        self.result_lines = [f"Torn down: {message.deleted} resource(s) removed."]
        if message.kept_buckets:
            self.result_lines.append(f"Kept (not empty): {', '.join(message.kept_buckets)}")
        self.result_lines.append("Re-plan to deploy again.")
        self._set_phase(ROLLED_BACK)
        self.query_one("#deploy-source").display = True
        self._log(self.result_lines[0])

    def action_monitor(self) -> None:
        if self.phase == DONE and self.plan is not None:
            self.wizard.open_screen("monitor", pipeline=self.plan.pipeline)

    def action_toggle_log(self) -> None:
        log = self.query_one("#deploy-log", RichLog)
        log.display = not log.display

    def action_back(self) -> None:
        if self.phase in BUSY and self.phase != PLANNING:
            self.notify("Deploy in progress: press c to cancel it first.", severity="warning")
            return
        super().action_back()

    # --- inputs ---------------------------------------------------------------------------
    @on(Input.Submitted, "#workflow-path")
    @on(Button.Pressed, "#plan")
    def _plan_pressed(self) -> None:
        path = self.query_one("#workflow-path", Input).value.strip()
        if not path:
            self.result_lines = ["✗ Type the path of a workflow file first."]
            self._update_summary()
            return
        if self.phase not in BUSY:
            self._start_planning(path)

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        handlers = {
            "deploy-button": self.action_deploy,
            "cancel-button": self.action_cancel_deploy,
            "retry-button": self.action_retry,
            "rollback-button": self.action_rollback,
            "monitor-button": self.action_monitor,
        }
        handler = handlers.get(event.button.id or "")
        if handler is not None:
            event.stop()
            handler()

    # --- spinner and log ------------------------------------------------------------------
    def _start_spinner(self) -> None:
        if self._spinner is None:
            self._spinner = self.set_interval(0.1, self._tick)

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    def _tick(self) -> None:
        self.frame += 1
        now = time.monotonic()
        for key, state in self.states.items():
            if state.status == ev.STARTED:
                self.nodes[key].set_label(resource_label(state, self.frame, now))
        self._relabel_groups()

    def _log(self, line: str) -> None:
        self.query_one("#deploy-log", RichLog).write(line)


def _describe(event: ev.Event) -> str | None:
    from yunpipe_tui.deploy.progress import describe

    return describe(event)
