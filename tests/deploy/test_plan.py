"""The plan is pure: names, tags, dependencies, chaining, ports and variables, no AWS calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.deploy.helpers import write_workflow
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy.plan import AccountFacts, Unresolved, build_plan, format_tree, resolve
from yunpipe_tui.errors import InputError
from yunpipe_tui.workflow import load_workflow

FACTS = AccountFacts(
    account_id="123456789012",
    region="us-east-1",
    ami_id="ami-123",
    subnet_ids=("subnet-a", "subnet-b"),
)


def _plan(tmp_path: Path, catalog: Catalog, **kw):
    workflow = load_workflow(write_workflow(tmp_path, **kw), catalog)
    algorithms = {a.name: a for a in catalog.all()}
    return build_plan(workflow, algorithms, FACTS)


def test_single_run_names_tags_and_order(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog)
    by_kind = {r.kind: r for r in plan.resources}
    assert by_kind["queue"].name == names.queue("demo", "s1")
    assert by_kind["dlq"].name == names.dead_letter_queue("demo", "s1")
    assert by_kind["task_role"].name == names.task_role("demo", "s1")
    assert by_kind["dispatcher"].name == names.dispatcher("demo", "s1")
    assert by_kind["cluster"].name == names.cluster("demo")
    assert by_kind["schedule_rule"].name == names.schedule_rule("demo")
    assert [b.name for b in plan.buckets] == ["demo-input-bucket", "demo-output-bucket"]
    for r in plan.resources:
        assert r.tags[names.TAG_PIPELINE] == "demo"
        if r.step:
            assert r.tags[names.TAG_STEP] == r.step
    # every dependency comes earlier in the order
    seen: set[str] = set()
    for r in plan.resources:
        assert set(r.depends_on) <= seen, r.key
        seen.add(r.key)
    # S3 must be allowed to invoke before the notification is put
    assert "s1/s3-permission" in plan.get("s1/notification").depends_on


def test_sequence_chains_through_intermediate_buckets(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog, sequence=True)
    middle = names.intermediate_bucket("demo", "s1", FACTS.account_id)
    assert [b.name for b in plan.buckets] == ["demo-input-bucket", middle, "demo-output-bucket"]
    s1, s2 = plan.steps
    assert (s1.input_bucket, s1.output_bucket) == ("demo-input-bucket", middle)
    assert (s2.input_bucket, s2.output_bucket) == (middle, "demo-output-bucket")
    assert plan.get("s2/notification").config["bucket"] == middle
    policy = plan.get("s2/task-role").config["policy"]
    resources = json.dumps(policy)
    assert middle in resources and "demo-output-bucket" in resources
    assert "demo-input-bucket" not in resources


def test_container_definition_ports_variables_memory(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog)
    td = plan.get("s1/task-definition").config
    (container,) = td["containerDefinitions"]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["TEST_ENV"] == "blah blah blah"
    assert env["YUNPIPE_QUEUE_URL"] == "${s1/queue:url}"
    assert env["YUNPIPE_RUN_COMMAND"] == "sh /change123.sh $input $output"
    assert env["YUNPIPE_OUTPUT_BUCKET"] == "demo-output-bucket"
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)
    assert container["memory"] == 128 and container["memoryReservation"] == 50
    assert container["cpu"] == 1024
    assert container["portMappings"] == [
        {"containerPort": 9090, "hostPort": 9090, "protocol": "tcp"}
    ]
    assert td["taskRoleArn"].endswith(":role/yunpipe/" + names.task_role("demo", "s1"))
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/yunpipe/demo"
    # a step that asks for no port gets none, even if the algorithm declares one
    plan2 = _plan(
        tmp_path,
        catalog,
        name="noport",
        process={
            "type": "single_run",
            "algorithms": [{"name": "change123-s3", "port": [], "variables": {"TEST_ENV": "x"}}],
        },
    )
    (c2,) = plan2.get("s1/task-definition").config["containerDefinitions"]
    assert c2["portMappings"] == []


def test_dispatcher_environment_is_the_contract(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog)
    env = plan.get("s1/dispatcher").config["environment"]
    assert set(env) == {
        "YUNPIPE_PIPELINE",
        "YUNPIPE_STEP",
        "YUNPIPE_QUEUE_URL",
        "YUNPIPE_CLUSTER",
        "YUNPIPE_TASK_DEFINITION",
        "YUNPIPE_CONTAINER",
        "YUNPIPE_TASK_MEMORY",
        "YUNPIPE_TASK_CPU",
        "YUNPIPE_INSTANCE_TYPE",
        "YUNPIPE_AMI_ID",
        "YUNPIPE_INSTANCE_PROFILE",
        "YUNPIPE_KEY_PAIR",
        "YUNPIPE_SUBNET_ID",
        "YUNPIPE_SECURITY_GROUP_ID",
        "YUNPIPE_MAX_TASKS",
        "YUNPIPE_ENDPOINT_URL",
        "YUNPIPE_LEDGER_TABLE",  # issue 12: step 1's dispatcher writes `queued` items
        "YUNPIPE_SPOT",
        "YUNPIPE_TASK_GPU",
        "YUNPIPE_TASKS_PER_INSTANCE",
    }
    assert env["YUNPIPE_LEDGER_TABLE"] == names.ledger_table("demo")
    assert env["YUNPIPE_SUBNET_ID"] == "subnet-a"
    assert env["YUNPIPE_AMI_ID"] == "ami-123"
    assert env["YUNPIPE_TASK_DEFINITION"] == names.task_family("demo", "s1")
    assert env["YUNPIPE_CONTAINER"] == "algorithm"


def test_queue_attributes_and_policies(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog)
    attrs = plan.get("s1/queue").config["attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 3
    assert redrive["deadLetterTargetArn"].endswith(names.dead_letter_queue("demo", "s1"))
    assert int(attrs["VisibilityTimeout"]) > 3600  # the algorithm's default timeout
    assert attrs["SqsManagedSseEnabled"] == "true"
    for key in ("s1/queue", "s1/dlq"):
        policy = json.loads(plan.get(key).config["attributes"]["Policy"])
        for st in policy["Statement"]:
            assert not (st["Effect"] == "Allow" and st.get("Principal") in ("*", {"AWS": "*"}))


def test_refuses_credentials_and_reserved_variables(tmp_path: Path, catalog: Catalog) -> None:
    from dataclasses import replace

    from yunpipe_tui.catalog import Variable

    alg = catalog.get("second-alg")
    catalog.add(replace(alg, variables=(Variable("AWS_SESSION_TOKEN"),)))
    path = write_workflow(
        tmp_path,
        name="leaky",
        process={
            "type": "single_run",
            "algorithms": [{"name": "second-alg", "variables": {"AWS_SESSION_TOKEN": "x"}}],
        },
    )
    with pytest.raises(InputError, match="credentials"):  # refused on load now, before planning
        workflow = load_workflow(path, catalog)
        build_plan(workflow, {a.name: a for a in catalog.all()}, FACTS)


def test_resolve_references() -> None:
    value = {"env": [{"v": "${s1/queue:url}"}], "n": 3}
    out = resolve(value, {"s1/queue": {"url": "https://q"}})
    assert out == {"env": [{"v": "https://q"}], "n": 3}
    with pytest.raises(Unresolved):
        resolve(value, {})


def test_tree_shows_actions(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog, sequence=True)
    text = format_tree(plan, {r.key: "create" for r in plan.resources})
    assert "step s2: second-alg" in text
    assert text.count("[create]") == len(plan.resources)


def test_plan_makes_no_aws_calls(tmp_path: Path, catalog: Catalog, monkeypatch) -> None:
    import boto3

    def boom(*a, **k):
        raise AssertionError("the plan called AWS")

    monkeypatch.setattr(boto3, "client", boom)
    monkeypatch.setattr(boto3.Session, "client", boom)
    _plan(tmp_path, catalog, sequence=True)


def test_long_sequences_get_a_reconcile_rule_per_five_steps(
    tmp_path: Path, catalog: Catalog
) -> None:
    from dataclasses import replace

    base = catalog.get("second-alg")
    assert base is not None
    steps = []
    for i in range(12):
        catalog.add(replace(base, name=f"long-{i}"))
        steps.append({"name": f"long-{i}", "port": [], "variables": {}})
    plan = _plan(
        tmp_path, catalog, sequence=True, process={"type": "sequence_run", "algorithms": steps}
    )
    rules = [r for r in plan.resources if r.kind == "schedule_rule"]
    assert [r.name for r in rules] == [
        names.schedule_rule("demo"),
        names.schedule_rule("demo", 1),
        names.schedule_rule("demo", 2),
    ]
    assert rules[1].name == "yunpipe-demo-reconcile-2"
    targets = [r for r in plan.resources if r.kind == "schedule_target"]
    per_rule: dict[str, int] = {}
    for t in targets:
        per_rule[t.config["rule"]] = per_rule.get(t.config["rule"], 0) + 1
    assert per_rule == {rules[0].name: 5, rules[1].name: 5, rules[2].name: 2}  # EventBridge: ≤ 5
    for r in plan.resources:
        if r.kind == "schedule_permission":
            assert r.config["source_arn"].endswith(
                "/" + next(t.config["rule"] for t in targets if t.step == r.step)
            )
