"""Shared helpers for the deploy tests: plans from workflow files, account snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import deploy, preflight
from yunpipe_tui.deploy.plan import AccountFacts, Plan, algorithms_for, build_plan
from yunpipe_tui.workflow import load_workflow

SEED = Path(__file__).parent.parent / "data" / "seed"

# Only inside tests: a stand-in when the real dispatcher is not in the package yet.
PLACEHOLDER = b"def handler(event, context):\n    return {'placeholder': True}\n"

TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def make_prerequisites(ctx: Any) -> None:
    """What `yunpipe doctor --fix` creates, made here with plain IAM calls."""
    iam = ctx.client("iam")
    iam.create_role(RoleName="lambda_exec_role", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))
    iam.create_role(RoleName="ecsInstanceRole", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    iam.create_instance_profile(InstanceProfileName="ecsInstanceRole")
    iam.add_role_to_instance_profile(
        InstanceProfileName="ecsInstanceRole", RoleName="ecsInstanceRole"
    )


def write_workflow(
    folder: Path, name: str = "demo", *, sequence: bool = False, **over: Any
) -> Path:
    steps = [{"name": "change123-s3", "port": [9090], "variables": {"TEST_ENV": "blah blah blah"}}]
    if sequence:
        steps.append({"name": "second-alg", "port": [], "variables": {}})
    data = {
        "name": name,
        "input_s3_name": f"{name}-input-bucket",
        "output_s3_name": f"{name}-output-bucket",
        "region": "us-east-1",
        "process": {"type": "sequence_run" if sequence else "single_run", "algorithms": steps},
    }
    data.update(over)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def plan_for(ctx: Any, path: Path, catalog: Catalog) -> Plan:
    workflow = load_workflow(path, catalog)
    facts = preflight.account_facts(ctx, workflow)
    return build_plan(workflow, algorithms_for(workflow, catalog), facts)


def fail_first(times: int, code: str, message: str, status: int = 400) -> Any:
    """A before-call hook answering the first `times` calls with an AWS error."""

    class Http:
        status_code = status
        headers: ClassVar[dict[str, str]] = {}

    state = {"left": times, "calls": 0}

    def hook(**_: Any) -> Any:
        state["calls"] += 1
        if state["left"] > 0:
            state["left"] -= 1
            return Http(), {"Error": {"Code": code, "Message": message}}
        return None

    hook.state = state  # type: ignore[attr-defined]
    return hook


def snapshot(ctx: Any) -> dict[str, Any]:
    """Everything a deploy can create, by name, plus every bucket's notifications and objects."""
    s3, sqs, lam, iam = (ctx.client(s) for s in ("s3", "sqs", "lambda", "iam"))
    ecs, logs, events = ctx.client("ecs"), ctx.client("logs"), ctx.client("events")
    buckets = sorted(b["Name"] for b in s3.list_buckets().get("Buckets", []))
    notifications = {}
    objects = {}
    for b in buckets:
        got = s3.get_bucket_notification_configuration(Bucket=b)
        got.pop("ResponseMetadata", None)
        notifications[b] = json.dumps(got, sort_keys=True)
        objects[b] = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", []))
    clusters = ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"])["clusters"]
    return {
        "buckets": buckets,
        "notifications": notifications,
        "objects": objects,
        "queues": sorted(sqs.list_queues().get("QueueUrls", [])),
        "functions": sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]),
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "task_definitions": sorted(
            ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
        ),
        "clusters": sorted(c["clusterName"] for c in clusters if c["status"] == "ACTIVE"),
        "log_groups": sorted(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]),
        "rules": sorted(r["Name"] for r in events.list_rules()["Rules"]),
    }


def deploy_file(ctx: Any, path: Path, catalog: Catalog, code: Any, sink: Any = None):
    """Plan a workflow file against the account and deploy it (no sleeping between retries)."""
    plan = plan_for(ctx, path, catalog)
    return plan, deploy(plan, ctx, sink, code=code, sleep=lambda s: None)


def pure_plan(tmp_path: Path, catalog: Catalog, name: str = "demo"):
    """A plan built from fixed account facts, without AWS."""
    workflow = load_workflow(write_workflow(tmp_path, name=name), catalog)
    facts = AccountFacts("123456789012", "us-east-1", "ami-1", ("subnet-1",))
    return build_plan(workflow, {a.name: a for a in catalog.all()}, facts)
