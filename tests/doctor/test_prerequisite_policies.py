"""The dispatcher's least-privilege policy and the evaluator that names missing actions."""

from __future__ import annotations

import json

from yunpipe_tui import prerequisite_policies as pol

ACCOUNT = "210987654321"
EC2_KINDS = {
    "instance",
    "spot-instances-request",
    "image",
    "subnet",
    "network-interface",
    "security-group",
    "volume",
    "key-pair",
}


def _statements() -> list[dict]:
    return pol.lambda_exec_policy(ACCOUNT)["Statement"]


def test_policy_is_least_privilege() -> None:
    text = json.dumps(pol.lambda_exec_policy(ACCOUNT))
    assert "StartInsatnces" not in text
    for statement in _statements():
        actions = pol._as_list(statement["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions)
        assert statement["Effect"] == "Allow"
        resources = pol._as_list(statement["Resource"])
        if resources == ["*"]:  # only what AWS cannot scope, and said so
            assert statement["Sid"].endswith("CannotBeScoped"), statement
            assert all(a.startswith("ec2:Describe") or a == "batch:ListJobs" for a in actions)
        else:
            for arn in resources:
                assert ACCOUNT in arn or arn == "arn:aws:ec2:*::image/*", arn
                if "yunpipe" in arn or arn.endswith(":role/ecsInstanceRole"):
                    continue
                if arn == f"arn:aws:batch:*:{ACCOUNT}:job/*":  # job ids are random
                    assert actions == ["batch:TagResource"], statement
                    assert statement["Condition"] == {
                        "StringEquals": {"aws:RequestTag/yunpipe:managed": "true"}
                    }
                    continue
                # EC2 ids are random: launching is scoped by resource type, and acting on an
                # instance needs the yunpipe:managed tag
                kind = arn.split(":")[5].split("/")[0]
                assert arn.startswith("arn:aws:ec2:") and kind in EC2_KINDS, arn
                if kind == "instance":
                    assert "Condition" in statement, statement


def test_pass_role_only_for_the_instance_role_and_task_roles() -> None:
    passes = [s for s in _statements() if s["Action"] == "iam:PassRole"]
    assert {s["Resource"] for s in passes} == {
        f"arn:aws:iam::{ACCOUNT}:role/ecsInstanceRole",
        f"arn:aws:iam::{ACCOUNT}:role/yunpipe/*",
    }
    for s in passes:
        assert "iam:PassedToService" in s["Condition"]["StringEquals"]


def test_the_policy_grants_exactly_what_the_dispatcher_needs() -> None:
    doc = pol.lambda_exec_policy(ACCOUNT)
    assert pol.missing_actions([doc], ACCOUNT, "eu-west-1") == []
    assert len(pol.DISPATCHER_ACTIONS) == len(set(pol.DISPATCHER_ACTIONS))
    # nothing outside yunpipe's names
    assert not pol.is_allowed([doc], "sqs:SendMessage", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:other")
    assert not pol.is_allowed([doc], "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/Admin")
    assert not pol.is_allowed(
        [doc], "cloudwatch:PutMetricAlarm", f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:x"
    )
    assert not pol.is_allowed([doc], "s3:GetObject", "arn:aws:s3:::yunpipe-anything/key")


def test_evaluator_wildcards_deny_and_partial_resources() -> None:
    allow_all = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert pol.missing_actions([allow_all], ACCOUNT, "us-east-1") == []
    deny = {"Statement": [{"Effect": "Deny", "Action": "ec2:Run*", "Resource": "*"}]}
    assert pol.missing_actions([allow_all, deny], ACCOUNT, "us-east-1") == ["ec2:RunInstances"]
    only_instances = {
        "Statement": [
            {"Effect": "Allow", "NotAction": "ec2:RunInstances", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "EC2:runinstances",  # actions are case-insensitive
                "Resource": "arn:aws:ec2:*:*:instance/*",
            },
        ]
    }
    [gap] = pol.missing_actions([only_instances], ACCOUNT, "us-east-1")
    assert gap.startswith("ec2:RunInstances (on image, subnet")
    not_resource = {
        "Statement": [{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:iam::*:role/*"}]
    }
    assert pol.missing_actions([not_resource], ACCOUNT, "us-east-1") == ["iam:PassRole"]


def test_trust() -> None:
    doc = pol.trust_policy("lambda.amazonaws.com")
    assert pol.trusts(doc, "lambda.amazonaws.com")
    assert not pol.trusts(doc, "ec2.amazonaws.com")
    multi = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
            }
        ]
    }
    assert pol.trusts(multi, "lambda.amazonaws.com")


def test_the_dispatcher_writes_only_ledger_tables_with_put_and_update() -> None:
    doc = pol.lambda_exec_policy(ACCOUNT)
    ledger = [
        s
        for s in _statements()
        if any(a.startswith("dynamodb:") for a in pol._as_list(s["Action"]))
    ]
    assert len(ledger) == 1
    assert sorted(ledger[0]["Action"]) == ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    assert ledger[0]["Resource"] == f"arn:aws:dynamodb:*:{ACCOUNT}:table/yunpipe-*-ledger"
    table = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/yunpipe-demo-ledger"
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem"):
        assert pol.is_allowed([doc], action, table)
        assert not pol.is_allowed(
            [doc], action, f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/other"
        )
    for action in (
        "dynamodb:DeleteItem",
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:DeleteTable",
    ):
        assert not pol.is_allowed([doc], action, table)
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= set(pol.DISPATCHER_ACTIONS)


def test_the_task_role_touches_only_its_pipelines_ledger() -> None:
    from yunpipe_tui import pipeline_policies as pp

    table = pp.table_arn("eu-west-1", ACCOUNT, "yunpipe-demo-ledger")
    group = pp.log_group_arn("eu-west-1", ACCOUNT, "/yunpipe/demo")
    doc = pp.task_role_policy(
        queue="arn:aws:sqs:eu-west-1:1:q",
        input_bucket="in",
        output_bucket="out",
        region="eu-west-1",
        ledger_table=table,
        log_group=group,
    )
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"):
        assert pol.is_allowed([doc], action, table)
        assert not pol.is_allowed([doc], action, table.replace("demo", "other"))
    for action in (
        "dynamodb:DeleteItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:DeleteTable",
    ):
        assert not pol.is_allowed([doc], action, table)
    stream = f"{group}:log-stream:files/s1/abc"
    assert pol.is_allowed([doc], "logs:PutLogEvents", stream)
    assert pol.is_allowed([doc], "logs:CreateLogStream", group)
    assert not pol.is_allowed([doc], "logs:PutLogEvents", f"{group}:log-stream:s1/algorithm/x")
    assert not pol.is_allowed([doc], "logs:PutLogEvents", stream.replace("/demo", "/other"))
    old = pp.task_role_policy(queue="q", input_bucket="in", output_bucket="out", region="eu-west-1")
    assert "dynamodb" not in json.dumps(old)


def test_the_dispatcher_submits_jobs_only_to_yunpipes_queues_with_yunpipes_definitions() -> None:
    doc = pol.lambda_exec_policy(ACCOUNT)
    batch = [
        s for s in _statements() if any(a.startswith("batch:") for a in pol._as_list(s["Action"]))
    ]
    assert sorted(a for s in batch for a in pol._as_list(s["Action"])) == [
        "batch:ListJobs",
        "batch:SubmitJob",
        "batch:TagResource",
    ]
    (submit,) = [s for s in batch if s["Action"] == "batch:SubmitJob"]
    assert sorted(submit["Resource"]) == [
        f"arn:aws:batch:*:{ACCOUNT}:job-definition/yunpipe-*",
        f"arn:aws:batch:*:{ACCOUNT}:job-queue/yunpipe-*",
    ]
    arn = f"arn:aws:batch:eu-west-1:{ACCOUNT}"
    assert pol.is_allowed([doc], "batch:SubmitJob", f"{arn}:job-queue/yunpipe-demo-jobs")
    assert pol.is_allowed([doc], "batch:SubmitJob", f"{arn}:job-definition/yunpipe-demo-s1:3")
    for other in (f"{arn}:job-queue/prod-queue", f"{arn}:job-definition/admin-tools:1"):
        assert not pol.is_allowed([doc], "batch:SubmitJob", other)
    assert not pol.is_allowed(
        [doc], "batch:SubmitJob", "arn:aws:batch:eu-west-1:999999999999:job-queue/yunpipe-x"
    )
    for action in (
        "batch:CancelJob",
        "batch:TerminateJob",
        "batch:UpdateComputeEnvironment",
        "batch:RegisterJobDefinition",
        "batch:DescribeJobs",  # the dispatcher only lists
    ):
        assert not pol.is_allowed([doc], action, f"{arn}:job-queue/yunpipe-demo-jobs"), action
        assert not pol.is_allowed([doc], action, f"{arn}:job/0a1b"), action
    (tag,) = [s for s in batch if s["Action"] == "batch:TagResource"]
    assert tag["Resource"] == f"arn:aws:batch:*:{ACCOUNT}:job/*" and "Condition" in tag
    assert not pol.is_allowed([doc], "batch:TagResource", f"{arn}:job-queue/yunpipe-demo-jobs")
    assert {"batch:SubmitJob", "batch:TagResource", "batch:ListJobs"} <= set(pol.DISPATCHER_ACTIONS)
    # A role of before the Batch backend is named as missing exactly the Batch actions.
    old = {**doc, "Statement": [s for s in _statements() if s not in batch]}
    assert pol.missing_actions([old], ACCOUNT, "eu-west-1") == [
        "batch:SubmitJob",
        "batch:TagResource",
        "batch:ListJobs",
    ]


def test_deploy_actions_follow_the_backend() -> None:
    assert pol.deploy_actions() == pol.DEPLOY_ACTIONS == pol.deploy_actions("ecs")
    batch = pol.deploy_actions("batch")
    assert "ecs:CreateCluster" not in batch and "ecs:RegisterTaskDefinition" not in batch
    assert {"batch:CreateComputeEnvironment", "batch:CreateJobQueue"} <= set(batch)
    assert {"batch:RegisterJobDefinition", "iam:PassRole", "sqs:CreateQueue"} <= set(batch)
    assert len(batch) == len(set(batch))
    assert not any(a.startswith("batch:") for a in pol.DEPLOY_ACTIONS)
