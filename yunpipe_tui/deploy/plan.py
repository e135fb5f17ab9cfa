"""The plan: every AWS resource of a pipeline, with its name, tags, dependencies and desired
configuration. Pure: no AWS calls. The engine (`yunpipe_tui.deploy.engine`) applies it;
`--dry-run` prints it.

Each resource kind contributes its own fragment (`yunpipe_tui.deploy.kinds`); this module checks
the workflow, works out the shared names (`layout`) and asks every kind in registry order: first
what the pipeline shares, then, step by step, what each step needs.

Values that only exist once a dependency exists (a queue's URL) are written as references
`${KEY:ATTR}` (e.g. `${s1/queue:url}`); the engine resolves them from the dependency's outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from yunpipe_tui.catalog import Algorithm
from yunpipe_tui.deploy.kinds import KIND_LABELS, KINDS, PLANNED
from yunpipe_tui.deploy.layout import cpu_units, layout_for, schedule_key
from yunpipe_tui.deploy.model import (
    AccountFacts,
    Plan,
    Resource,
    StepPlan,
    Unresolved,
    references,
    resolve,
    tags_for,
)
from yunpipe_tui.errors import InputError, Problem
from yunpipe_tui.input_rules import forbidden_variable, quote
from yunpipe_tui.instance_types import largest_gpu_count
from yunpipe_tui.workflow import BATCH, Workflow

__all__ = [
    "FORBIDDEN_VARIABLES",
    "KINDS",
    "KIND_LABELS",
    "MAX_STEPS",
    "AccountFacts",
    "Plan",
    "Resource",
    "StepPlan",
    "Unresolved",
    "algorithms_for",
    "build_plan",
    "cpu_units",
    "format_tree",
    "references",
    "resolve",
    "schedule_key",
    "tags_for",
]

# Steps are numbered s1..s99 (names stay within AWS's 64-character limits).
MAX_STEPS = 99
FORBIDDEN_VARIABLES = frozenset(
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}
)


def _check(workflow: Workflow, algorithms: Mapping[str, Algorithm]) -> None:
    file = workflow.source or workflow.name
    problems = []
    if not workflow.steps:
        problems.append(Problem(file, "the workflow has no algorithm", path="process.algorithms"))
    if len(workflow.steps) > MAX_STEPS:
        problems.append(
            Problem(
                file,
                f"a pipeline holds at most {MAX_STEPS} steps (found {len(workflow.steps)}); "
                "split it into several workflows",
                path="process.algorithms",
            )
        )
    for i, step in enumerate(workflow.steps):
        where = f"process.algorithms[{i}]"
        if step.algorithm not in algorithms:
            problems.append(
                Problem(
                    file,
                    f"algorithm {step.algorithm!r} is not in the catalog; "
                    "register it with `yunpipe wrap -f FILE`",
                    path=f"{where}.name",
                )
            )
        algorithm = algorithms.get(step.algorithm)
        if algorithm is not None and algorithm.gpu > (most := largest_gpu_count()):
            problems.append(
                Problem(
                    file,
                    f"algorithm {step.algorithm!r} needs {algorithm.gpu} GPUs; the largest GPU "
                    f"instance type yunpipe knows has {most}: lower its GPU",
                    path=f"{where}.name",
                )
            )
        for var in step.variables:
            reason = (
                f"variable {quote(var)} would put AWS credentials in the task definition; "
                "remove it (tasks get AWS access from their task role)"
                if var.upper() in FORBIDDEN_VARIABLES
                else forbidden_variable(var)
            )
            if reason:
                problems.append(Problem(file, reason, path=f"{where}.variables.{var}"))
    if problems:
        raise InputError(problems)


def build_plan(
    workflow: Workflow, algorithms: Mapping[str, Algorithm], facts: AccountFacts
) -> Plan:
    """Every resource of the pipeline, in an order that respects dependencies."""
    _check(workflow, algorithms)
    layout = layout_for(workflow, algorithms, facts)
    resources: list[Resource] = []
    for kind in PLANNED:
        resources += kind.plan_shared(layout)
    for step in layout.steps:
        for kind in PLANNED:
            resources += kind.plan_step(layout, step)
    return Plan(
        workflow=workflow,
        facts=facts,
        resources=tuple(resources),
        steps=tuple(step.to_step_plan() for step in layout.steps),
    )


def algorithms_for(workflow: Workflow, catalog: Any) -> dict[str, Algorithm]:
    """The catalog entries the workflow names (missing ones are reported by build_plan)."""
    out = {}
    for step in workflow.steps:
        algorithm = catalog.get(step.algorithm)
        if algorithm is not None:
            out[step.algorithm] = algorithm
    return out


def format_tree(plan: Plan, actions: Mapping[str, str] | None = None) -> str:
    """The plan as indented text; `actions` maps keys to create/update/keep (dry-run)."""
    lines = [f"pipeline {plan.pipeline} ({plan.facts.region}, account {plan.facts.account_id})"]
    groups = plan.groups()
    for gi, group in enumerate(groups):
        last_group = gi == len(groups) - 1
        title = {"buckets": "buckets", "shared": "shared"}.get(group, f"step {group}")
        if group.startswith("s") and group[1:].isdigit():
            step = next(st for st in plan.steps if st.id == group)
            where = step.instance_type
            if plan.workflow.compute.backend == BATCH:  # Batch picks the instance types
                vcpus = max(1, math.ceil(step.cpu_units / 1024))
                where = f"Batch jobs of {vcpus} vCPU, {step.memory} MiB"
            title = f"step {group}: {step.algorithm} ({where})"
        lines.append(("└── " if last_group else "├── ") + title)
        members = [r for r in plan.resources if r.group == group]
        for ri, r in enumerate(members):
            pad = "    " if last_group else "│   "
            branch = "└── " if ri == len(members) - 1 else "├── "
            action = (actions or {}).get(r.key, "")
            lines.append(f"{pad}{branch}{f'[{action}] ' if action else ''}{r.label}")
    return "\n".join(lines)
