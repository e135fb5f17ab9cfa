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
        if resources == ["*"]:  # only what AWS cannot scope
            assert all(a.startswith("ec2:Describe") for a in actions), statement
        else:
            for arn in resources:
                assert ACCOUNT in arn or arn == "arn:aws:ec2:*::image/*", arn
                if "yunpipe" in arn or arn.endswith(":role/ecsInstanceRole"):
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
