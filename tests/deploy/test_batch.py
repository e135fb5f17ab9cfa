"""The Batch backend's deploy side (issue 13 item 2): the plan (compute environments, job queue,
job definitions instead of the cluster and task definitions), a deploy against mock_aws read
back through boto3, redeploy and change, teardown, and the sweep of strays and look-alikes.
(`batch_aws`: mock_aws where a compute environment takes Batch's service-linked role, as on
AWS; see tests/deploy/conftest.py)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from tests.deploy.conftest import SLR, SLR_PATH
from tests.deploy.helpers import deploy_file, plan_for, write_workflow
from tests.deploy.test_plan import FACTS
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import journal, preflight
from yunpipe_tui.deploy.engine import DeployError, Engine
from yunpipe_tui.deploy.events import Recorder
from yunpipe_tui.deploy.kinds import batch_states
from yunpipe_tui.deploy.leftovers import leftovers
from yunpipe_tui.deploy.plan import build_plan, format_tree
from yunpipe_tui.deploy.prepare import prepare
from yunpipe_tui.deploy.teardown import teardown
from yunpipe_tui.errors import YunpipeError
from yunpipe_tui.state import scan
from yunpipe_tui.state.scan import kind_of
from yunpipe_tui.workflow import load_workflow

BATCH = {"backend": "batch", "max_vcpus": 16, "spot": True}
BATCH_FACTS = replace(FACTS, security_group_id="sg-1")


def _plan(tmp_path: Path, catalog: Catalog, compute: Any = BATCH, **kw: Any) -> Any:
    workflow = load_workflow(write_workflow(tmp_path, compute=compute, **kw), catalog)
    return build_plan(workflow, {a.name: a for a in catalog.all()}, BATCH_FACTS)


def _gpu(catalog: Catalog) -> Catalog:
    algorithm = catalog.get("second-alg")
    assert algorithm is not None
    catalog.add(replace(algorithm, gpu=1, instance_type=""))
    return catalog


# --- the plan ----------------------------------------------------------------------------------


def test_batch_plan_has_environments_queue_and_job_definitions(tmp_path: Path, catalog: Catalog):
    plan = _plan(tmp_path, catalog, sequence=True)
    keys = plan.keys()
    assert "shared/cluster" not in keys
    assert not [k for k in keys if k.endswith("/task-definition")]
    spot, ondemand = "shared/compute-env-spot", "shared/compute-env-ondemand"
    assert keys.index(spot) < keys.index(ondemand) < keys.index("shared/job-queue")
    assert {"s1/job-definition", "s2/job-definition"} <= set(keys)
    for key, kind, model, strategy in (
        (spot, names.SPOT, "SPOT", "SPOT_PRICE_CAPACITY_OPTIMIZED"),
        (ondemand, names.ON_DEMAND, "EC2", "BEST_FIT_PROGRESSIVE"),
    ):
        r = plan.get(key)
        assert r.name == names.compute_environment("demo", kind)
        cr = r.config["computeResources"]
        assert (cr["type"], cr["allocationStrategy"]) == (model, strategy)
        assert (cr["minvCpus"], cr["desiredvCpus"], cr["maxvCpus"]) == (0, 0, 16)
        assert cr["instanceTypes"] == ["optimal"]  # no GPU step
        assert cr["subnets"] == ["subnet-a", "subnet-b"] and cr["securityGroupIds"] == ["sg-1"]
        assert cr["instanceRole"].endswith(":instance-profile/ecsInstanceRole")
        assert cr["tags"][names.TAG_PIPELINE] == "demo" == r.tags[names.TAG_PIPELINE]
        assert "serviceRole" not in r.config
    order = plan.get("shared/job-queue").config["computeEnvironmentOrder"]
    assert order == [
        {"order": 1, "computeEnvironment": "${shared/compute-env-spot:arn}"},
        {"order": 2, "computeEnvironment": "${shared/compute-env-ondemand:arn}"},
    ]
    seen: set[str] = set()
    for r in plan.resources:  # every dependency comes earlier
        assert set(r.depends_on) <= seen, r.key
        seen.add(r.key)


def test_without_spot_one_on_demand_environment(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog, compute={"backend": "batch", "max_vcpus": 8})
    assert [r.key for r in plan.resources if r.kind == "compute_environment"] == [
        "shared/compute-env-ondemand"
    ]
    order = plan.get("shared/job-queue").config["computeEnvironmentOrder"]
    assert order == [{"order": 1, "computeEnvironment": "${shared/compute-env-ondemand:arn}"}]


def test_a_gpu_step_adds_gpu_families_and_a_gpu_requirement(tmp_path: Path, catalog: Catalog):
    plan = _plan(tmp_path, _gpu(catalog), sequence=True)
    for key in ("shared/compute-env-spot", "shared/compute-env-ondemand"):
        assert plan.get(key).config["computeResources"]["instanceTypes"] == [
            "optimal",
            "g4dn",
            "g5",
        ]
    first = plan.get("s1/job-definition").config["containerProperties"]["resourceRequirements"]
    second = plan.get("s2/job-definition").config["containerProperties"]["resourceRequirements"]
    assert [q["type"] for q in first] == ["VCPU", "MEMORY"]
    assert {"type": "GPU", "value": "1"} in second


def test_job_definition_runs_the_same_container_as_the_task_definition(
    tmp_path: Path, catalog: Catalog
) -> None:
    batch = _plan(tmp_path, catalog, sequence=True)
    ecs = _plan(tmp_path, catalog, compute={"backend": "ecs"}, sequence=True)
    for s in ("s1", "s2"):
        job = batch.get(f"{s}/job-definition")
        (container,) = ecs.get(f"{s}/task-definition").config["containerDefinitions"]
        props = job.config["containerProperties"]
        assert props["environment"] == container["environment"]
        assert props["logConfiguration"] == container["logConfiguration"]
        assert props["image"] == container["image"]
        assert props["jobRoleArn"] == ecs.get(f"{s}/task-definition").config["taskRoleArn"]
        assert job.name == names.job_definition("demo", s)
        assert job.config["retryStrategy"] == {"attempts": 1} and job.config["propagateTags"]
        assert job.config["timeout"]["attemptDurationSeconds"] >= 3600
        assert {"type": "MEMORY", "value": str(container["memory"])} in props[
            "resourceRequirements"
        ]
        assert f"{s}/queue" in job.depends_on


def test_dispatcher_submits_jobs_instead_of_tasks(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog, sequence=True)
    for s in ("s1", "s2"):
        r = plan.get(f"{s}/dispatcher")
        env = r.config["environment"]
        assert env["YUNPIPE_BACKEND"] == "batch"
        assert env["YUNPIPE_JOB_QUEUE"] == names.job_queue("demo")
        assert env["YUNPIPE_JOB_DEFINITION"] == names.job_definition("demo", s)
        assert env["YUNPIPE_JOB_NAME"] == names.drain_job("demo", s)
        assert env["YUNPIPE_FILES_PER_JOB"] == "1"
        assert env["YUNPIPE_CLUSTER"] == "" == env["YUNPIPE_TASK_DEFINITION"]
        assert {f"{s}/job-definition", "shared/job-queue"} <= set(r.depends_on)
        assert not {f"{s}/task-definition", "shared/cluster"} & set(r.depends_on)
    # 16 vCPUs, the seed algorithm asks for 1 vCPU (or none): 16 jobs at most
    assert plan.get("s1/dispatcher").config["environment"]["YUNPIPE_MAX_JOBS"] == "16"


def test_max_jobs_is_vcpus_over_job_vcpus_and_capped(tmp_path: Path, catalog: Catalog) -> None:
    algorithm = catalog.get("change123-s3")
    assert algorithm is not None
    catalog.add(replace(algorithm, cpu=2.5))  # 3 whole vCPUs per job
    small = _plan(tmp_path, catalog, compute={"backend": "batch", "max_vcpus": 16})
    env = small.get("s1/dispatcher").config["environment"]
    assert env["YUNPIPE_MAX_JOBS"] == "5"
    requirements = small.get("s1/job-definition").config["containerProperties"]
    assert {"type": "VCPU", "value": "3"} in requirements["resourceRequirements"]
    huge = _plan(tmp_path, catalog, compute={"backend": "batch", "max_vcpus": 9000})
    assert huge.get("s1/dispatcher").config["environment"]["YUNPIPE_MAX_JOBS"] == "1000"


def test_ecs_plan_has_no_batch_resources(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog, compute={"backend": "ecs", "spot": True}, sequence=True)
    kinds = {r.kind for r in plan.resources}
    assert not kinds & {"compute_environment", "job_queue", "job_definition"}
    assert {"cluster", "task_definition"} <= kinds
    assert "YUNPIPE_BACKEND" not in plan.get("s1/dispatcher").config["environment"]


def test_dry_run_tree_names_the_batch_resources(tmp_path: Path, catalog: Catalog) -> None:
    tree = format_tree(_plan(tmp_path, catalog))
    assert "compute environment yunpipe-demo-spot" in tree
    assert "compute environment yunpipe-demo-ondemand" in tree
    assert "job queue yunpipe-demo-jobs" in tree
    assert "job definition yunpipe-demo-s1" in tree
    assert "ECS cluster" not in tree and "task definition" not in tree
    # Batch picks the instance types: the step says what each job asks for, not an EC2 type
    assert re.search(r"step s1: \S+ \(Batch jobs of \d+ vCPU, \d+ MiB\)", tree), tree


# --- against mock_aws ----------------------------------------------------------------------------


def _workflow(tmp_path: Path, **compute: Any) -> Path:
    return write_workflow(tmp_path, sequence=True, compute={**BATCH, **compute})


def _environments(ctx: Any) -> dict[str, Any]:
    found = ctx.client("batch").describe_compute_environments()["computeEnvironments"]
    return {e["computeEnvironmentName"]: e for e in found}


def _active_definitions(ctx: Any) -> list[dict[str, Any]]:
    batch = ctx.client("batch")
    return list(batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"])


def test_deploy_creates_what_the_contract_says(
    batch_aws: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = batch_aws
    plan, result = deploy_file(ctx, _workflow(tmp_path), catalog, code)
    assert result.count("create") == len(plan.resources)
    envs = _environments(ctx)
    assert sorted(envs) == ["yunpipe-demo-ondemand", "yunpipe-demo-spot"]
    for name, model in (("yunpipe-demo-spot", "SPOT"), ("yunpipe-demo-ondemand", "EC2")):
        env = envs[name]
        assert (env["type"], env["state"], env["status"]) == ("MANAGED", "ENABLED", "VALID")
        cr = env["computeResources"]
        assert cr["type"] == model and cr["minvCpus"] == 0 and cr["maxvCpus"] == 16
        assert cr["securityGroupIds"] == [plan.facts.security_group_id] != [""]
        assert env["tags"][names.TAG_PIPELINE] == "demo"
        assert env["serviceRole"].endswith(f"{SLR_PATH}{SLR}")  # the service-linked role
    # desiredvCpus 0: Batch (and moto) start no instance for an idle environment
    reservations = ctx.client("ec2").describe_instances()["Reservations"]
    assert not [i for r in reservations for i in r["Instances"]]
    (queue,) = ctx.client("batch").describe_job_queues()["jobQueues"]
    assert queue["jobQueueName"] == "yunpipe-demo-jobs" and queue["state"] == "ENABLED"
    order = sorted(queue["computeEnvironmentOrder"], key=lambda o: o["order"])
    assert [o["computeEnvironment"] for o in order] == [
        envs["yunpipe-demo-spot"]["computeEnvironmentArn"],
        envs["yunpipe-demo-ondemand"]["computeEnvironmentArn"],
    ]
    assert queue["tags"][names.TAG_PIPELINE] == "demo"
    definitions = {d["jobDefinitionName"]: d for d in _active_definitions(ctx)}
    assert sorted(definitions) == ["yunpipe-demo-s1", "yunpipe-demo-s2"]
    role = ctx.client("iam").get_role(RoleName=names.task_role("demo", "s1"))["Role"]["Arn"]
    props = definitions["yunpipe-demo-s1"]["containerProperties"]
    assert props["jobRoleArn"] == role
    log = props["logConfiguration"]
    assert log["logDriver"] == "awslogs"
    assert log["options"]["awslogs-group"] == names.log_group("demo")
    env = {e["name"]: e["value"] for e in props["environment"]}
    queue_url = ctx.client("sqs").get_queue_url(QueueName=names.queue("demo", "s1"))["QueueUrl"]
    assert env["YUNPIPE_QUEUE_URL"] == queue_url
    wanted = plan.get("s1/job-definition").config["containerProperties"]["environment"]
    # moto drops empty values (YUNPIPE_ENDPOINT_URL outside the sandbox): the rest is exact
    assert env == {e["name"]: e["value"] for e in wanted if e["value"]} | {
        "YUNPIPE_QUEUE_URL": queue_url
    }
    assert definitions["yunpipe-demo-s1"]["tags"][names.TAG_STEP] == "s1"
    function = ctx.client("lambda").get_function(FunctionName=names.dispatcher("demo", "s1"))
    variables = function["Configuration"]["Environment"]["Variables"]
    assert variables["YUNPIPE_JOB_QUEUE"] == "yunpipe-demo-jobs"
    assert not ctx.client("ecs").list_task_definitions()["taskDefinitionArns"]


def test_redeploy_keeps_and_a_change_updates(
    batch_aws: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = batch_aws
    deploy_file(ctx, _workflow(tmp_path), catalog, code)
    again = plan_for(ctx, _workflow(tmp_path), catalog)
    assert set(Engine(ctx, code=code).diff(again).values()) == {"keep"}
    _, kept = deploy_file(ctx, _workflow(tmp_path), catalog, code)
    assert kept.count("keep") == len(kept.actions)
    # more vCPUs and a new memory size: the environments change in place, s1 re-registers
    algorithm = catalog.get("change123-s3")
    assert algorithm is not None
    catalog.add(replace(algorithm, memory_suggested=algorithm.memory_mib + 512))
    plan, changed = deploy_file(ctx, _workflow(tmp_path, max_vcpus=32), catalog, code)
    assert changed.actions["shared/compute-env-spot"] == "update"
    assert changed.actions["shared/compute-env-ondemand"] == "update"
    assert changed.actions["s1/job-definition"] == "update"
    assert changed.actions["s2/job-definition"] == "keep"
    assert changed.actions["shared/job-queue"] == "keep"
    revisions = [d for d in _active_definitions(ctx) if d["jobDefinitionName"] == "yunpipe-demo-s1"]
    assert [d["revision"] for d in revisions] == [2]  # the old one deregistered
    memory = plan.get("s1/job-definition").config["containerProperties"]["resourceRequirements"]
    assert revisions[0]["containerProperties"]["resourceRequirements"] == memory
    _, settled = deploy_file(ctx, _workflow(tmp_path, max_vcpus=32), catalog, code)
    assert settled.count("keep") == len(settled.actions)


def test_teardown_leaves_no_batch_resources(
    batch_aws: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = batch_aws
    deploy_file(ctx, _workflow(tmp_path), catalog, code)
    events = Recorder()
    result = teardown("demo", ctx, sink=events)
    assert result.ok, (result.failed, result.leftovers)
    assert not _environments(ctx)
    assert not ctx.client("batch").describe_job_queues()["jobQueues"]
    assert not _active_definitions(ctx)
    deleted = " ".join(result.deleted)
    assert "job_queue yunpipe-demo-jobs" in deleted
    assert "compute_environment yunpipe-demo-spot" in deleted
    # each environment once, by its journal entry after the queue: the sweep of strays before
    # the LATE walk must not take it first (and the walk then report it "already gone")
    assert result.already_gone == []
    assert sorted(d for d in result.deleted if d.startswith("compute_environment")) == [
        "compute_environment yunpipe-demo-ondemand",
        "compute_environment yunpipe-demo-spot",
    ]
    assert leftovers(ctx, "demo") == []


def test_a_queue_is_disabled_before_it_is_deleted(batch_aws: Any, tmp_path: Path, catalog, code):
    """The order of the Batch calls teardown makes: the queue first (disabled, then deleted),
    then each environment (disabled, then deleted)."""
    ctx = batch_aws
    deploy_file(ctx, _workflow(tmp_path), catalog, code)
    calls: list[str] = []
    ctx.add_hook(
        "before-call.batch.*",
        lambda model, **_: calls.append(model.name),
    )
    assert teardown("demo", ctx).ok
    queue = ["UpdateJobQueue", "DeleteJobQueue"]
    environment = ["UpdateComputeEnvironment", "DeleteComputeEnvironment"]
    assert [c for c in calls if c in queue + environment] == queue + environment * 2
    assert calls.count("DeregisterJobDefinition") == 2


@pytest.mark.parametrize("tagged", [True, False])
def test_a_tagged_stray_is_swept_and_a_look_alike_left(
    batch_aws: Any, tmp_path: Path, catalog: Catalog, code: Any, tagged: bool
) -> None:
    """Without Spot the journal knows no `yunpipe-demo-spot`: one carrying the pipeline's tag
    (a deploy killed before journaling it) goes; one without (someone's own) is reported and
    left, as is an untagged job definition with a step's name."""
    ctx = batch_aws
    plan, _ = deploy_file(ctx, _workflow(tmp_path, spot=False), catalog, code)
    batch = ctx.client("batch")
    spot = names.compute_environment("demo", names.SPOT)
    batch.create_compute_environment(
        computeEnvironmentName=spot,
        type="MANAGED",
        computeResources=dict(plan.get("shared/compute-env-ondemand").config["computeResources"]),
        tags={names.TAG_PIPELINE: "demo"} if tagged else {"owner": "someone"},
    )
    batch.register_job_definition(
        jobDefinitionName=names.job_definition("demo", "s7"),
        type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 128},
    )
    result = teardown("demo", ctx)
    assert not result.failed and not result.leftovers
    assert set(_environments(ctx)) == (set() if tagged else {spot})
    assert [d["jobDefinitionName"] for d in _active_definitions(ctx)] == ["yunpipe-demo-s7"]
    reported = " ".join(result.not_removed)
    assert "job definition yunpipe-demo-s7" in reported
    assert (f"compute environment {spot}" in reported) is not tagged
    assert (f"compute_environment {spot}" in " ".join(result.deleted)) is tagged


def test_preflight_accepts_batch_and_names_what_is_missing(
    batch_aws: Any, tmp_path: Path, catalog: Catalog
) -> None:
    ctx = batch_aws
    prepared = prepare(_workflow(tmp_path), ctx, catalog)
    assert prepared.problems == []
    assert prepared.facts.security_group_id.startswith("sg-")
    assert "create" in prepared.actions.values()
    ecs = preflight.account_facts(ctx, load_workflow(write_workflow(tmp_path), catalog))
    assert ecs.security_group_id == ""  # the ECS backend's facts are as before
    bare = replace(prepared.facts, security_group_id="")
    (line,) = preflight.batch_problems(bare)
    assert "security group" in line and "backend ecs" in line
    (line,) = preflight.batch_problems(replace(bare, subnet_ids=()))
    assert "default VPC" in line
    ctx.client("iam").remove_role_from_instance_profile(
        InstanceProfileName="ecsInstanceRole", RoleName="ecsInstanceRole"
    )
    ctx.client("iam").delete_instance_profile(InstanceProfileName="ecsInstanceRole")
    problems = prepare(_workflow(tmp_path), ctx, catalog, with_actions=False).problems
    assert problems == [f"instance profile ecsInstanceRole is missing; {preflight.DOCTOR_HINT}"]


def test_cli_dry_run_and_status_show_the_batch_resources(
    batch_aws: Any, tmp_path: Path, catalog: Catalog, code: Any, capsys: Any, monkeypatch: Any
) -> None:
    import yunpipe_tui.deploy as engine

    monkeypatch.setattr(engine, "dispatcher_zip", code)
    path = _workflow(tmp_path)
    status, out, err = run_cli(["deploy", "-f", str(path), "--dry-run"], capsys)
    assert status == 0, err
    for line in (
        "[create] compute environment yunpipe-demo-spot",
        "[create] compute environment yunpipe-demo-ondemand",
        "[create] job queue yunpipe-demo-jobs",
        "[create] job definition yunpipe-demo-s2",
    ):
        assert line in out
    assert not _environments(batch_aws)
    status, _, err = run_cli(["deploy", "-f", str(path), "--yes"], capsys)
    assert status == 0, err
    status, out, _ = run_cli(["status", "--json"], capsys)
    (summary,) = json.loads(out)
    kinds = {r["kind"] for r in summary["resources"]}
    assert {"compute_environment", "job_queue", "job_definition"} <= kinds


def test_batch_arns_map_to_the_kinds() -> None:
    prefix = "arn:aws:batch:us-east-1:123456789012"
    assert kind_of(f"{prefix}:compute-environment/yunpipe-p-spot") == (
        "compute_environment",
        "yunpipe-p-spot",
    )
    assert kind_of(f"{prefix}:job-queue/yunpipe-p-jobs") == ("job_queue", "yunpipe-p-jobs")
    assert kind_of(f"{prefix}:job-definition/yunpipe-p-s1:3") == (
        "job_definition",
        "yunpipe-p-s1:3",
    )


def test_teardown_from_tags_alone_as_on_aws(
    batch_aws: Any, tmp_path: Path, catalog: Catalog, code: Any, monkeypatch: Any
) -> None:
    """AWS's tagging API lists Batch resources (moto's does not): with no journal, teardown
    removes them from the tag scan, the queue before its environments."""
    ctx = batch_aws
    deploy_file(ctx, _workflow(tmp_path), catalog, code)
    journal.path_for("demo").unlink()
    batch = ctx.client("batch")
    arns = [e["computeEnvironmentArn"] for e in _environments(ctx).values()]
    arns += [q["jobQueueArn"] for q in batch.describe_job_queues()["jobQueues"]]
    arns += [d["jobDefinitionArn"] for d in _active_definitions(ctx)]
    real = scan.pipelines

    def pipelines(ctx: Any, pipeline: str | None = None) -> dict[str, list[scan.Found]]:
        found = real(ctx, pipeline)
        extra = [scan.Found(*scan.kind_of(arn), arn) for arn in arns]
        return {p: [*items, *extra] for p, items in found.items()}

    monkeypatch.setattr(scan, "pipelines", pipelines)
    calls: list[str] = []
    ctx.add_hook("before-call.batch.*", lambda model, **_: calls.append(model.name))
    result = teardown("demo", ctx)
    assert result.ok, (result.failed, result.leftovers)
    assert not _environments(ctx) and not _active_definitions(ctx)
    assert calls.index("DeleteJobQueue") < calls.index("UpdateComputeEnvironment")


class _Fake:
    """A Batch client whose compute environment answers the given statuses in turn."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)

    def describe_compute_environments(self, **_: Any) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        item = {"computeEnvironmentName": "ce", "status": status, "statusReason": "no role"}
        return {"computeEnvironments": [item]}


def test_waits_are_bounded_and_say_why() -> None:
    slept: list[float] = []
    fake = _Fake("UPDATING", "UPDATING", "VALID")
    found = batch_states.wait_until(
        fake, batch_states.ENVIRONMENT, "ce", batch_states.settled, slept.append
    )
    assert found is not None and found["status"] == "VALID" and len(slept) == 2
    ready = batch_states.valid(batch_states.ENVIRONMENT, "ce")
    with pytest.raises(YunpipeError, match="INVALID: no role"):
        batch_states.wait_until(
            _Fake("CREATING", "INVALID"), "compute environment", "ce", ready, slept.append
        )
    slept.clear()
    with pytest.raises(YunpipeError, match="did not settle"):
        batch_states.wait_until(
            _Fake("UPDATING"), "compute environment", "ce", batch_states.settled, slept.append
        )
    assert len(slept) == batch_states.WAIT_ATTEMPTS


def test_a_provisioning_model_change_is_reported(
    batch_aws: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    """Spot cannot become on-demand in place: a look-alike of the other model is reported."""
    ctx = batch_aws
    plan, _ = deploy_file(ctx, _workflow(tmp_path, spot=False), catalog, code)
    ondemand = plan.get("shared/compute-env-ondemand")
    batch = ctx.client("batch")
    arn = _environments(ctx)[ondemand.name]["computeEnvironmentArn"]
    batch.untag_resource(resourceArn=arn, tagKeys=[batch_states.SPEC_TAG])
    from moto.batch import batch_backends

    backend = batch_backends["123456789012"]["us-east-1"]
    backend.get_compute_environment(ondemand.name).compute_resources["type"] = "SPOT"
    with pytest.raises(DeployError, match="cannot change in place"):
        deploy_file(ctx, _workflow(tmp_path, spot=False), catalog, code)


def test_a_lingering_older_revision_is_retired_on_redeploy(
    batch_aws: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    """An update interrupted between registering and deregistering leaves two ACTIVE
    revisions; the next deploy keeps the latest and retires the other."""
    ctx = batch_aws
    deploy_file(ctx, _workflow(tmp_path), catalog, code)
    batch = ctx.client("batch")
    (first,) = batch.describe_job_definitions(jobDefinitionName="yunpipe-demo-s1")["jobDefinitions"]
    again = {k: first[k] for k in ("type", "containerProperties", "timeout", "retryStrategy")}
    batch.register_job_definition(jobDefinitionName="yunpipe-demo-s1", tags=first["tags"], **again)
    _, result = deploy_file(ctx, _workflow(tmp_path), catalog, code)
    assert result.actions["s1/job-definition"] == "keep"
    revisions = [d for d in _active_definitions(ctx) if d["jobDefinitionName"] == "yunpipe-demo-s1"]
    assert [d["revision"] for d in revisions] == [2]
