"""Deploy against mock_aws: single and sequence, convergence, dry-run, notifications, security
properties (teardown has its own tests in test_teardown.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import deploy_file as _deploy
from tests.deploy.helpers import plan_for, snapshot, write_workflow
from yunpipe_tui import pipeline_policies as policies
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import code_sha256, deploy, diff, dispatcher_zip, journal
from yunpipe_tui.deploy.events import DONE, KEPT, STARTED, Recorder
from yunpipe_tui.deploy.teardown import teardown


def test_single_deploy_creates_everything_and_journal(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    rec = Recorder()
    plan, result = _deploy(ctx, write_workflow(tmp_path), catalog, code, rec)
    assert set(result.actions.values()) == {"create"}
    assert len(result.actions) == len(plan.resources)
    # every resource got a started and a done event
    assert {e.key for e in rec.by_status(STARTED)} == set(plan.keys())
    assert {e.key for e in rec.by_status(DONE)} == set(plan.keys())
    state = snapshot(ctx)
    assert state["functions"] == [names.dispatcher("demo", "s1")]
    assert {u.rsplit("/", 1)[-1] for u in state["queues"]} == {
        names.queue("demo", "s1"),
        names.dead_letter_queue("demo", "s1"),
    }
    assert state["clusters"] == [names.cluster("demo")]
    assert state["rules"] == [names.schedule_rule("demo")]
    record = journal.load("demo")
    assert record is not None and record.status == journal.DEPLOYED
    (step,) = record.steps
    assert step.queue_url.endswith(names.queue("demo", "s1"))
    assert record.cluster == names.cluster("demo") and record.region == "us-east-1"
    assert all(v["status"] == journal.CREATED for v in record.resources.values())
    # variable values never reach the journal
    assert "blah blah blah" not in record.path.read_text()
    assert journal.most_recent().pipeline == "demo"


def test_redeploy_converges(prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any) -> None:
    ctx = prereqs
    path = write_workflow(tmp_path, sequence=True)
    plan, _ = _deploy(ctx, path, catalog, code)
    before = snapshot(ctx)
    fn = ctx.client("lambda").get_function(FunctionName=names.dispatcher("demo", "s1"))
    ctx.counter.reset()
    rec = Recorder()
    _, again = _deploy(ctx, path, catalog, code, rec)
    assert set(again.actions.values()) == {"keep"}
    assert {e.key for e in rec.by_status(KEPT)} == set(plan.keys())
    assert snapshot(ctx) == before  # identical resource set, no new task definition revision
    calls = ctx.counter.snapshot()
    for op in (
        "RegisterTaskDefinition",
        "UpdateFunctionCode",
        "CreateQueue",
        "CreateRole",
        "CreateFunction",
        "PutBucketNotificationConfiguration",
        "AddPermission",
    ):
        assert not any(k.endswith(op) for k in calls), op
    fn2 = ctx.client("lambda").get_function(FunctionName=names.dispatcher("demo", "s1"))
    assert fn2["Configuration"]["CodeSha256"] == fn["Configuration"]["CodeSha256"]
    assert fn2["Configuration"]["CodeSha256"] == code_sha256(code())
    assert diff(plan, ctx, code=code) == dict.fromkeys(plan.keys(), "keep")


def test_changed_variable_makes_one_new_revision(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    _deploy(ctx, write_workflow(tmp_path), catalog, code)
    changed = write_workflow(
        tmp_path,
        process={
            "type": "single_run",
            "algorithms": [
                {"name": "change123-s3", "port": [9090], "variables": {"TEST_ENV": "new"}}
            ],
        },
    )
    plan = plan_for(ctx, changed, catalog)
    actions = diff(plan, ctx, code=code)
    assert actions["s1/task-definition"] == "update"
    assert [k for k, a in actions.items() if a != "keep"] == ["s1/task-definition"]
    result = deploy(plan, ctx, code=code)
    assert result.actions["s1/task-definition"] == "update"
    ecs = ctx.client("ecs")
    active = ecs.list_task_definitions(familyPrefix="yunpipe-demo-s1", status="ACTIVE")
    assert [a.rsplit(":", 1)[-1] for a in active["taskDefinitionArns"]] == ["2"]


def test_code_update_only_when_hash_changes(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    from yunpipe_tui.deploy import zip_source

    ctx = prereqs
    path = write_workflow(tmp_path)
    plan, _ = _deploy(ctx, path, catalog, code)
    new_code = lambda: zip_source({"dispatcher.py": b"def handler(e, c):\n    return 2\n"})  # noqa: E731
    ctx.counter.reset()
    result = deploy(plan, ctx, code=new_code)
    assert result.actions["s1/dispatcher"] == "update"
    assert ctx.counter.calls["lambda.UpdateFunctionCode"] == 1
    assert "lambda.UpdateFunctionConfiguration" not in ctx.counter.calls
    sha = ctx.client("lambda").get_function(FunctionName=names.dispatcher("demo", "s1"))
    assert sha["Configuration"]["CodeSha256"] == code_sha256(new_code())


def test_zip_is_deterministic_and_holds_dispatcher_at_root(code: Any) -> None:
    import io
    import zipfile

    assert code() == code()
    assert zipfile.ZipFile(io.BytesIO(code())).namelist() == ["dispatcher.py"]


def test_packaged_dispatcher_zip_when_present() -> None:
    from importlib import resources

    if not resources.files("yunpipe_tui.lambda_functions").joinpath("dispatcher.py").is_file():
        pytest.skip("lambda/dispatcher.py not written yet")
    assert code_sha256(dispatcher_zip()) == code_sha256(dispatcher_zip())


def test_dry_run_diff_creates_nothing(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    before = snapshot(ctx)
    plan = plan_for(ctx, write_workflow(tmp_path, sequence=True), catalog)
    actions = diff(plan, ctx, code=code)
    assert set(actions.values()) == {"create"}
    assert snapshot(ctx) == before
    assert journal.load("demo") is None


def test_users_notification_survives_deploy_and_teardown(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    s3, sqs = ctx.client("s3"), ctx.client("sqs")
    s3.create_bucket(Bucket="demo-input-bucket")
    arn = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName="users-own-queue")["QueueUrl"],
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    users = {
        "Id": "users-own",
        "QueueArn": arn,
        "Events": ["s3:ObjectRemoved:*"],
    }
    s3.put_bucket_notification_configuration(
        Bucket="demo-input-bucket", NotificationConfiguration={"QueueConfigurations": [users]}
    )
    rec = Recorder()
    _deploy(ctx, write_workflow(tmp_path), catalog, code, rec)
    got = s3.get_bucket_notification_configuration(Bucket="demo-input-bucket")
    assert [q["Id"] for q in got["QueueConfigurations"]] == ["users-own"]
    assert [f["Id"] for f in got["LambdaFunctionConfigurations"]] == [names.base("demo", "s1")]
    # the user's bucket existed: journal marks it existing, and it is not ours to delete
    assert journal.load("demo").resources["bucket/demo-input-bucket"]["status"] == "existing"
    assert any("public access" in e.message for e in rec.by_status("warning"))
    teardown("demo", ctx, delete_buckets=True)
    got = s3.get_bucket_notification_configuration(Bucket="demo-input-bucket")
    assert [q["Id"] for q in got["QueueConfigurations"]] == ["users-own"]
    assert "LambdaFunctionConfigurations" not in got


def test_security_properties(prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any) -> None:
    ctx = prereqs
    plan, _ = _deploy(ctx, write_workflow(tmp_path, sequence=True), catalog, code)
    ecs, s3, sqs, lam, iam = (ctx.client(s) for s in ("ecs", "s3", "sqs", "lambda", "iam"))
    for step in plan.steps:
        td = ecs.describe_task_definition(taskDefinition=step.task_family)["taskDefinition"]
        assert td["taskRoleArn"].endswith(f":role/yunpipe/{step.task_role}")
        assert td["networkMode"] == "bridge" and "EC2" in td["requiresCompatibilities"]
        env = {e["name"] for c in td["containerDefinitions"] for e in c.get("environment", [])}
        assert not {n for n in env if "ACCESS_KEY" in n or "SECRET" in n or "SESSION" in n}
        role = iam.get_role(RoleName=step.task_role)["Role"]
        assert role["Path"] == "/yunpipe/"
        trust = role["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        for name in iam.list_role_policies(RoleName=step.task_role)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=step.task_role, PolicyName=name)["PolicyDocument"]
            assert not policies.wildcard_actions(doc)
            assert "*" not in json.dumps([s["Resource"] for s in doc["Statement"]]).replace(
                "/*", ""
            )
            # the ledger: exactly the runner's item actions, on its pipeline's table only
            by_sid = {s.get("Sid"): s for s in doc["Statement"]}
            assert sorted(by_sid["OwnLedger"]["Action"]) == [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ]
            assert by_sid["OwnLedger"]["Resource"] == (
                "arn:aws:dynamodb:us-east-1:123456789012:table/yunpipe-demo-ledger"
            )
            group = "arn:aws:logs:us-east-1:123456789012:log-group:/yunpipe/demo"
            assert by_sid["OwnFileLogs"]["Resource"] == [group, f"{group}:log-stream:files/*"]
            assert sorted(by_sid["OwnFileLogs"]["Action"]) == [
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ]
            assert not [
                a
                for st in doc["Statement"]
                for a in st["Action"]
                if a.startswith("dynamodb:") and st.get("Sid") != "OwnLedger"
            ]
        policy = json.loads(lam.get_policy(FunctionName=step.dispatcher)["Policy"])
        assert len(policy["Statement"]) == 2
        for st in policy["Statement"]:
            cond = json.dumps(st["Condition"])
            assert "SourceArn" in cond and "SourceAccount" in cond and "123456789012" in cond
        s3_st = next(s for s in policy["Statement"] if "s3" in json.dumps(s["Principal"]))
        assert f"arn:aws:s3:::{step.input_bucket}" in json.dumps(s3_st["Condition"])
        for q in (step.queue, step.dead_letter_queue):
            url = sqs.get_queue_url(QueueName=q)["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            assert not policies.allows_everyone(json.loads(attrs["Policy"]))
            assert attrs["SqsManagedSseEnabled"] == "true"
    for bucket in plan.buckets:
        block = s3.get_public_access_block(Bucket=bucket.name)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        enc = s3.get_bucket_encryption(Bucket=bucket.name)["ServerSideEncryptionConfiguration"]
        assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket.name)["TagSet"]}
        assert tags[names.TAG_PIPELINE] == "demo"


def test_drift_is_detected_and_repaired(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    plan, _ = _deploy(ctx, write_workflow(tmp_path), catalog, code)
    sqs, s3, iam = ctx.client("sqs"), ctx.client("s3"), ctx.client("iam")
    url = sqs.get_queue_url(QueueName=names.queue("demo", "s1"))["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
    s3.put_bucket_notification_configuration(
        Bucket="demo-input-bucket", NotificationConfiguration={}
    )
    iam.put_role_policy(
        RoleName=names.task_role("demo", "s1"),
        PolicyName=policies.TASK_POLICY_NAME,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"}],
            }
        ),
    )
    actions = diff(plan, ctx, code=code)
    assert {k: a for k, a in actions.items() if a != "keep"} == {
        "s1/queue": "update",
        "s1/notification": "create",
        "s1/task-role": "update",
    }
    deploy(plan, ctx, code=code)
    assert set(diff(plan, ctx, code=code).values()) == {"keep"}
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert (
        attrs["Attributes"]["VisibilityTimeout"]
        == plan.get("s1/queue").config["attributes"]["VisibilityTimeout"]
    )


def test_seven_step_sequence_deploys_converges_and_tears_down(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    """Beyond EventBridge's five targets a rule: a second reconcile rule, found by teardown."""
    from dataclasses import replace

    base = catalog.get("second-alg")
    assert base is not None
    steps = []
    for i in range(7):
        catalog.add(replace(base, name=f"seven-{i}"))
        steps.append({"name": f"seven-{i}", "port": [], "variables": {}})
    path = write_workflow(
        tmp_path, name="seven", process={"type": "sequence_run", "algorithms": steps}
    )
    ctx = prereqs
    before = snapshot(ctx)
    _deploy(ctx, path, catalog, code)
    events = ctx.client("events")
    rules = [names.schedule_rule("seven"), names.schedule_rule("seven", 1)]
    assert snapshot(ctx)["rules"] == rules
    targets = [len(events.list_targets_by_rule(Rule=r)["Targets"]) for r in rules]
    assert targets == [5, 2]
    deployed = snapshot(ctx)
    _, again = _deploy(ctx, path, catalog, code)
    assert set(again.actions.values()) == {"keep"}
    assert snapshot(ctx) == deployed
    result = teardown("seven", ctx)
    assert result.ok, (result.failed, result.leftovers)
    after = snapshot(ctx)
    assert after["rules"] == before["rules"] and after["functions"] == before["functions"]
    assert after["queues"] == before["queues"]
