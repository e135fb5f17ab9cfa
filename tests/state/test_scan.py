"""Finding pipelines in the account by tag, without any local journal."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from yunpipe_tui.deploy import journal
from yunpipe_tui.state import scan

TAG = "yunpipe:pipeline"


def _tags(pipeline: str, step: str = "") -> dict[str, str]:
    return {TAG: pipeline, **({"yunpipe:step": step} if step else {})}


def _kv(tags: dict[str, str], k: str = "Key", v: str = "Value") -> list[dict[str, str]]:
    return [{k: key, v: value} for key, value in tags.items()]


def _register(ecs: Any, family: str, tags: dict[str, str] | None = None) -> None:
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[{"name": "a", "image": "x", "memory": 128}],
        tags=_kv(tags or {}, "key", "value"),
    )


def _deploy_everything(aws: Any, p: str) -> None:
    """One resource of every taggable kind the plan creates, tagged as the engine tags them."""
    s3, sqs, iam = aws.client("s3"), aws.client("sqs"), aws.client("iam")
    s3.create_bucket(Bucket=f"yunpipe-{p}-s1-out-123456789012")
    s3.put_bucket_tagging(
        Bucket=f"yunpipe-{p}-s1-out-123456789012", Tagging={"TagSet": _kv(_tags(p, "s1"))}
    )
    sqs.create_queue(QueueName=f"yunpipe-{p}-s1-queue", tags=_tags(p, "s1"))
    sqs.create_queue(QueueName=f"yunpipe-{p}-s1-dlq", tags=_tags(p, "s1"))
    role = iam.create_role(
        RoleName=f"yunpipe-{p}-s1-task",
        Path="/yunpipe/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        Tags=_kv(_tags(p, "s1")),
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.py", "def h(e, c): pass\n")
    aws.client("lambda").create_function(
        FunctionName=f"yunpipe-{p}-s1-dispatch",
        Runtime="python3.12",
        Role=role,
        Handler="a.h",
        Code={"ZipFile": buf.getvalue()},
        Tags=_tags(p, "s1"),
    )
    aws.client("events").put_rule(
        Name=f"yunpipe-{p}-reconcile", ScheduleExpression="rate(1 minute)", Tags=_kv(_tags(p))
    )
    aws.client("logs").create_log_group(logGroupName=f"/yunpipe/{p}", tags=_tags(p))
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName=f"yunpipe-{p}", tags=_kv(_tags(p), "key", "value"))
    _register(ecs, f"yunpipe-{p}-s1", _tags(p, "s1"))
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=f"yunpipe-{p}-s1-idle-i-0",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="LessThanThreshold",
        Tags=_kv(_tags(p, "s1")),
    )
    aws.client("ec2").run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": _kv(_tags(p, "s1"))}],
    )


EXPECTED_KINDS = {
    "alarm",
    "bucket",
    "cluster",
    "dispatcher",
    "dlq",
    "instance",
    "log_group",
    "queue",
    "schedule_rule",
    "task_definition",
    "task_role",
}


def test_scan_finds_every_kind_of_a_pipeline_that_has_no_journal(aws: Any) -> None:
    _deploy_everything(aws, "lost")
    assert journal.load("lost") is None and journal.list_pipelines() == []
    found = scan.pipelines(aws)
    assert list(found) == ["lost"]
    assert {f.kind for f in found["lost"]} == EXPECTED_KINDS
    by_kind = {f.kind: f for f in found["lost"]}
    assert by_kind["queue"].name == "yunpipe-lost-s1-queue" and by_kind["queue"].step == "s1"
    assert by_kind["task_role"].name == "yunpipe-lost-s1-task"
    assert by_kind["schedule_rule"].name == "yunpipe-lost-reconcile"
    assert by_kind["log_group"].name == "/yunpipe/lost"
    assert by_kind["task_definition"].name == "yunpipe-lost-s1:1"


def test_scan_separates_pipelines_and_ignores_untagged_look_alikes(aws: Any) -> None:
    _deploy_everything(aws, "p")
    _deploy_everything(aws, "pq")  # a name that extends the other's prefix
    aws.client("sqs").create_queue(QueueName="yunpipe-p-s9-queue")  # untagged: not ours
    aws.client("iam").create_role(
        RoleName="yunpipe-p-s9-task", Path="/yunpipe/", AssumeRolePolicyDocument="{}"
    )
    aws.client("events").put_rule(Name="yunpipe-p-other", ScheduleExpression="rate(1 minute)")
    found = scan.pipelines(aws)
    assert sorted(found) == ["p", "pq"]
    names = {f.name for f in found["p"]}
    assert "yunpipe-p-s9-queue" not in names and "yunpipe-p-s9-task" not in names
    assert "yunpipe-p-other" not in names
    assert not any("pq" in f.name for f in found["p"])
    only = scan.pipelines(aws, "p")
    assert list(only) == ["p"] and only["p"] == found["p"]
    assert scan.pipelines(aws, "absent") == {}


def test_registry_entries_and_lock_markers_are_found_as_such(aws: Any) -> None:
    ssm = aws.client("ssm")
    for name in ("/yunpipe/pipelines/p", "/yunpipe/locks/p"):
        ssm.put_parameter(Name=name, Value="{}", Type="String", Tags=_kv(_tags("p")))
    kinds = {f.kind: f.name for f in scan.pipelines(aws)["p"]}
    assert kinds == {"registry_entry": "/yunpipe/pipelines/p", "lock_marker": "/yunpipe/locks/p"}


def test_kind_of_unknown_arns() -> None:
    assert scan.kind_of("not-an-arn") == ("other", "not-an-arn")
    assert scan.kind_of("arn:aws:sns:us-east-1:1:topic") == ("other", "topic")
    assert scan.kind_of("arn:aws:logs:us-east-1:1:log-group:/yunpipe/p:*") == (
        "log_group",
        "/yunpipe/p",
    )


def test_task_definition_families_match_the_pipeline_exactly(aws: Any) -> None:
    ecs = aws.client("ecs")
    for family in ("yunpipe-p-s1", "yunpipe-p-s2", "yunpipe-p-s10", "yunpipe-p"):
        _register(ecs, family)
    for family in ("yunpipe-pq-s1", "yunpipe-p-extra", "yunpipe-p-s2x", "yunpipe-q-s1"):
        _register(ecs, family)
    _register(ecs, "yunpipe-p-s2")  # a second revision
    # the old way: ListTaskDefinitions' familyPrefix is a whole family name
    old = ecs.list_task_definitions(familyPrefix="yunpipe-p")["taskDefinitionArns"]
    assert not any("-s2" in a for a in old)
    assert scan.task_definition_families(aws, "p") == [
        "yunpipe-p",
        "yunpipe-p-s1",
        "yunpipe-p-s10",
        "yunpipe-p-s2",
    ]
    arns = scan.task_definitions(aws, "p")
    assert sorted(a.rsplit("/", 1)[-1] for a in arns) == [
        "yunpipe-p-s10:1",
        "yunpipe-p-s1:1",
        "yunpipe-p-s2:1",
        "yunpipe-p-s2:2",
        "yunpipe-p:1",
    ]


def test_inactive_revisions_are_left_out_by_default(aws: Any) -> None:
    ecs = aws.client("ecs")
    _register(ecs, "yunpipe-p-s1")
    _register(ecs, "yunpipe-p-s2")
    ecs.deregister_task_definition(taskDefinition="yunpipe-p-s2:1")
    # (AWS leaves a family without ACTIVE revisions out of status=ACTIVE; moto 5.2.5 ignores
    # the status of ListTaskDefinitionFamilies, so only the revisions are checked here)
    assert scan.task_definitions(aws, "p") == [
        "arn:aws:ecs:us-east-1:123456789012:task-definition/yunpipe-p-s1:1"
    ]
    assert scan.task_definitions(aws, "p", status="INACTIVE") == [
        "arn:aws:ecs:us-east-1:123456789012:task-definition/yunpipe-p-s2:1"
    ]
