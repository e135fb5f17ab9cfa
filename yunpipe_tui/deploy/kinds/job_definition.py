"""Each step's Batch job definition (the Batch backend's counterpart of the task definition):
the wrapped image, the step's task role as job role (it trusts ecs-tasks.amazonaws.com, which
Batch on EC2 uses), whole vCPUs, memory and GPUs, exactly the task definition's environment
(`task_definition.runner_environment`: the same runner reads it), the awslogs driver into the
pipeline's log group, and a timeout long enough for a drain job that works through several
files. One attempt: a failed file is retried by the queue's redrive, not by Batch.

Changes are found through the `yunpipe:spec` tag; an update registers a new revision and
deregisters the older ones. Teardown deregisters every ACTIVE revision.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from yunpipe_tui.aws import AwsContext, error_message
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    MISSING,
    STALE,
    Found,
    Kind,
    Ops,
    Scope,
    removed,
)
from yunpipe_tui.deploy.kinds.batch_states import SPEC_TAG, belongs, tags_of
from yunpipe_tui.deploy.kinds.task_definition import awslogs, runner_environment, spec_hash
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout
from yunpipe_tui.deploy.model import Resource

MIN_ATTEMPT_SECONDS = 3600
FILES_PER_ATTEMPT = 4  # the attempt's timeout: this many files' worth, at least an hour


def attempt_seconds(timeout_seconds: int) -> int:
    """How long one drain job may run before Batch stops it."""
    return max(MIN_ATTEMPT_SECONDS, FILES_PER_ATTEMPT * timeout_seconds)


def active(batch: Any, name: str) -> list[dict[str, Any]]:
    """The ACTIVE revisions of the job definition `name`, oldest first."""
    found: list[dict[str, Any]] = []
    paginator = batch.get_paginator("describe_job_definitions")
    for page in paginator.paginate(jobDefinitionName=name, status="ACTIVE"):
        found += [
            dict(d)
            for d in page.get("jobDefinitions", [])
            if d.get("jobDefinitionName") == name and d.get("status") == "ACTIVE"
        ]
    return sorted(found, key=lambda d: int(d.get("revision", 0)))


class JobDefinition(Kind):
    name = "job_definition"
    label = "job definition"
    sweep_rank = 46
    scan_rank = 41

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        if not layout.batch:
            return []
        algorithm, k = step.algorithm, step.prefix
        timeout = algorithm.timeout_seconds
        requirements = [
            {"type": "VCPU", "value": str(step.vcpus)},
            {"type": "MEMORY", "value": str(step.memory)},
        ]
        if algorithm.gpu:
            requirements.append({"type": "GPU", "value": str(algorithm.gpu)})
        return [
            Resource(
                k + "job-definition",
                self.name,
                step.job_definition,
                step.id,
                step=step.id,
                depends_on=(k + "task-role", k + "queue", "shared/log-group"),
                config={
                    "jobDefinitionName": step.job_definition,
                    "type": "container",
                    "platformCapabilities": ["EC2"],
                    "containerProperties": {
                        "image": algorithm.run_image,
                        "jobRoleArn": step.role_arn,
                        "resourceRequirements": requirements,
                        "environment": runner_environment(layout, step),
                        "logConfiguration": awslogs(layout, step),
                    },
                    "timeout": {"attemptDurationSeconds": attempt_seconds(timeout)},
                    "retryStrategy": {"attempts": 1},
                    "propagateTags": True,
                },
                tags=step.tags,
            )
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        revisions = active(ops.ctx.client("batch"), r.name)
        if not revisions:
            return MISSING, {}
        latest = revisions[-1]
        outputs = {"arn": latest["jobDefinitionArn"], "revision": latest.get("revision")}
        same = tags_of(latest).get(SPEC_TAG) == spec_hash(cfg)
        return (CURRENT if same else STALE), outputs

    def kept(self, ops: Ops, r: Resource) -> None:
        """Older ACTIVE revisions an interrupted update left behind are retired now."""
        self._retire(ops, r.name, keep=None)

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        out = ops.ctx.client("batch").register_job_definition(
            **cfg, tags={**r.tags, SPEC_TAG: spec_hash(cfg)}
        )
        return {"arn": out["jobDefinitionArn"], "revision": out.get("revision")}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new revision, then the older ones retired (SubmitJob by name takes the latest)."""
        new = self.create(ops, r, cfg)
        self._retire(ops, r.name, keep=new["arn"])
        return new

    @staticmethod
    def _retire(ops: Ops, name: str, keep: str | None) -> None:
        """Deregister every ACTIVE revision but `keep` (None: but the latest)."""
        batch = ops.ctx.client("batch")
        revisions = active(batch, name)
        keep = keep or (revisions[-1]["jobDefinitionArn"] if revisions else None)
        for old in revisions:
            arn = old["jobDefinitionArn"]
            if arn == keep:
                continue
            try:
                batch.deregister_job_definition(jobDefinition=arn)
            except Exception as exc:  # the wanted revision is what matters; report, go on
                ops.warn(f"could not retire {arn}: {error_message(exc)}")

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        """Every ACTIVE revision."""
        batch = ctx.client("batch")
        revisions = active(batch, name)
        for d in revisions:
            removed(partial(batch.deregister_job_definition, jobDefinition=d["jobDefinitionArn"]))
        return bool(revisions)

    def _found(self, scope: Scope) -> dict[str, tuple[list[str], bool]]:
        """{name: (its ACTIVE revisions "name:rev", one carries this pipeline's tag)} for the
        job definitions with this pipeline's step names or its tag."""
        found: dict[str, tuple[list[str], bool]] = {}
        paginator = scope.ctx.client("batch").get_paginator("describe_job_definitions")
        for page in paginator.paginate(status="ACTIVE"):
            for d in page.get("jobDefinitions", []):
                if d.get("status") != "ACTIVE":
                    continue
                name, ours = str(d["jobDefinitionName"]), belongs(d, scope.pipeline)
                if not (scope.pattern.match(name) or ours):
                    continue
                revisions, tagged = found.get(name, ([], False))
                found[name] = ([*revisions, f"{name}:{d.get('revision')}"], tagged or ours)
        return found

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        for name, (_, ours) in sorted(self._found(scope).items()):
            if name not in known:
                yield replace(self.stray(scope, name), tagged=ours)

    def leftovers(self, scope: Scope) -> list[str]:
        return [
            f"job definition {revision}"
            for _, (revisions, _) in sorted(self._found(scope).items())
            for revision in revisions
        ]
