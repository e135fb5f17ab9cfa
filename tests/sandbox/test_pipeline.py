"""End to end in the sandbox: yunpipe's real deploy engine, the real dispatcher (run from its
zip as stored in moto) and the real container runner (a local process) move files through a
pipeline. Only moto stands in for AWS. Timings are the sandbox's test timings; every wait is a
bounded poll."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.sandbox.conftest import FAIL_ALGORITHM
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.sandbox import Sandbox, flow
from yunpipe_tui.sandbox.transform import apply


def _until(predicate: Any, timeout: float = 20.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def _instances(ctx: Any, pipeline: str, states: list[str] | None = None) -> list[dict[str, Any]]:
    filters = [{"Name": f"tag:{names.TAG_PIPELINE}", "Values": [pipeline]}]
    if states:
        filters.append({"Name": "instance-state-name", "Values": states})
    found = []
    for reservation in ctx.client("ec2").describe_instances(Filters=filters)["Reservations"]:
        found.extend(reservation["Instances"])
    return found


def test_two_step_flow_then_teardown_leaves_only_the_buckets(
    sandbox: Sandbox, prepared: Any, catalog: Catalog
) -> None:
    ctx = prepared
    workflow = flow.workflow_for("flow", ["demo-upper", "demo-number"], "flow-in", "flow-out")
    flow.deploy_workflow(ctx, workflow, catalog)

    key = "incoming/field notes.txt"  # a prefix and a space: quote_plus in the S3 event
    body = b"first line\nsecond line\n"
    flow.upload(ctx, "flow-in", {key: body})
    final = flow.final_key(["demo-upper", "demo-number"], key)
    assert final == "incoming/Result-demo-number-Result-demo-upper-field notes.txt"
    arrived = flow.wait_for_objects(ctx, "flow-out", [final], timeout=30)
    assert arrived.complete, f"no result; sandbox: {sandbox.activity.snapshot()}"
    assert arrived.found[final][0] == apply(["upper", "number"], body.decode()).encode()
    assert arrived.found[final][0] == b"1: FIRST LINE\n2: SECOND LINE\n"

    # The intermediate bucket holds step 1's result under the same prefix.
    middle = names.intermediate_bucket("flow", "s1", "123456789012")
    inter = ctx.client("s3").get_object(Bucket=middle, Key=flow.result_name("demo-upper", key))
    assert inter["Body"].read() == b"FIRST LINE\nSECOND LINE\n"

    assert sandbox.wait_quiet(timeout=15)
    result = flow.teardown_pipeline(ctx, "flow")
    assert result.failed == [] and result.leftovers == []

    from yunpipe_tui.deploy.teardown import leftovers

    assert leftovers(ctx, "flow") == []
    lam, sqs, ecs = ctx.client("lambda"), ctx.client("sqs"), ctx.client("ecs")
    assert not [f for f in lam.list_functions()["Functions"] if "yunpipe-flow" in f["FunctionName"]]
    assert sqs.list_queues(QueueNamePrefix="yunpipe-flow").get("QueueUrls", []) == []
    clusters = ecs.describe_clusters(clusters=["yunpipe-flow"])["clusters"]
    assert [c["status"] for c in clusters] in ([], ["INACTIVE"])  # moto keeps deleted ones
    assert (
        ecs.list_task_definitions(familyPrefix="yunpipe-flow", status="ACTIVE")[
            "taskDefinitionArns"
        ]
        == []
    )
    roles = ctx.client("iam").list_roles(PathPrefix=names.ROLE_PATH)["Roles"]
    assert not [r for r in roles if r["RoleName"].startswith("yunpipe-flow-")]
    assert ctx.client("events").list_rules(NamePrefix="yunpipe-flow")["Rules"] == []
    assert not [i for i in _instances(ctx, "flow", ["pending", "running"])]
    # ... and the buckets stay, with the data in them.
    buckets = {b["Name"] for b in ctx.client("s3").list_buckets()["Buckets"]}
    assert {"flow-in", "flow-out", middle} <= buckets
    assert ctx.client("s3").get_object(Bucket="flow-in", Key=key)["Body"].read() == body


def test_a_failing_algorithm_s_file_lands_in_the_dead_letter_queue(
    sandbox: Sandbox, prepared: Any, catalog: Catalog
) -> None:
    ctx = prepared
    workflow = flow.workflow_for("dlq", [FAIL_ALGORITHM], "dlq-in", "dlq-out")
    flow.deploy_workflow(ctx, workflow, catalog)
    sqs = ctx.client("sqs")
    dlq = sqs.get_queue_url(QueueName=names.dead_letter_queue("dlq", "s1"))["QueueUrl"]
    work = sqs.get_queue_url(QueueName=names.queue("dlq", "s1"))["QueueUrl"]
    redrive = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["RedrivePolicy"])
    assert json.loads(redrive["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 3

    flow.upload(ctx, "dlq-in", {"bad.txt": b"this will fail\n"})

    def dead() -> list[dict[str, Any]]:
        return flow.dead_letters(ctx, dlq)

    records = _until(dead, timeout=40, interval=0.5)
    assert records, f"nothing in the dead-letter queue; sandbox: {sandbox.activity.snapshot()}"
    assert records[0]["s3"]["object"]["key"] == "bad.txt"
    assert records[0]["s3"]["bucket"]["name"] == "dlq-in"
    # It was tried: tasks ran and exited; no result was written.
    assert ctx.client("s3").list_objects_v2(Bucket="dlq-out").get("KeyCount", 0) == 0
    attrs = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_burst_launches_one_instance_which_is_terminated_when_idle(
    sandbox: Sandbox, prepared: Any, catalog: Catalog
) -> None:
    ctx = prepared
    workflow = flow.workflow_for("burst", ["demo-reverse"], "burst-in", "burst-out")
    flow.deploy_workflow(ctx, workflow, catalog)

    files = {f"batch/{i}.txt": f"line {i}\n".encode() for i in range(5)}
    s3 = ctx.client("s3")
    with ThreadPoolExecutor(5) as pool:  # a burst: the uploads arrive together
        put = s3.put_object
        puts = [pool.submit(put, Bucket="burst-in", Key=k, Body=b) for k, b in files.items()]
        for done in puts:
            done.result()
    wanted = {flow.result_name("demo-reverse", k): v for k, v in files.items()}
    arrived = flow.wait_for_objects(ctx, "burst-out", wanted, timeout=40)
    assert arrived.complete, f"missing {arrived.missing}; sandbox: {sandbox.activity.snapshot()}"
    for key, body in wanted.items():
        assert arrived.found[key][0] == apply(["reverse"], body.decode()).encode()

    # Every task ran the runner to its end: stopped in ECS with the container's exit code, and
    # its output shipped to the pipeline's log group (as the awslogs driver would).
    ecs = ctx.client("ecs")
    cluster = names.cluster("burst")
    assert _until(lambda: sandbox.wait_quiet(timeout=1), timeout=20)
    stopped = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    assert stopped
    for task in ecs.describe_tasks(cluster=cluster, tasks=stopped)["tasks"]:
        assert task["lastStatus"] == "STOPPED"
        assert task["stoppedReason"] == "Essential container in task exited"
        assert task["containers"][0]["exitCode"] == 0
    logs = ctx.client("logs")
    streams = logs.describe_log_streams(logGroupName=names.log_group("burst"))["logStreams"]
    # issue 12: the runner's per-file streams (files/<step>/...) share the group
    streams = [s for s in streams if not s["logStreamName"].startswith("files/")]
    assert streams and all(s["logStreamName"].startswith("s1/algorithm/") for s in streams)
    events = logs.get_log_events(
        logGroupName=names.log_group("burst"), logStreamName=streams[0]["logStreamName"]
    )["events"]
    assert events

    launched = _instances(ctx, "burst")
    assert len(launched) == 1, [i["InstanceId"] for i in launched]
    instance = launched[0]["InstanceId"]
    alarm = names.alarm("burst", "s1", instance)
    cloudwatch = ctx.client("cloudwatch")
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]]

    # Idle (Timings.fast(): 1.5 s without a task): terminated, deregistered, alarm deleted.
    gone = _until(lambda: not _instances(ctx, "burst", ["pending", "running"]), timeout=30)
    assert gone, f"instance {instance} still running; sandbox: {sandbox.activity.snapshot()}"
    assert _instances(ctx, "burst")[0]["State"]["Name"] in ("shutting-down", "terminated")
    assert (
        ctx.client("ecs").list_container_instances(cluster=names.cluster("burst"))[
            "containerInstanceArns"
        ]
        == []
    )
    assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"] == []


def test_a_task_whose_instance_dies_loses_no_file(
    sandbox: Sandbox, prepared: Any, catalog: Catalog
) -> None:
    ctx = prepared
    catalog.add(flow.text_algorithm("demo-slow", "slow"))
    workflow = flow.workflow_for("crash", ["demo-slow"], "crash-in", "crash-out")
    flow.deploy_workflow(ctx, workflow, catalog)
    flow.upload(ctx, "crash-in", {"slow.txt": b"survives\n"})

    assert _until(lambda: [t for t in sandbox.local_tasks() if t["family"] == "yunpipe-crash-s1"])
    first = _instances(ctx, "crash", ["running"])
    assert len(first) == 1
    # The instance dies while the algorithm runs (as if terminated from the console).
    ctx.client("ec2").terminate_instances(InstanceIds=[first[0]["InstanceId"]])

    ecs = ctx.client("ecs")
    cluster = names.cluster("crash")

    def stopped_by_host() -> list[dict[str, Any]]:
        arns = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
        return [t for t in tasks if t.get("stoppedReason") == "Host EC2 instance terminated"]

    assert _until(stopped_by_host, timeout=20)
    # The runner released the message on SIGTERM; the reconcile starts a task on a new
    # instance and the file is processed after all.
    key = flow.result_name("demo-slow", "slow.txt")
    arrived = flow.wait_for_objects(ctx, "crash-out", [key], timeout=60)
    assert arrived.complete, f"file lost; sandbox: {sandbox.activity.snapshot()}"
    assert arrived.found[key][0] == b"SURVIVES\n"
    assert len(_instances(ctx, "crash")) == 2
