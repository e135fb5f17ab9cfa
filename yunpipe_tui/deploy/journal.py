"""The deploy journal: one JSON file per pipeline under `locations.journal_dir()`.

Written atomically (`jsonfile.write_atomic`) before and after every resource the engine creates,
so a process killed at any instant leaves a journal from which teardown finds everything.
No secrets are ever stored: the workflow copy holds bucket names, algorithm names and the user's
variable *names* only (their values stay in the workflow file).

For other modules:

- `load(pipeline) -> PipelineRecord | None` — what a pipeline is: region, account, status,
  workflow, steps (queue URLs, cluster, function names), resources;
- `list_pipelines() -> list[PipelineRecord]` — newest first;
- `most_recent() -> PipelineRecord | None` — the newest not torn down;
- `Journal` — the writer the deploy engine and teardown use.

Resource entry statuses: `planned` (in the plan, not touched yet), `intent` (about to be created;
it may or may not exist), `created` (yunpipe created it), `existing` (was there before; not ours,
e.g. a user's bucket), `deleted` (teardown removed it).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yunpipe_tui import locations
from yunpipe_tui.jsonfile import dump_json, write_atomic

VERSION = 1
DEPLOYING = "deploying"
DEPLOYED = "deployed"
FAILED = "failed"
TEARING_DOWN = "tearing-down"
TORN_DOWN = "torn-down"

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
        return str(self.data.get("status", ""))

    @property
    def region(self) -> str:
        return str(self.data.get("region", ""))

    @property
    def account_id(self) -> str:
        return str(self.data.get("account_id", ""))

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


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "pipeline" in data else None


def load(pipeline: str) -> PipelineRecord | None:
    path = path_for(pipeline)
    data = _read(path)
    return PipelineRecord(pipeline, path, data) if data is not None else None


def list_pipelines(include_torn_down: bool = True) -> list[PipelineRecord]:
    folder = locations.journal_dir()
    if not folder.is_dir():
        return []
    records = []
    for path in folder.glob("*.json"):
        data = _read(path)
        if data is None:
            continue
        record = PipelineRecord(str(data["pipeline"]), path, data)
        if include_torn_down or record.status != TORN_DOWN:
            records.append(record)
    records.sort(key=lambda r: (r.data.get("updated_ts", 0), r.updated_at), reverse=True)
    return records


def most_recent() -> PipelineRecord | None:
    """The most recently deployed (or partly deployed) pipeline that is not torn down."""
    records = list_pipelines(include_torn_down=False)
    return records[0] if records else None


class Journal:
    """The writer: every change is saved atomically before the call returns. Thread-safe."""

    def __init__(self, pipeline: str, data: dict[str, Any] | None = None) -> None:
        self.pipeline = pipeline
        self.path = path_for(pipeline)
        self._lock = threading.RLock()
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
        existing = _read(path_for(pipeline))
        return cls(pipeline, existing)

    def save(self) -> None:
        with self._lock:
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
            return list(runs[-1]["created"]) if runs else []

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
