"""The pipelines present in the account, found by their `yunpipe:pipeline` tag.

Used by `yunpipe status --scan` (pipelines with or without a local journal, so a second machine
can find and remove them) and by teardown (the account is the truth, the journal a guide).

Sources, merged and de-duplicated by ARN:
- the Resource Groups Tagging API (`GetResources` with a tag filter): buckets, queues, Lambda
  functions, log groups, ECS clusters and task definitions, SSM parameters, alarms, DynamoDB
  tables, EC2 instances (moto 5.2.5 answers for all of these), Batch compute environments, job
  queues and job definitions (AWS does; moto 5.2.5 does not, so the Batch kinds also list
  them directly);
- direct listing for kinds it misses (moto 5.2.5 returns neither): IAM roles under the
  `/yunpipe/` path and EventBridge rules named `yunpipe-*`, each with its own tag call.

`ListTaskDefinitions(familyPrefix=...)` matches a whole family name, not a prefix, so
`task_definition_families` lists families with `ListTaskDefinitionFamilies` (a real prefix
match) and keeps exactly `yunpipe-<p>` and `yunpipe-<p>-s<k>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from yunpipe_tui import aws
from yunpipe_tui import resource_names as names


@dataclass(frozen=True)
class Found:
    """One tagged resource: its kind (as the deploy package names kinds), name, ARN, step."""

    kind: str
    name: str
    arn: str
    step: str = ""


def kind_of(arn: str) -> tuple[str, str]:
    """(kind, name) of an ARN yunpipe may have created; ("other", last segment) otherwise."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "other", arn
    service, resource = parts[2], parts[5]
    if service == "s3":
        return "bucket", resource
    if service == "sqs":
        return ("dlq" if resource.endswith("-dlq") else "queue"), resource
    if service == "lambda" and resource.startswith("function:"):
        return "dispatcher", resource.split(":", 2)[1]
    if service == "logs" and resource.startswith("log-group:"):
        return "log_group", resource[len("log-group:") :].removesuffix(":*")
    if service == "ecs":
        rtype, _, rest = resource.partition("/")
        if rtype == "cluster":
            return "cluster", rest
        if rtype == "task-definition":
            return "task_definition", rest
        return f"ecs_{rtype}", rest
    if service == "batch":
        rtype, _, rest = resource.partition("/")
        kind = {
            "compute-environment": "compute_environment",
            "job-queue": "job_queue",
            "job-definition": "job_definition",
        }.get(rtype, f"batch_{rtype}")
        return kind, rest
    if service == "iam" and resource.startswith("role/"):
        return "task_role", resource.rsplit("/", 1)[-1]
    if service == "events" and resource.startswith("rule/"):
        return "schedule_rule", resource.rsplit("/", 1)[-1]
    if service == "ssm" and resource.startswith("parameter/"):
        name = resource[len("parameter") :]
        if name.startswith("/yunpipe/locks/"):
            return "lock_marker", name
        if name.startswith("/yunpipe/pipelines/"):
            return "registry_entry", name
        return "parameter", name
    if service == "cloudwatch" and resource.startswith("alarm:"):
        return "alarm", resource[len("alarm:") :]
    if service == "ec2" and resource.startswith("instance/"):
        return "instance", resource[len("instance/") :]
    if service == "dynamodb" and resource.startswith("table/"):
        return "table", resource[len("table/") :]
    return "other", resource.rsplit("/", 1)[-1]


def _tags(items: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {str(t.get(key)): str(t.get(value)) for t in items or [] if isinstance(t, dict)}


def _add(out: dict[str, dict[str, Found]], arn: str, tags: dict[str, str]) -> None:
    pipeline = tags.get(names.TAG_PIPELINE)
    if not pipeline:
        return
    kind, name = kind_of(arn)
    out.setdefault(pipeline, {})[arn] = Found(kind, name, arn, tags.get(names.TAG_STEP, ""))


def _tagging_api(ctx: Any, pipeline: str | None, out: dict[str, dict[str, Found]]) -> None:
    tag_filter: dict[str, Any] = {"Key": names.TAG_PIPELINE}
    if pipeline is not None:
        tag_filter["Values"] = [pipeline]
    paginator = ctx.client("resourcegroupstaggingapi").get_paginator("get_resources")
    for page in paginator.paginate(TagFilters=[tag_filter]):
        for item in page.get("ResourceTagMappingList", []):
            _add(out, str(item["ResourceARN"]), _tags(item.get("Tags")))


def _roles(ctx: Any, pipeline: str | None, out: dict[str, dict[str, Found]]) -> None:
    iam = ctx.client("iam")
    prefix = names.base(pipeline) if pipeline else f"{names.PREFIX}-"
    for page in iam.get_paginator("list_roles").paginate(PathPrefix=names.ROLE_PATH):
        for role in page.get("Roles", []):
            if not str(role["RoleName"]).startswith(prefix):
                continue
            try:
                tags = _tags(iam.list_role_tags(RoleName=role["RoleName"]).get("Tags"))
            except Exception as exc:
                if aws.is_gone(exc):
                    continue
                raise
            _add(out, str(role["Arn"]), tags)


def _rules(ctx: Any, pipeline: str | None, out: dict[str, dict[str, Found]]) -> None:
    events = ctx.client("events")
    prefix = names.base(pipeline) if pipeline else f"{names.PREFIX}-"
    for page in events.get_paginator("list_rules").paginate(NamePrefix=prefix):
        for rule in page.get("Rules", []):
            try:
                tags = _tags(events.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags"))
            except Exception as exc:
                if aws.is_gone(exc):
                    continue
                raise
            _add(out, str(rule["Arn"]), tags)


def pipelines(ctx: Any, pipeline: str | None = None) -> dict[str, list[Found]]:
    """{pipeline: its tagged resources (sorted by kind, name)} in the context's region.

    With `pipeline`, only that one (an empty dict when nothing carries its tag)."""
    found: dict[str, dict[str, Found]] = {}
    _tagging_api(ctx, pipeline, found)
    _roles(ctx, pipeline, found)
    _rules(ctx, pipeline, found)
    if pipeline is not None:
        found = {k: v for k, v in found.items() if k == pipeline}
    return {
        p: sorted(items.values(), key=lambda f: (f.kind, f.name, f.arn))
        for p, items in sorted(found.items())
    }


def family_pattern(pipeline: str) -> re.Pattern[str]:
    """`yunpipe-<p>` or `yunpipe-<p>-s<k>`: the task-definition families of one pipeline."""
    return re.compile(rf"^{re.escape(names.base(pipeline))}(-s\d+)?$")


def task_definition_families(ctx: Any, pipeline: str, status: str = "ACTIVE") -> list[str]:
    """The pipeline's task-definition families (a prefix listing, filtered exactly)."""
    pattern = family_pattern(pipeline)
    ecs = ctx.client("ecs")
    families: list[str] = []
    paginator = ecs.get_paginator("list_task_definition_families")
    for page in paginator.paginate(familyPrefix=names.base(pipeline), status=status):
        families.extend(f for f in page.get("families", []) if pattern.match(f))
    return sorted(set(families))


def task_definitions(ctx: Any, pipeline: str, status: str = "ACTIVE") -> list[str]:
    """ARNs of every revision (in `status`) of the pipeline's task-definition families."""
    ecs = ctx.client("ecs")
    arns: list[str] = []
    for family in task_definition_families(ctx, pipeline, status):
        paginator = ecs.get_paginator("list_task_definitions")
        for page in paginator.paginate(familyPrefix=family, status=status):
            arns.extend(page.get("taskDefinitionArns", []))
    return arns
