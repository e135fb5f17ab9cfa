"""Workflow files: the seed's format, validated with every problem located, and saved back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yunpipe_tui.catalog import Algorithm, Catalog, Port
from yunpipe_tui.errors import InputError, Problem
from yunpipe_tui.input_rules import (
    capped,
    control_character_problems,
    forbidden_variable,
    key_pair_problem,
    quote,
)
from yunpipe_tui.jsonfile import LoadedJson, dump_json, load_json, write_atomic
from yunpipe_tui.name_rules import (
    bucket_name_problems,
    known_regions,
    normalise_pipeline_name,
    pipeline_name_problem,
)
from yunpipe_tui.schema_check import schema_problems

SINGLE_RUN = "single_run"
SEQUENCE_RUN = "sequence_run"
ECS = "ecs"
BATCH = "batch"
BACKENDS = (ECS, BATCH)
DEFAULT_MAX_TASKS = 10
DEFAULT_MAX_VCPUS = 256
MAX_TASKS_RANGE = (1, 1000)
MAX_VCPUS_RANGE = (1, 100_000)
_ACCOUNT_ID = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Step:
    """One algorithm in the workflow, with the user's variable values and requested ports."""

    algorithm: str
    variables: dict[str, str] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.algorithm,
            "port": [
                p.port if p.protocol == "tcp" else {"port": p.port, "protocol": p.protocol}
                for p in self.ports
            ],
            "variables": dict(self.variables),
        }


@dataclass(frozen=True)
class Compute:
    """Where the steps' tasks run (the workflow's optional `compute` section).

    `max_tasks` bounds the ECS backend's parallel tasks per step; `max_vcpus` the Batch compute
    environment; `spot` asks for Spot capacity with on-demand as fallback.
    """

    backend: str = ECS
    max_tasks: int = DEFAULT_MAX_TASKS
    max_vcpus: int = DEFAULT_MAX_VCPUS
    spot: bool = False

    @property
    def is_default(self) -> bool:
        return self == Compute()

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "max_tasks": self.max_tasks,
            "max_vcpus": self.max_vcpus,
            "spot": self.spot,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Compute:
        """From already-validated data; absent fields take today's defaults."""
        data = raw if isinstance(raw, dict) else {}
        return cls(
            backend=data.get("backend") or ECS,
            max_tasks=int(data.get("max_tasks", DEFAULT_MAX_TASKS)),
            max_vcpus=int(data.get("max_vcpus", DEFAULT_MAX_VCPUS)),
            spot=bool(data.get("spot", False)),
        )


@dataclass(frozen=True)
class Workflow:
    name: str
    input_bucket: str
    output_bucket: str
    type: str
    steps: tuple[Step, ...]
    key_pair: str = ""
    account_id: str = ""
    region: str = ""
    source: str = ""
    compute: Compute = Compute()

    def to_json(self) -> dict[str, Any]:
        """The seed's layout, plus `name`; empty optional fields (and the default `compute`)
        are left out, so a seed file saves back as it was."""
        data: dict[str, Any] = {"name": self.name}
        data["input_s3_name"] = self.input_bucket
        data["output_s3_name"] = self.output_bucket
        if self.key_pair:
            data["key_pair"] = self.key_pair
        if self.account_id:
            data["account_id"] = self.account_id
        if self.region:
            data["region"] = self.region
        if not self.compute.is_default:
            data["compute"] = self.compute.to_json()
        data["process"] = {"type": self.type, "algorithms": [s.to_json() for s in self.steps]}
        return data

    def save(self, path: str | Path) -> None:
        write_atomic(path, dump_json(self.to_json()), mode=0o644)


def _ports(raw: list[Any] | None) -> tuple[Port, ...]:
    out = []
    for item in raw or []:
        if isinstance(item, int):
            out.append(Port(item))
        else:
            out.append(Port(item["port"], item.get("protocol", "tcp")))
    return tuple(out)


def _check_buckets(doc: LoadedJson, data: dict[str, Any]) -> list[Problem]:
    problems = []
    for key in ("input_s3_name", "output_s3_name"):
        value = data.get(key)
        if isinstance(value, str):
            for message in bucket_name_problems(value):
                problems.append(doc.problem((key,), message + "; choose another name"))
    a, b = data.get("input_s3_name"), data.get("output_s3_name")
    if isinstance(a, str) and a and a == b:
        problems.append(
            doc.problem(
                ("output_s3_name",),
                "the output bucket must differ from the input bucket, or results would "
                "trigger the pipeline again",
            )
        )
    return problems


def _check_steps(doc: LoadedJson, data: dict[str, Any], catalog: Catalog | None) -> list[Problem]:
    problems: list[Problem] = []
    process = data.get("process")
    if not isinstance(process, dict):
        return problems
    kind, algorithms = process.get("type"), process.get("algorithms")
    if not isinstance(algorithms, list):
        return problems
    if kind == SINGLE_RUN and len(algorithms) != 1:
        problems.append(
            doc.problem(
                ("process", "algorithms"),
                f"single_run takes exactly one algorithm (found {len(algorithms)}); "
                "use sequence_run for a chain",
            )
        )
    if kind == SEQUENCE_RUN and not algorithms:
        problems.append(
            doc.problem(("process", "algorithms"), "sequence_run needs at least one algorithm")
        )
    for i, step in enumerate(algorithms):
        variables = step.get("variables") if isinstance(step, dict) else None
        for name in variables if isinstance(variables, dict) else {}:
            if reason := forbidden_variable(name):
                problems.append(
                    doc.problem(("process", "algorithms", i, "variables", name), reason)
                )
    if catalog is None:
        return problems
    known = catalog.names()
    for i, step in enumerate(algorithms):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            continue
        here = ("process", "algorithms", i)
        algorithm = catalog.get(step["name"])
        if algorithm is None:
            hint = f"known: {', '.join(known[:20])}" if known else "the catalog is empty"
            problems.append(
                doc.problem(
                    (*here, "name"),
                    f"algorithm {quote(step['name'])} is not in the catalog ({hint}); "
                    "register it with `yunpipe wrap -f FILE`",
                )
            )
            continue
        problems.extend(_check_step_against(doc, here, step, algorithm))
    return problems


def _check_step_against(
    doc: LoadedJson, here: tuple[Any, ...], step: dict[str, Any], algorithm: Algorithm
) -> list[Problem]:
    problems = []
    raw = step.get("variables")
    given: dict[str, Any] = raw if isinstance(raw, dict) else {}
    declared = {v.name for v in algorithm.variables}
    for var in algorithm.variables:
        if var.required and var.name not in given:
            problems.append(
                doc.problem(
                    (*here, "variables"),
                    f"required variable {var.name!r} of {algorithm.name!r} is not given; "
                    f'add "{var.name}": "..."',
                )
            )
    for name in given:
        if name not in declared and forbidden_variable(name) is None:
            allowed = ", ".join(sorted(declared)) or "none"
            problems.append(
                doc.problem(
                    (*here, "variables", name),
                    f"unknown variable {quote(name)}: {algorithm.name!r} declares {allowed}",
                )
            )
    raw_ports = step.get("port") if isinstance(step.get("port"), list) else []
    try:
        requested = _ports(raw_ports)
    except (KeyError, TypeError):
        requested = ()
    offered = {(p.port, p.protocol) for p in algorithm.ports}
    for j, port in enumerate(requested):
        if (port.port, port.protocol) not in offered:
            allowed = ", ".join(f"{p}/{q}" for p, q in sorted(offered)) or "none"
            problems.append(
                doc.problem(
                    (*here, "port", j),
                    f"unknown port {port.port}/{port.protocol}: "
                    f"{algorithm.name!r} exposes {allowed}",
                )
            )
    return problems


_COMPUTE_RULES = {
    "max_tasks": (*MAX_TASKS_RANGE, "tasks per step at once, ECS backend"),
    "max_vcpus": (*MAX_VCPUS_RANGE, "vCPUs of the Batch compute environment"),
}


def _compute_problems(doc: LoadedJson, data: dict[str, Any]) -> list[Problem]:
    """The `compute` section's values, each message naming its field and what it takes (these
    replace the schema's terser messages for the same fields)."""
    compute = data.get("compute")
    if not isinstance(compute, dict):
        return []
    problems = []
    backend = compute.get("backend", ECS)
    if backend not in BACKENDS:
        problems.append(
            doc.problem(
                ("compute", "backend"),
                f"backend {quote(backend)} is not one of 'ecs', 'batch'; use \"ecs\" (EC2 "
                'instances yunpipe starts) or "batch" (AWS Batch)',
            )
        )
    for key, (low, high, what) in _COMPUTE_RULES.items():
        if key not in compute:
            continue
        value = compute[key]
        whole = isinstance(value, int) and not isinstance(value, bool)
        if isinstance(value, float) and value.is_integer():
            whole, value = True, int(value)
        if not whole or not low <= value <= high:
            problems.append(
                doc.problem(
                    ("compute", key),
                    f"{key} must be a whole number from {low} to {high} ({what}), "
                    f"not {quote(compute[key])}",
                )
            )
    if "spot" in compute and not isinstance(compute["spot"], bool):
        problems.append(
            doc.problem(
                ("compute", "spot"), f"spot must be true or false, not {quote(compute['spot'])}"
            )
        )
    return problems


def workflow_problems(doc: LoadedJson, catalog: Catalog | None) -> list[Problem]:
    """Every problem in a workflow document: schema first, then the rules beyond it."""
    if not isinstance(doc.data, dict):
        return [doc.problem((), "a workflow file must hold a JSON object { ... }")]
    data = doc.data
    problems = [
        p
        for p in schema_problems(doc, "workflow.schema.json")
        if not p.path.startswith("compute.")  # said with the field's rule below
    ]
    problems += _compute_problems(doc, data)
    problems += control_character_problems(doc)
    problems += _check_buckets(doc, data)
    key_pair = data.get("key_pair")
    if isinstance(key_pair, str) and key_pair and (problem := key_pair_problem(key_pair)):
        problems.append(doc.problem(("key_pair",), problem))
    name = data.get("name")
    if isinstance(name, str) and (problem := pipeline_name_problem(name)):
        problems.append(doc.problem(("name",), problem))
    account = data.get("account_id")
    if isinstance(account, str) and account and not _ACCOUNT_ID.match(account):
        problems.append(
            doc.problem(
                ("account_id",),
                f"{quote(account)} is not a 12-digit AWS account id; put your account's id "
                "(`aws sts get-caller-identity`) or remove the field",
            )
        )
    region = data.get("region")
    if isinstance(region, str) and region and region not in known_regions():
        problems.append(
            doc.problem(("region",), f"unknown AWS region {quote(region)}; e.g. 'us-east-1'")
        )
    problems += _check_steps(doc, data, catalog)
    return capped(sorted(set(problems), key=lambda p: (p.line or 0, p.path, p.message)))


def workflow_from_json(data: dict[str, Any], source: str = "") -> Workflow:
    process = data["process"]
    name = data.get("name") or normalise_pipeline_name(Path(source).stem if source else "pipeline")
    return Workflow(
        name=name,
        input_bucket=data["input_s3_name"],
        output_bucket=data["output_s3_name"],
        type=process["type"],
        steps=tuple(
            Step(
                algorithm=s["name"],
                variables={k: str(v) for k, v in (s.get("variables") or {}).items()},
                ports=_ports(s.get("port")),
            )
            for s in process["algorithms"]
        ),
        key_pair=data.get("key_pair") or "",
        account_id=data.get("account_id") or "",
        region=data.get("region") or "",
        source=source,
        compute=Compute.from_json(data.get("compute")),
    )


def load_workflow(path: str | Path, catalog: Catalog | None = None) -> Workflow:
    """Load and validate, raising InputError with every problem; no catalog: no catalog checks."""
    doc = load_json(path, what="workflow file")
    problems = workflow_problems(doc, catalog)
    if problems:
        raise InputError(problems)
    return workflow_from_json(doc.data, source=str(path))
