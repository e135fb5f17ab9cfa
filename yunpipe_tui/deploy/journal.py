"""The deploy journal: one JSON file per pipeline under `locations.journal_dir()`.

Written atomically (`jsonfile.write_atomic`) before and after every resource the engine creates,
so a process killed at any instant leaves a journal from which teardown finds everything.
No secrets are ever stored: the workflow copy holds bucket names, algorithm names and the user's
variable *names* only (their values stay in the workflow file).

For other modules:

- `load(pipeline) -> PipelineRecord | None` — what a pipeline is: region, account, endpoint,
  status, workflow, steps (queue URLs, cluster, function names), resources;
- `load_checked(pipeline) -> (PipelineRecord | None, warning)` — the same, saying why not;
- `list_pipelines() -> list[PipelineRecord]` — newest first;
- `scan(...) -> Listing` — the good records (of one target, if asked) plus one warning line per
  damaged journal and the records that belong to another account or endpoint;
- `most_recent() -> PipelineRecord | None` — the newest not torn down;
- `belongs_to(record, account, region, endpoint)` — whether a record is the target's in use;
- `Journal` — the writer the deploy engine and teardown use.

A journal is a guide, not the truth: loading never raises and never blocks (a truncated file,
garbage, valid JSON of the wrong shape, a FIFO, socket or folder named `*.json`, an unreadable
file each give one warning line and are skipped). A journal left `deploying`/`tearing-down` by a
process that is gone reads as `interrupted` (the writer's host, pid and start time are recorded
with every save while a run is active).

Resource entry statuses: `planned` (in the plan, not touched yet), `intent` (about to be created;
it may or may not exist), `created` (yunpipe created it), `existing` (was there before; not ours,
e.g. a user's bucket), `deleted` (teardown removed it).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yunpipe_tui import locations
from yunpipe_tui.jsonfile import dump_json, write_atomic
from yunpipe_tui.state import files, process
from yunpipe_tui.state.target import Target, matches, normalise_endpoint

VERSION = 1
DEPLOYING = "deploying"
DEPLOYED = "deployed"
FAILED = "failed"
TEARING_DOWN = "tearing-down"
TORN_DOWN = "torn-down"
INTERRUPTED = "interrupted"  # its writer stopped (Ctrl-C, killed) in the middle of a run
ACTIVE = (DEPLOYING, TEARING_DOWN)

PLANNED = "planned"
INTENT = "intent"
CREATED = "created"
EXISTING = "existing"
DELETED = "deleted"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def path_for(pipeline: str) -> Path:
    return locations.journal_dir() / f"{pipeline}.json"


def safe_workflow(workflow: Any) -> dict[str, Any]:
    """The workflow without variable values (they may hold secrets)."""
    data = workflow.to_json()
    for step in data.get("process", {}).get("algorithms", []):
        step["variables"] = {name: "***" for name in step.get("variables", {})}
    return data


@dataclass(frozen=True)
class StepRecord:
    id: str
    algorithm: str
    input_bucket: str
    output_bucket: str
    queue: str
    queue_url: str
    dead_letter_queue: str
    dead_letter_queue_url: str
    task_family: str
    task_role: str
    dispatcher: str
    instance_type: str


@dataclass(frozen=True)
class PipelineRecord:
    """A read-only view of one journal."""

    pipeline: str
    path: Path
    data: dict[str, Any]

    @property
    def status(self) -> str:
        """The recorded status, or `interrupted` when a run's writer process is gone."""
        status = self.recorded_status
        if status in ACTIVE and process.is_alive(self.data.get("writer")) is False:
            return INTERRUPTED
        return status

    @property
    def recorded_status(self) -> str:
        return str(self.data.get("status", ""))

    @property
    def region(self) -> str:
        return str(self.data.get("region", ""))

    @property
    def account_id(self) -> str:
        return str(self.data.get("account_id", ""))

    @property
    def endpoint(self) -> str:
        """The endpoint URL the pipeline was deployed through; "" for AWS itself."""
        return str(self.data.get("endpoint_url", ""))

    @property
    def target(self) -> Target:
        return Target(self.account_id, self.region, self.endpoint)

    @property
    def interrupted_existing(self) -> list[str]:
        """What existed when the run was marked interrupted (resource labels)."""
        info = self.data.get("interrupted", {})
        return [str(x) for x in info.get("existing", [])] if isinstance(info, dict) else []

    @property
    def cluster(self) -> str:
        return str(self.data.get("cluster", ""))

    @property
    def log_group(self) -> str:
        return str(self.data.get("log_group", ""))

    @property
    def workflow(self) -> dict[str, Any]:
        return dict(self.data.get("workflow", {}))

    @property
    def input_bucket(self) -> str:
        return str(self.workflow.get("input_s3_name", ""))

    @property
    def output_bucket(self) -> str:
        return str(self.workflow.get("output_s3_name", ""))

    @property
    def updated_at(self) -> str:
        return str(self.data.get("updated_at", ""))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.data.get("resources", {}))

    @property
    def steps(self) -> tuple[StepRecord, ...]:
        resources = self.resources
        out = []
        for s in self.data.get("steps", []):
            sid = s["id"]
            queue = resources.get(f"{sid}/queue", {}).get("outputs", {})
            dlq = resources.get(f"{sid}/dlq", {}).get("outputs", {})
            out.append(
                StepRecord(
                    id=sid,
                    algorithm=s.get("algorithm", ""),
                    input_bucket=s.get("input_bucket", ""),
                    output_bucket=s.get("output_bucket", ""),
                    queue=s.get("queue", ""),
                    queue_url=str(queue.get("url", "")),
                    dead_letter_queue=s.get("dead_letter_queue", ""),
                    dead_letter_queue_url=str(dlq.get("url", "")),
                    task_family=s.get("task_family", ""),
                    task_role=s.get("task_role", ""),
                    dispatcher=s.get("dispatcher", ""),
                    instance_type=s.get("instance_type", ""),
                )
            )
        return tuple(out)

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.steps)

    def live_resources(self) -> dict[str, dict[str, Any]]:
        """Entries that may exist in AWS (not planned-only, not deleted)."""
        return {k: v for k, v in self.resources.items() if v.get("status") in (INTENT, CREATED)}


def belongs_to(
    record: PipelineRecord, account: str, region: str | None, endpoint: str | None
) -> bool:
    """Whether `record` was made against this account and endpoint (and region, unless None).

    A journal written before endpoints were recorded counts as made against AWS itself; one
    without an account id belongs nowhere."""
    return matches(record.account_id, record.region, record.endpoint, account, region, endpoint)


_STR_FIELDS = (
    "status",
    "region",
    "account_id",
    "endpoint_url",
    "cluster",
    "log_group",
    "updated_at",
    "created_at",
    "error",
)
_STEP_STR_FIELDS = tuple(
    f for f in StepRecord.__dataclass_fields__ if f not in ("queue_url", "dead_letter_queue_url")
)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def shape_problem(data: Any, expected_pipeline: str | None = None) -> str | None:
    """What makes parsed JSON unusable as a journal, or None. Checks every field readers use."""
    if not isinstance(data, dict):
        return f"wrong shape: {_type_name(data)}, not an object"
    name = data.get("pipeline")
    if not isinstance(name, str) or not name:
        return "wrong shape: no pipeline name"
    if expected_pipeline is not None and name != expected_pipeline:
        return f"wrong shape: names pipeline {name[:80]!r}, not its file's"
    for key in _STR_FIELDS:
        if key in data and not isinstance(data[key], str):
            return f"wrong shape: {key} is {_type_name(data[key])}, not a string"
    ts = data.get("updated_ts", 0)
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return "wrong shape: updated_ts is not a number"
    for key, kind in (("workflow", dict), ("resources", dict), ("steps", list), ("order", list)):
        if key in data and not isinstance(data[key], kind):
            want = "an object" if kind is dict else "a list"
            return f"wrong shape: {key} is {_type_name(data[key])}, not {want}"
    for key, entry in data.get("resources", {}).items():
        if not isinstance(entry, dict):
            return f"wrong shape: resource {key[:80]!r} is {_type_name(entry)}, not an object"
        for sub in ("status", "kind", "name", "step"):
            if sub in entry and not isinstance(entry[sub], str | None):
                return f"wrong shape: resource {key[:80]!r} has a {sub} that is not a string"
        for sub in ("outputs", "params"):
            if sub in entry and not isinstance(entry[sub], dict):
                return f"wrong shape: resource {key[:80]!r} has {sub} that is not an object"
    for i, step in enumerate(data.get("steps", [])):
        if not isinstance(step, dict) or not isinstance(step.get("id"), str):
            return f"wrong shape: step {i + 1} has no id"
        for key in _STEP_STR_FIELDS:
            if key in step and not isinstance(step[key], str):
                return f"wrong shape: step {i + 1} has a {key} that is not a string"
    if not all(isinstance(k, str) for k in data.get("order", [])):
        return "wrong shape: order lists something that is not a resource key"
    runs = data.get("runs", [])
    if not isinstance(runs, list) or not all(
        isinstance(r, dict) and isinstance(r.get("created", []), list) for r in runs
    ):
        return "wrong shape: runs is not a list of runs"
    return None


def damaged_line(path: Path, reason: str) -> str:
    """The one line a user sees about a journal yunpipe cannot use."""
    return f"journal {path} is damaged ({reason}); yunpipe looks at the account instead"


def _check(path: Path, expected_pipeline: str | None = None) -> tuple[dict[str, Any] | None, str]:
    """(data, "") for a usable journal; (None, warning) for a damaged one; (None, "") if absent."""
    result = files.read_record(path)
    if result.reason == "missing":
        return None, ""
    if not result.ok:
        return None, damaged_line(path, result.reason)
    problem = shape_problem(result.data, expected_pipeline)
    if problem:
        return None, damaged_line(path, problem)
    return result.data, ""


def _read(path: Path) -> dict[str, Any] | None:
    return _check(path)[0]


def load_checked(pipeline: str) -> tuple[PipelineRecord | None, str]:
    """The pipeline's journal, or (None, warning) when it is damaged, (None, "") when absent."""
    path = path_for(pipeline)
    data, warning = _check(path, pipeline)
    return (PipelineRecord(pipeline, path, data) if data is not None else None), warning


def load(pipeline: str) -> PipelineRecord | None:
    return load_checked(pipeline)[0]


@dataclass(frozen=True)
class Listing:
    """Journals found on this machine: usable `records` (newest first), one `warnings` line per
    damaged journal, and `elsewhere`: records of another account, region or endpoint."""

    records: list[PipelineRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    elsewhere: list[PipelineRecord] = field(default_factory=list)


def scan(
    include_torn_down: bool = True,
    target: Target | None = None,
    any_region: bool = True,
) -> Listing:
    """Every journal, never raising: good ones, warnings for damaged ones. With `target`, only
    that target's records are in `records`; the others go to `elsewhere`."""
    folder = locations.journal_dir()
    try:
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    except OSError as exc:
        return Listing(warnings=[f"journal folder {folder} is unreadable ({exc.strerror})"])
    records, warnings, elsewhere = [], [], []
    for path in paths:
        data, warning = _check(path, path.name[: -len(".json")])
        if data is None:
            if warning:
                warnings.append(warning)
            continue
        record = PipelineRecord(str(data["pipeline"]), path, data)
        if not include_torn_down and record.status == TORN_DOWN:
            continue
        if target is not None and not belongs_to(
            record, target.account_id, None if any_region else target.region, target.endpoint
        ):
            elsewhere.append(record)
            continue
        records.append(record)
    records.sort(key=lambda r: (r.data.get("updated_ts", 0), r.updated_at), reverse=True)
    return Listing(records, warnings, elsewhere)


def list_pipelines(include_torn_down: bool = True) -> list[PipelineRecord]:
    return scan(include_torn_down).records


def most_recent(target: Target | None = None) -> PipelineRecord | None:
    """The most recently deployed (or partly deployed) pipeline that is not torn down."""
    records = scan(include_torn_down=False, target=target).records
    return records[0] if records else None


def interrupted_message(record: PipelineRecord, workflow_file: str = "") -> str:
    """What a user reads after an interrupted run: what exists, and the two ways on."""
    existing = record.interrupted_existing or [
        f"{e.get('kind')} {e.get('name')}" for e in record.live_resources().values()
    ]
    what = ", ".join(existing) if existing else "nothing yet"
    deploy = f"yunpipe deploy -f {workflow_file or 'WORKFLOW.json'}"
    return (
        f"pipeline {record.pipeline} was interrupted; it has: {what}. "
        f"Run `{deploy}` to finish it, or `yunpipe teardown {record.pipeline}` to remove it."
    )


class Journal:
    """The writer: every change is saved atomically before the call returns. Thread-safe."""

    def __init__(self, pipeline: str, data: dict[str, Any] | None = None) -> None:
        self.pipeline = pipeline
        self.path = path_for(pipeline)
        self._lock = threading.RLock()
        self.warning = ""  # set by `open` when a damaged journal was moved aside
        self.data: dict[str, Any] = data or {
            "version": VERSION,
            "pipeline": pipeline,
            "status": DEPLOYING,
            "created_at": _now(),
            "resources": {},
            "order": [],
            "runs": [],
        }

    @classmethod
    def open(cls, pipeline: str) -> Journal:
        """The pipeline's journal, or a new one. A damaged journal is moved aside (kept as
        `<name>.json.damaged-<time>` for inspection) and `warning` says so."""
        path = path_for(pipeline)
        existing, warning = _check(path, pipeline)
        journal = cls(pipeline, existing)
        if warning:
            aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
            try:
                os.replace(path, aside)
                journal.warning = f"{warning} (kept as {aside.name})"
            except OSError:
                journal.warning = warning
        return journal

    def record_target(self, account: str, region: str, endpoint: str | None) -> None:
        """Where this pipeline lives; `begin` records it from the plan's facts as well."""
        with self._lock:
            self.data["account_id"] = account
            self.data["region"] = region
            self.data["endpoint_url"] = normalise_endpoint(endpoint)
            self.save()

    def mark_interrupted(self, existing: list[str], error: str = "") -> None:
        """Ctrl-C or a stop in the middle of a run: say so, with what exists (labels)."""
        with self._lock:
            self.data["interrupted"] = {"at": _now(), "existing": list(existing)}
            self.set_status(INTERRUPTED, error or "interrupted")

    def save(self) -> None:
        with self._lock:
            if self.data.get("status") in ACTIVE:
                self.data["writer"] = process.current_writer()
            self.data["updated_at"] = _now()
            self.data["updated_ts"] = time.time()
            write_atomic(self.path, dump_json(self.data))

    def record(self) -> PipelineRecord:
        with self._lock:
            return PipelineRecord(self.pipeline, self.path, json.loads(json.dumps(self.data)))

    def begin(self, plan: Any) -> None:
        """Start a deploy run: store the plan's shape; resources not yet seen become `planned`."""
        with self._lock:
            d = self.data
            d["status"] = DEPLOYING
            d["region"] = plan.facts.region
            d["account_id"] = plan.facts.account_id
            d["endpoint_url"] = normalise_endpoint(getattr(plan.facts, "endpoint_url", ""))
            d.pop("interrupted", None)
            d["cluster"] = plan.cluster
            d["log_group"] = plan.log_group
            d["workflow"] = safe_workflow(plan.workflow)
            d["steps"] = [s.to_json() for s in plan.steps]
            d.setdefault("runs", []).append({"started_at": _now(), "created": []})
            order = d.setdefault("order", [])
            for r in plan.resources:
                entry = d["resources"].setdefault(r.key, {"status": PLANNED})
                if entry.get("status") == DELETED:
                    entry["status"] = PLANNED
                entry.update(kind=r.kind, name=r.name, step=r.step, params=_params(r))
                if r.key not in order:
                    order.append(r.key)
            self.save()

    def entry(self, key: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.data["resources"].get(key, {}))

    def intent(self, key: str) -> None:
        with self._lock:
            entry = self.data["resources"][key]
            entry["status"] = INTENT
            entry["intent_at"] = _now()
            self.data["runs"][-1]["created"].append(key)
            self.save()

    def result(
        self, key: str, status: str, outputs: dict[str, Any] | None = None, save: bool = True
    ) -> None:
        with self._lock:
            entry = self.data["resources"][key]
            if status == EXISTING and entry.get("status") in (CREATED, INTENT):
                status = CREATED  # ours from an earlier run: stays ours
            entry["status"] = status
            entry["at"] = _now()
            if outputs:
                entry.setdefault("outputs", {}).update(outputs)
            if save:
                self.save()

    def created_this_run(self) -> list[str]:
        with self._lock:
            runs = self.data.get("runs", [])
            return list(runs[-1].get("created", [])) if runs else []

    def set_status(self, status: str, error: str = "") -> None:
        with self._lock:
            self.data["status"] = status
            if error:
                self.data["error"] = error
            else:
                self.data.pop("error", None)
            if self.data.get("runs"):
                self.data["runs"][-1]["finished_at"] = _now()
                self.data["runs"][-1]["status"] = status
            self.save()


def _params(resource: Any) -> dict[str, Any]:
    """What teardown needs to delete a resource without the plan (no secrets)."""
    c = resource.config
    keep = (
        "role",
        "bucket",
        "id",
        "function",
        "statement_id",
        "rule",
        "target_id",
        "family",
        "path",
        "policy_name",
    )
    out = {k: c[k] for k in keep if k in c and isinstance(c[k], str | int)}
    return out
