"""Workflow: build, open and save a workflow file with live validation and a JSON preview.

The form is the state: every change rebuilds the workflow's JSON, runs the core's
`workflow_problems` on it (the same rules as `yunpipe validate`), puts each problem beside its
field and redraws the preview. Saving refuses a workflow with problems, so a saved file always
passes `yunpipe validate`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Header,
    Input,
    Label,
    OptionList,
    Select,
    Static,
    Switch,
)
from textual.worker import Worker

from yunpipe_tui.catalog import Algorithm, Catalog, Port
from yunpipe_tui.errors import InputError, Problem
from yunpipe_tui.jsonfile import LoadedJson, dump_json, load_json
from yunpipe_tui.name_rules import known_regions
from yunpipe_tui.sandbox_hints import explain, on_sandbox
from yunpipe_tui.screens._base import YunpipeScreen
from yunpipe_tui.screens.messages import AccountLoaded, CatalogLoaded, KeyPairsLoaded
from yunpipe_tui.screens.widgets import ConfirmModal, ErrorModal, json_view
from yunpipe_tui.workflow import (
    BACKENDS,
    BATCH,
    ECS,
    SEQUENCE_RUN,
    SINGLE_RUN,
    Compute,
    Step,
    Workflow,
    workflow_from_json,
    workflow_problems,
)

FORM_FILE = "<form>"
_STEP_PATH = re.compile(r"^process\.algorithms\[(\d+)\]")
# problem path prefix -> the error label beside that field
FIELD_ERRORS = {
    "name": "name",
    "input_s3_name": "input-bucket",
    "output_s3_name": "output-bucket",
    "region": "region",
    "key_pair": "key-pair",
    "account_id": "account",
    "process.type": "type",
    "compute": "compute",
}
TYPES = [("single_run", SINGLE_RUN), ("sequence_run", SEQUENCE_RUN)]
BACKEND_CHOICES = [(b, b) for b in BACKENDS]
NARROW = 110  # below this width the preview starts hidden (ctrl+t shows it)


class MemoryCatalog(Catalog):
    """The catalog as loaded once by a worker, so validating on every keystroke reads no files."""

    def __init__(self, algorithms: list[Algorithm]) -> None:
        super().__init__(folder=Path("/nonexistent"))
        self._by_name = {a.name: a for a in algorithms}

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def get(self, name: str) -> Algorithm | None:
        return self._by_name.get(name)


@dataclass
class StepDraft:
    algorithm: str
    variables: dict[str, str] = field(default_factory=dict)
    ports: list[Port] = field(default_factory=list)

    def to_step(self) -> Step:
        return Step(self.algorithm, dict(self.variables), tuple(self.ports))


def compute_section(backend: str, max_tasks: str, max_vcpus: str, spot: bool) -> dict[str, Any]:
    """The form's Compute row as the file's `compute` section; text that is not a whole number
    stays text, so validation names the field."""

    def number(text: str) -> int | str:
        return int(text) if re.fullmatch(r"-?\d{1,7}", text) else text

    return {
        "backend": backend,
        "max_tasks": number(max_tasks),
        "max_vcpus": number(max_vcpus),
        "spot": spot,
    }


def workflow_data(
    *,
    name: str,
    input_bucket: str,
    output_bucket: str,
    region: str,
    key_pair: str,
    kind: str,
    steps: list[StepDraft],
    account_id: str = "",
    compute: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON a workflow file holds, via the core's own `Workflow.to_json`; the `compute`
    section only when it differs from the defaults (as the core writes it)."""
    data = Workflow(
        name=name,
        input_bucket=input_bucket,
        output_bucket=output_bucket,
        type=kind,
        steps=tuple(s.to_step() for s in steps),
        key_pair=key_pair,
        account_id=account_id,
        region=region,
    ).to_json()
    if not name:
        del data["name"]  # the file's stem names the pipeline, as for the seed's files
    if compute is not None and compute != Compute().to_json():
        process = data.pop("process")
        data["compute"] = compute
        data["process"] = process
    return data


def field_for(problem: Problem) -> str:
    for prefix, target in FIELD_ERRORS.items():
        if problem.path == prefix or problem.path.startswith(prefix + "."):
            return target
    if problem.path.startswith("process"):
        return "steps"
    return "general"


def step_index(problem: Problem) -> int | None:
    match = _STEP_PATH.match(problem.path)
    return int(match.group(1)) if match else None


class WorkflowScreen(YunpipeScreen):
    HELP_TITLE = "Workflow"
    HELP = (
        "Build a workflow: buckets, region, key pair, and the algorithms it runs (from the "
        "local catalog; register more with `yunpipe wrap`). Problems appear beside their field "
        "as you type; a workflow with problems cannot be saved. The preview shows the file."
    )
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+s", "save", "Save", id="workflow.save"),
        Binding("ctrl+o", "open", "Open", id="workflow.open"),
        Binding("ctrl+n", "new", "New", id="workflow.new"),
        Binding("ctrl+t", "toggle_preview", "Preview", id="workflow.preview"),
        Binding("ctrl+up", "move_step(-1)", "Step up", id="workflow.step_up", show=False),
        Binding("ctrl+down", "move_step(1)", "Step down", id="workflow.step_down", show=False),
    ]

    def __init__(self, workflow_path: str | None = None) -> None:
        super().__init__()
        self.initial_path = workflow_path
        self.steps: list[StepDraft] = []
        self.selected: int | None = None
        self.catalog: MemoryCatalog | None = None
        self.saved_text = ""
        self.problems: list[Problem] = []
        self.show_all_errors = False
        self.key_pairs: list[str] = []
        self.wanted_key_pair = ""
        self._loading = False

    # --- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        regions = sorted(known_regions())
        yield Header()
        with Horizontal(id="file-row"):
            yield Input(placeholder="path/to/workflow.json", id="path", compact=True)
            yield Button("Open", id="open", compact=True)
            yield Button("Save", id="save", variant="primary", compact=True)
            yield Button("Deploy…", id="deploy", compact=True)
        with Horizontal(id="workflow-main"):
            with VerticalScroll(id="form"):
                yield from self._field(
                    "Name", Input(placeholder="(file name)", id="name", compact=True), "name"
                )
                yield from self._field(
                    "Input bucket",
                    Input(placeholder="my-input-bucket", id="input-bucket", compact=True),
                    "input-bucket",
                )
                yield from self._field(
                    "Output bucket",
                    Input(placeholder="my-output-bucket", id="output-bucket", compact=True),
                    "output-bucket",
                )
                yield from self._field(
                    "Region",
                    Select(
                        [(r, r) for r in regions],
                        prompt="(session default)",
                        id="region",
                        compact=True,
                    ),
                    "region",
                )
                yield from self._field(
                    "Key pair",
                    Select([], prompt="(none)", id="key-pair", compact=True),
                    "key-pair",
                    note=True,
                )
                yield from self._field(
                    "Account",
                    Input(placeholder="(optional) 12-digit account id", id="account", compact=True),
                    "account",
                    button=Button("Mine", id="use-my-account", compact=True),
                )
                yield from self._field(
                    "Type",
                    Select(TYPES, allow_blank=False, value=SINGLE_RUN, id="type", compact=True),
                    "type",
                )
                yield from self._compute_row()
                yield Label("Steps", classes="section-title")
                with Horizontal(classes="field"):
                    yield Select([], prompt="pick an algorithm", id="add-algorithm", compact=True)
                    yield Button("Add", id="add-step", compact=True)
                yield OptionList(id="steps")
                with Horizontal(classes="button-row", id="step-buttons"):
                    yield Button("Remove", id="remove-step", compact=True)
                    yield Button("Up", id="step-up", compact=True)
                    yield Button("Down", id="step-down", compact=True)
                yield Label("", id="steps-error", classes="field-error", markup=False)
                step_form = Vertical(id="step-form")
                step_form.border_title = "Step"
                yield step_form
                yield Label("Problems", classes="section-title")
                yield Static("", id="problems", markup=False)
            with VerticalScroll(id="preview-box") as preview:
                preview.border_title = "Preview"
                yield Static("", id="preview")
        yield Footer()

    @staticmethod
    def _field(
        label: str, widget: Any, key: str, note: bool = False, button: Button | None = None
    ) -> ComposeResult:
        with Vertical(classes="field-box"):
            with Horizontal(classes="field"):
                yield Label(label)
                yield widget
                if button is not None:
                    yield button
            if note:
                yield Label("", id=f"{key}-status", classes="field-note", markup=False)
            yield Label("", id=f"{key}-error", classes="field-error", markup=False)

    @staticmethod
    def _compute_row() -> ComposeResult:
        """Where tasks run: the backend, its ceiling (tasks for ECS, vCPUs for Batch), Spot."""
        defaults = Compute()
        with Vertical(classes="field-box", id="compute-box"):
            with Horizontal(classes="field"):
                yield Label("Compute")
                yield Select(
                    BACKEND_CHOICES,
                    allow_blank=False,
                    value=ECS,
                    id="compute-backend",
                    compact=True,
                )
                yield Label("Spot", id="spot-label")
                yield Switch(value=defaults.spot, id="spot")
            with Horizontal(classes="field", id="max-tasks-row"):
                yield Label("Max tasks")
                yield Input(
                    str(defaults.max_tasks),
                    id="max-tasks",
                    compact=True,
                    type="integer",
                    tooltip="ECS: at most this many tasks per step at once (1-1000)",
                )
            with Horizontal(classes="field", id="max-vcpus-row"):
                yield Label("Max vCPUs")
                yield Input(
                    str(defaults.max_vcpus),
                    id="max-vcpus",
                    compact=True,
                    type="integer",
                    tooltip="Batch: the compute environment's ceiling of vCPUs (1-100000)",
                )
            yield Label("", id="compute-error", classes="field-error", markup=False)

    def _show_compute_ceiling(self) -> None:
        """ECS counts tasks, Batch counts vCPUs: show the field the chosen backend reads."""
        batch = self._value("#compute-backend") == BATCH
        self.query_one("#max-vcpus-row").display = batch
        self.query_one("#max-tasks-row").display = not batch

    def on_mount(self) -> None:
        if self.app.size.width < NARROW:
            self.query_one("#preview-box").add_class("hidden")
        self.load_catalog()
        path = self.initial_path
        if path and Path(path).is_file():
            self.open_file(path)
        else:
            if path:
                self.query_one("#path", Input).value = path
            self.saved_text = self.current_text()
            self.refresh_form()
        self.load_key_pairs(self.chosen_region())
        self.show_steps()
        self._show_compute_ceiling()
        self.query_one("#name", Input).focus()

    # --- reading the form ------------------------------------------------------------------

    def _value(self, selector: str) -> str:
        widget = self.query_one(selector)
        if isinstance(widget, Select):
            return "" if widget.value is Select.NULL else str(widget.value)
        assert isinstance(widget, Input)
        return widget.value.strip()

    def chosen_region(self) -> str:
        return self._value("#region")

    def current_data(self) -> dict[str, Any]:
        return workflow_data(
            name=self._value("#name"),
            input_bucket=self._value("#input-bucket"),
            output_bucket=self._value("#output-bucket"),
            region=self.chosen_region(),
            key_pair=self._value("#key-pair") or self.wanted_key_pair,
            kind=self._value("#type") or SINGLE_RUN,
            steps=self.steps,
            account_id=self._value("#account"),
            compute=compute_section(
                self._value("#compute-backend") or ECS,
                self._value("#max-tasks"),
                self._value("#max-vcpus"),
                self.query_one("#spot", Switch).value,
            ),
        )

    def current_text(self) -> str:
        return dump_json(self.current_data())

    def has_unsaved_changes(self) -> bool:
        return self.is_mounted and self.current_text() != self.saved_text

    # --- validation and preview ------------------------------------------------------------

    def refresh_form(self) -> None:
        """Recompute the JSON, its problems and the preview from the form."""
        if self._loading:
            return
        data = self.current_data()
        text = dump_json(data)
        doc = LoadedJson(file=FORM_FILE, data=json.loads(text), lines={})
        self.problems = workflow_problems(doc, self.catalog)
        self.query_one("#preview", Static).update(json_view(text))
        by_field: dict[str, list[str]] = {}
        for problem in self.problems:
            by_field.setdefault(field_for(problem), []).append(problem.message)
        for key in (*FIELD_ERRORS.values(), "steps"):
            label = self.query_one(f"#{key}-error", Label)
            messages = by_field.get(key, [])
            if key in ("input-bucket", "output-bucket", "name"):
                touched = bool(self._value("#" + key)) or self.show_all_errors
                messages = messages if touched else []
            elif key == "steps" and not (self.steps or self.show_all_errors):
                messages = []
            label.update("\n".join(messages))
            label.display = bool(messages)
        summary = self.query_one("#problems", Static)
        if self.problems:
            summary.remove_class("ok")
            summary.update("\n".join(f"• {p.path or 'file'}: {p.message}" for p in self.problems))
        else:
            summary.add_class("ok")
            summary.update("✓ valid — ready to save")
        self._show_step_problems()
        dirty = text != self.saved_text
        from yunpipe_tui.path_display import tail_path

        room = max(20, self.app.size.width - 30)  # the header's title and clock take the rest
        path = tail_path(self._value("#path"), room) or "new file"
        self.sub_title = ("● unsaved  " if dirty else "") + path

    @on(Input.Changed, "#name, #input-bucket, #output-bucket, #account, #path")
    @on(Input.Changed, "#max-tasks, #max-vcpus")
    @on(Switch.Changed, "#spot")
    @on(Select.Changed, "#key-pair, #type")
    def form_changed(self) -> None:
        if isinstance(self.focused, Select) and self.focused.id == "key-pair":
            self.wanted_key_pair = ""
        self.refresh_form()

    @on(Select.Changed, "#compute-backend")
    def backend_changed(self) -> None:
        self._show_compute_ceiling()
        self.refresh_form()

    @on(Select.Changed, "#region")
    def region_changed(self) -> None:
        self.refresh_form()
        self.load_key_pairs(self.chosen_region())

    # --- catalog and key pairs (workers) ---------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="catalog", name="catalog")
    def load_catalog(self) -> None:
        from yunpipe_tui.catalog import default_catalog

        self.post_message(CatalogLoaded(default_catalog().all()))

    @on(CatalogLoaded)
    def catalog_loaded(self, message: CatalogLoaded) -> None:
        self.catalog = MemoryCatalog(message.algorithms)
        picker = self.query_one("#add-algorithm", Select)
        picker.set_options(
            [
                (escape(f"{a.name} ({a.resolved_instance_type()})"), a.name)
                for a in message.algorithms
            ]
        )
        if not message.algorithms:
            picker.prompt = "catalog empty: `yunpipe wrap -f alg.json`"
        self.show_step_form()
        self.refresh_form()

    @work(thread=True, exclusive=True, exit_on_error=False, group="key-pairs", name="key pairs")
    def load_key_pairs(self, region: str) -> None:
        from yunpipe_tui.lookups import key_pair_names

        self.post_message(KeyPairsLoaded(region, key_pair_names(self.wizard.aws, region or None)))

    @on(KeyPairsLoaded)
    def key_pairs_loaded(self, message: KeyPairsLoaded) -> None:
        if message.region != self.chosen_region():
            return  # a stale answer for a region no longer chosen
        self.key_pairs = message.names
        self._set_key_pair_options(self.wanted_key_pair or self._value("#key-pair"))
        status = self.query_one("#key-pair-status", Label)
        if self.wanted_key_pair and self.wanted_key_pair not in message.names:
            status.update(f"key pair {self.wanted_key_pair!r} is not in this region")
            status.display = True
        elif not message.names:
            status.update("none in this region (optional)")
            status.display = True
        else:
            status.update(f"{len(message.names)} in this region")
            status.display = True

    def _set_key_pair_options(self, keep: str) -> None:
        names = list(self.key_pairs)
        if keep and keep not in names:
            names.append(keep)
        select = self.query_one("#key-pair", Select)
        select.set_options([(escape(n), n) for n in names])
        if keep:
            select.value = keep

    def worker_failure(self, worker: Worker[Any], line: str) -> None:
        if worker.group == "key-pairs":
            label = self.query_one("#key-pair-status", Label)
            label.update(f"could not list key pairs: {line}")
            label.display = True

    # --- the account ---------------------------------------------------------------------

    @on(Button.Pressed, "#use-my-account")
    def use_my_account(self) -> None:
        """Put the caller's account id in the field (the seed's files carry a placeholder)."""
        identity = self.wizard.identity
        if identity is not None and identity.account:
            self._set_account(identity.account)
        else:
            self.load_my_account()

    def _set_account(self, account: str) -> None:
        self.query_one("#account", Input).value = account
        self.notify(f"Account set to {account}, the one yunpipe runs in.", title="Account")

    @work(thread=True, exclusive=True, exit_on_error=False, group="account", name="your account")
    def load_my_account(self) -> None:
        from yunpipe_tui.lookups import caller_identity

        self.post_message(AccountLoaded(caller_identity(self.wizard.aws).account))

    @on(AccountLoaded)
    def account_loaded(self, message: AccountLoaded) -> None:
        self._set_account(message.account)

    # --- steps -----------------------------------------------------------------------------

    def show_steps(self) -> None:
        steps = self.query_one("#steps", OptionList)
        steps.clear_options()
        steps.display = bool(self.steps)
        self.query_one("#step-buttons").display = bool(self.steps)
        for i, step in enumerate(self.steps):
            known = self.catalog is None or self.catalog.get(step.algorithm) is not None
            suffix = "" if known else "  (not in the catalog)"
            steps.add_option(escape(f"{i + 1}. {step.algorithm}{suffix}"))
        if self.selected is not None and self.steps:
            self.selected = min(self.selected, len(self.steps) - 1)
            steps.highlighted = self.selected
        else:
            self.selected = 0 if self.steps else None
            steps.highlighted = self.selected
        self.show_step_form()

    def show_step_form(self) -> None:
        box = self.query_one("#step-form", Vertical)
        box.remove_children()
        if self.selected is None or not self.steps:
            box.border_title = "Step"
            box.mount(Static("No steps yet: pick an algorithm above, then Add.", classes="muted"))
            return
        step = self.steps[self.selected]
        algorithm = self.catalog.get(step.algorithm) if self.catalog else None
        box.border_title = escape(f"Step {self.selected + 1}: {step.algorithm}")
        widgets: list[Any] = []
        if algorithm is None:
            widgets.append(Static("This algorithm is not in the local catalog.", classes="muted"))
        elif self.wizard.sandbox or on_sandbox():
            warning = explain(algorithm.name, algorithm.run_command)
            if warning:
                widgets.append(Label(warning, classes="step-warning", markup=False))
        declared = list(algorithm.variables) if algorithm else []
        names = [v.name for v in declared] + [
            n for n in step.variables if n not in {v.name for v in declared}
        ]
        required = {v.name for v in declared if v.required}
        if not names:
            widgets.append(Static("No variables to set.", classes="muted"))
        for name in names:
            label = f"{name} *" if name in required else name
            if algorithm is not None and name not in {v.name for v in declared}:
                label += " (unknown)"
            row = Horizontal(
                Label(label, markup=False),
                Input(
                    value=step.variables.get(name, ""),
                    placeholder="required" if name in required else "optional",
                    name=name,
                    classes="step-var",
                    compact=True,
                ),
                classes="field",
            )
            widgets.append(row)
        if algorithm is not None and algorithm.ports:
            widgets.append(Label("Ports to open", classes="section-title"))
            chosen = {(p.port, p.protocol) for p in step.ports}
            for port in algorithm.ports:
                widgets.append(
                    Checkbox(
                        escape(f"{port.port}/{port.protocol}"),
                        value=(port.port, port.protocol) in chosen,
                        name=f"{port.port}/{port.protocol}",
                        classes="step-port",
                        compact=True,
                    )
                )
        problems = self._step_problems()
        widgets.append(Label(problems, classes="field-error step-problems", markup=False))
        widgets[-1].display = bool(problems)
        box.mount_all(widgets)

    def _step_problems(self) -> str:
        """The selected step's problems, one a line ('' when none)."""
        if self.selected is None:
            return ""
        return "\n".join(p.message for p in self.problems if step_index(p) == self.selected)

    def _show_step_problems(self) -> None:
        """Keep the step panel's problems in step with the form's (a file opened after another
        must not keep the old file's problem next to '✓ valid')."""
        text = self._step_problems()
        for label in self.query(".step-problems").results(Label):
            label.update(text)
            label.display = bool(text)

    def add_step(self, algorithm: str) -> None:
        if self.steps and self._value("#type") == SINGLE_RUN:
            self.query_one("#type", Select).value = SEQUENCE_RUN
            self.notify("Two or more steps: the type is now sequence_run.")
        self.steps.append(StepDraft(algorithm))
        self.selected = len(self.steps) - 1
        self.show_steps()
        self.refresh_form()

    @on(Button.Pressed, "#add-step")
    def add_pressed(self) -> None:
        algorithm = self._value("#add-algorithm")
        if not algorithm:
            self.notify("Pick an algorithm from the catalog first.", severity="warning")
            return
        self.add_step(algorithm)

    @on(Button.Pressed, "#remove-step")
    def remove_pressed(self) -> None:
        if self.selected is None or not self.steps:
            return
        del self.steps[self.selected]
        self.show_steps()
        self.refresh_form()

    @on(Button.Pressed, "#step-up")
    def up_pressed(self) -> None:
        self.action_move_step(-1)

    @on(Button.Pressed, "#step-down")
    def down_pressed(self) -> None:
        self.action_move_step(1)

    def action_move_step(self, delta: int) -> None:
        if self.selected is None:
            return
        target = self.selected + delta
        if not 0 <= target < len(self.steps):
            return
        steps = self.steps
        steps[self.selected], steps[target] = steps[target], steps[self.selected]
        self.selected = target
        self.show_steps()
        self.refresh_form()

    @on(OptionList.OptionHighlighted, "#steps")
    def step_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.selected:
            self.selected = event.option_index
            self.show_step_form()

    @on(Input.Changed, ".step-var")
    def variable_changed(self, event: Input.Changed) -> None:
        if self.selected is None or event.input.name is None:
            return
        variables = self.steps[self.selected].variables
        if event.value:
            variables[event.input.name] = event.value
        else:
            variables.pop(event.input.name, None)
        self.refresh_form()

    @on(Checkbox.Changed, ".step-port")
    def port_changed(self, event: Checkbox.Changed) -> None:
        if self.selected is None or event.checkbox.name is None:
            return
        number, protocol = event.checkbox.name.split("/")
        port = Port(int(number), protocol)
        ports = [p for p in self.steps[self.selected].ports if p != port]
        if event.value:
            ports.append(port)
        self.steps[self.selected].ports = ports
        self.refresh_form()

    # --- files -----------------------------------------------------------------------------

    def open_file(self, path: str) -> bool:
        try:
            doc = load_json(path, what="workflow file")
            if not isinstance(doc.data, dict):
                raise InputError([doc.problem((), "a workflow file must hold a JSON object")])
            workflow = workflow_from_json(doc.data, source=path)
        except InputError as exc:
            self.app.push_screen(ErrorModal(f"Cannot open {path}", str(exc)))
            return False
        except (KeyError, TypeError, ValueError, AttributeError):
            problems = workflow_problems(doc, self.catalog)
            text = "\n".join(str(p) for p in problems) or "not a workflow file"
            self.app.push_screen(ErrorModal(f"Cannot open {path}", text))
            return False
        self._fill(workflow, path, name=str(doc.data.get("name", "")))
        self.wizard.workflow_path = path
        return True

    def _fill(self, workflow: Workflow, path: str, name: str) -> None:
        self._loading = True
        try:
            field = self.query_one("#path", Input)
            field.value = path
            field.cursor_position = len(path)
            # the file's name in view, not the path's start (once the field has its width)
            self.call_after_refresh(lambda: field.scroll_to(x=field.max_scroll_x, animate=False))
            self.query_one("#name", Input).value = name
            self.query_one("#input-bucket", Input).value = workflow.input_bucket
            self.query_one("#output-bucket", Input).value = workflow.output_bucket
            region = self.query_one("#region", Select)
            if workflow.region and workflow.region in known_regions():
                region.value = workflow.region
            else:
                region.clear()
            kind = workflow.type if workflow.type in (SINGLE_RUN, SEQUENCE_RUN) else SINGLE_RUN
            self.query_one("#type", Select).value = kind
            self.wanted_key_pair = workflow.key_pair
            self._set_key_pair_options(workflow.key_pair)
            self.query_one("#account", Input).value = workflow.account_id
            compute = workflow.compute
            self.query_one("#compute-backend", Select).value = compute.backend
            self.query_one("#max-tasks", Input).value = str(compute.max_tasks)
            self.query_one("#max-vcpus", Input).value = str(compute.max_vcpus)
            self.query_one("#spot", Switch).value = compute.spot
            self.steps = [
                StepDraft(s.algorithm, dict(s.variables), list(s.ports)) for s in workflow.steps
            ]
            self.selected = 0 if self.steps else None
        finally:
            self._loading = False
        self.saved_text = self.current_text()
        self.show_steps()
        self._show_compute_ceiling()
        self.refresh_form()
        self.load_key_pairs(self.chosen_region())

    def save_to(self, path: str) -> bool:
        """Save when valid; returns whether the file was written."""
        self.show_all_errors = True
        self.refresh_form()
        if not path:
            self.notify("Type a file path to save to.", severity="warning")
            self.query_one("#path", Input).focus()
            return False
        if self.problems:
            self.notify(
                f"{len(self.problems)} problem(s) to fix first; they are listed under Problems.",
                title="Not saved",
                severity="error",
            )
            return False
        from yunpipe_tui.jsonfile import write_atomic

        text = self.current_text()
        try:
            write_atomic(path, text, mode=0o644)
        except OSError as exc:
            self.app.push_screen(ErrorModal(f"Cannot save {path}", exc.strerror or str(exc)))
            return False
        self.saved_text = text
        self.wizard.workflow_path = path  # Deploy (p on Home) starts from the last saved file
        self.refresh_form()
        self.notify(f"Saved {path}", title="Workflow saved")
        return True

    def action_save(self) -> None:
        self.save_to(self._value("#path"))

    @on(Button.Pressed, "#save")
    def save_pressed(self) -> None:
        self.action_save()

    def action_open(self) -> None:
        """Choose a file in a picker (the typed path's folder first); enter in the path field
        opens a typed path directly."""
        from yunpipe_tui.screens.file_picker import OpenFileModal

        typed = self._value("#path")
        start = Path(typed).expanduser().parent if typed else Path.cwd()

        def picked(path: str | None) -> None:
            if path:
                self._guard(lambda: self.open_and_say(path), "Open another file without saving?")

        self.app.push_screen(OpenFileModal(start), picked)

    def open_and_say(self, path: str) -> None:
        """Open `path` and say so (a failure shows in its own dialog)."""
        if self.open_file(path):
            from yunpipe_tui.path_display import tail_path

            self.notify(f"Opened {tail_path(path, 60)}", title="Workflow opened")

    @on(Button.Pressed, "#open")
    def open_pressed(self) -> None:
        self.action_open()

    @on(Input.Submitted, "#path")
    def path_submitted(self) -> None:
        path = self._value("#path")
        if not Path(path).expanduser().is_file():
            self.notify(f"No file {path}: ctrl+o picks one.", severity="warning")
            return
        self._guard(
            lambda: self.open_and_say(str(Path(path).expanduser())),
            "Open another file without saving?",
        )

    def action_new(self) -> None:
        def reset() -> None:
            self._fill(
                Workflow(name="", input_bucket="", output_bucket="", type=SINGLE_RUN, steps=()),
                "",
                name="",
            )

        self._guard(reset, "Start a new workflow without saving?")

    def action_toggle_preview(self) -> None:
        self.query_one("#preview-box").toggle_class("hidden")

    @on(Button.Pressed, "#deploy")
    def deploy_pressed(self) -> None:
        path = self._value("#path")
        if self.has_unsaved_changes() or not path or not Path(path).is_file():
            self.notify("Save the workflow first (ctrl+s), then deploy it.", severity="warning")
            return
        self.wizard.open_screen("deploy", workflow_path=path)

    # --- leaving ---------------------------------------------------------------------------

    def _guard(self, then: Any, question: str) -> None:
        if not self.has_unsaved_changes():
            then()
            return

        def decided(go: bool | None) -> None:
            if go:
                then()

        self.app.push_screen(
            ConfirmModal(
                question,
                "This workflow has changes that are not saved; they will be lost.",
                confirm="Discard changes",
                danger=True,
            ),
            decided,
        )

    def action_back(self) -> None:
        self._guard(super().action_back, "Leave the workflow without saving?")
