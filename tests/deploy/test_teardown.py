"""Teardown against mock_aws: reverse order, buckets kept unless asked, launched instances and
alarms of this pipeline only, and the leftover scan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.deploy.helpers import deploy_file as _deploy
from tests.deploy.helpers import fail_first, snapshot, write_workflow
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import journal
from yunpipe_tui.deploy.events import Recorder
from yunpipe_tui.deploy.teardown import teardown


def test_teardown_leaves_only_buckets_and_objects(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    before = snapshot(ctx)
    _deploy(ctx, write_workflow(tmp_path, sequence=True), catalog, code)
    ctx.client("s3").put_object(Bucket="demo-input-bucket", Key="data/a.txt", Body=b"1")
    result = teardown("demo", ctx, sink=Recorder())
    assert result.ok, (result.failed, result.leftovers)
    after = snapshot(ctx)
    middle = names.intermediate_bucket("demo", "s1", "123456789012")
    assert after["buckets"] == sorted(
        [*before["buckets"], "demo-input-bucket", "demo-output-bucket", middle]
    )
    assert after["objects"]["demo-input-bucket"] == ["data/a.txt"]
    for key in (
        "queues",
        "functions",
        "roles",
        "task_definitions",
        "clusters",
        "log_groups",
        "rules",
    ):
        assert after[key] == before[key], key
    assert journal.load("demo").status == journal.TORN_DOWN
    assert journal.most_recent() is None
    # idempotent: a second teardown finds nothing to do; the kept buckets can still go later
    again = teardown("demo", ctx)
    assert again.ok and not again.deleted
    later = teardown("demo", ctx, delete_buckets=True)
    assert later.ok and snapshot(ctx)["buckets"] == before["buckets"]


def test_teardown_delete_buckets_only_ours(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket="demo-input-bucket")  # the user's own
    s3.put_object(Bucket="demo-input-bucket", Key="mine.txt", Body=b"x")
    _deploy(ctx, write_workflow(tmp_path), catalog, code)
    s3.put_object(Bucket="demo-output-bucket", Key="Result-x", Body=b"x")
    from yunpipe_tui.deploy.teardown import bucket_object_counts

    assert bucket_object_counts(journal.load("demo"), ctx) == {"demo-output-bucket": 1}
    result = teardown("demo", ctx, delete_buckets=True)
    assert result.ok
    names_left = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names_left == ["demo-input-bucket"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="demo-input-bucket")["Contents"]] == [
        "mine.txt"
    ]


def test_teardown_removes_launched_instances_and_alarms_only_of_its_pipeline(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    _deploy(ctx, write_workflow(tmp_path, name="demo"), catalog, code)
    _deploy(ctx, write_workflow(tmp_path, name="demo-bar"), catalog, code)
    other_before = snapshot(ctx)
    ec2, cw = ctx.client("ec2"), ctx.client("cloudwatch")
    ami = ctx.client("ssm").get_parameter(
        Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    )["Parameter"]["Value"]

    def launch(pipeline: str) -> str:
        tags = [
            {"Key": names.TAG_PIPELINE, "Value": pipeline},
            {"Key": names.TAG_STEP, "Value": "s1"},
            {"Key": names.TAG_MANAGED, "Value": "true"},
        ]
        iid = ec2.run_instances(
            ImageId=ami,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]["InstanceId"]
        cw.put_metric_alarm(
            AlarmName=names.alarm(pipeline, "s1", iid),
            MetricName="CPUUtilization",
            Namespace="AWS/EC2",
            Statistic="Average",
            Period=300,
            EvaluationPeriods=2,
            Threshold=1.0,
            ComparisonOperator="LessThanThreshold",
            AlarmActions=["arn:aws:automate:us-east-1:ec2:terminate"],
            Dimensions=[{"Name": "InstanceId", "Value": iid}],
        )
        return iid

    mine, theirs = launch("demo"), launch("demo-bar")
    result = teardown("demo", ctx)
    assert result.ok, (result.failed, result.leftovers)
    states = {
        i["InstanceId"]: i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=[mine, theirs])["Reservations"]
        for i in r["Instances"]
    }
    assert states[mine] in ("shutting-down", "terminated") and states[theirs] == "running"
    alarms = [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]]
    assert alarms == [names.alarm("demo-bar", "s1", theirs)]
    # the other pipeline, whose names share the prefix, is untouched
    after = snapshot(ctx)
    assert names.dispatcher("demo-bar", "s1") in after["functions"]
    assert [q for q in after["queues"] if "demo-bar" in q] == [
        q for q in other_before["queues"] if "demo-bar" in q
    ]
    assert journal.load("demo-bar").status == journal.DEPLOYED


def test_leftover_scan_reports_what_teardown_could_not_remove(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    from yunpipe_tui.deploy.teardown import leftovers

    ctx = prereqs
    _deploy(ctx, write_workflow(tmp_path), catalog, code)
    found = leftovers(ctx, "demo", ["demo-input-bucket"])
    for expected in (
        "queue yunpipe-demo-s1-queue",
        "function yunpipe-demo-s1-dispatch",
        "role yunpipe-demo-s1-task",
        "cluster yunpipe-demo",
        "schedule rule yunpipe-demo-reconcile",
        "log group /yunpipe/demo",
        "notification demo-input-bucket/yunpipe-demo-s1",
    ):
        assert expected in found
    assert not [f for f in found if f.startswith("tagged")]  # all already named above
    # a dispatcher denied deletion is reported, not silently forgotten
    ctx.add_hook(
        "before-call.lambda.DeleteFunction", fail_first(100, "AccessDeniedException", "no")
    )
    result = teardown("demo", ctx)
    assert not result.ok
    assert any("yunpipe-demo-s1-dispatch" in f and "AccessDenied" in f for f in result.failed)
    assert "function yunpipe-demo-s1-dispatch" in result.leftovers
    assert journal.load("demo").status == journal.FAILED
