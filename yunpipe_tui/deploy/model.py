"""The plan's data: resources, steps, account facts, and the `${KEY:ATTR}` references between them.

It sits below the plan builder and the resource kinds (both import it, it imports neither), so
a kind module can build its `Resource`s without an import circle. Pure: no AWS calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yunpipe_tui import pipeline_policies as policies
from yunpipe_tui import resource_names as names
from yunpipe_tui.workflow import Workflow

_REF = re.compile(r"\$\{([^}:]+):([^}]+)\}")


@dataclass(frozen=True)
class AccountFacts:
    """What the plan needs to know about the account; gathered by `preflight.account_facts`."""

    account_id: str
    region: str
    ami_id: str = ""
    gpu_ami_id: str = ""  # the ECS GPU-optimized AMI; read only when a step needs GPUs
    subnet_ids: tuple[str, ...] = ()
    security_group_id: str = ""
    lambda_role_arn: str = ""  # the real ARN of lambda_exec_role (it may have a path)
    endpoint_url: str = ""  # non-empty only against an emulated AWS (the sandbox)

    @property
    def dispatcher_role_arn(self) -> str:
        return self.lambda_role_arn or policies.role_arn(
            self.account_id, names.LAMBDA_EXEC_ROLE, region=self.region
        )


# kind -> what a person calls it; filled by the registry (`deploy.kinds`), which sits above this
# module, so the model never imports the kinds.
KIND_LABELS: dict[str, str] = {}


@dataclass(frozen=True)
class Resource:
    key: str
    kind: str
    name: str
    group: str
    step: str = ""
    depends_on: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    tags: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return f"{KIND_LABELS.get(self.kind, self.kind)} {self.name}"


@dataclass(frozen=True)
class StepPlan:
    id: str
    algorithm: str
    input_bucket: str
    output_bucket: str
    queue: str
    dead_letter_queue: str
    task_family: str
    task_role: str
    dispatcher: str
    instance_type: str
    memory: int
    cpu_units: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Plan:
    workflow: Workflow
    facts: AccountFacts
    resources: tuple[Resource, ...]
    steps: tuple[StepPlan, ...]

    @property
    def pipeline(self) -> str:
        return self.workflow.name

    @property
    def cluster(self) -> str:
        return names.cluster(self.pipeline)

    @property
    def log_group(self) -> str:
        return names.log_group(self.pipeline)

    @property
    def buckets(self) -> list[Resource]:
        return [r for r in self.resources if r.kind == "bucket"]

    def get(self, key: str) -> Resource:
        for r in self.resources:
            if r.key == key:
                return r
        raise KeyError(key)

    def keys(self) -> list[str]:
        return [r.key for r in self.resources]

    def groups(self) -> list[str]:
        seen: list[str] = []
        for r in self.resources:
            if r.group not in seen:
                seen.append(r.group)
        return seen


def tags_for(pipeline: str, step: str = "") -> dict[str, str]:
    tags = {names.TAG_PIPELINE: pipeline, names.TAG_MANAGED: "true"}
    if step:
        tags[names.TAG_STEP] = step
    return tags


def references(value: Any) -> list[tuple[str, str]]:
    """Every `${KEY:ATTR}` inside a (nested) configuration value."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        found.extend(_REF.findall(value))
    elif isinstance(value, Mapping):
        for v in value.values():
            found.extend(references(v))
    elif isinstance(value, list | tuple):
        for v in value:
            found.extend(references(v))
    return found


class Unresolved(Exception):
    """A reference whose resource has no output yet (dry-run before the resource exists)."""


def resolve(value: Any, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    """Replace references with dependency outputs; raise Unresolved when one is missing."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            got = outputs.get(match.group(1), {}).get(match.group(2))
            if got is None:
                raise Unresolved(match.group(0))
            return str(got)

        return _REF.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: resolve(v, outputs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, outputs) for v in value]
    return value
