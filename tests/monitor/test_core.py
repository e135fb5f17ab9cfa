"""The monitor core against mock_aws: depths, dead letters, instances, alarms, tasks, the call
budget, partial failures and the actions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.files.helpers import demo_ledger
from tests.monitor.helpers import INPUT, PIPELINE, build_pipeline, launch_instance
from yunpipe_tui import resource_names as names
from yunpipe_tui.errors import InputError, YunpipeError
from yunpipe_tui.monitor import (
    Monitor,
    PipelineTarget,
    Snapshot,
    append_history,
    format_duration,
)


def send(aws: Any, url: str, n: int, delay: int = 0) -> None:
    for i in range(n):
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=f"m{i}", DelaySeconds=delay)


def budget(steps: int) -> int:
    return 2 * steps + 5  # issue 12: one ledger Query (the `#counts` partition) per poll


def test_queue_depths_after_messages_are_sent(aws, pipeline) -> None:
    urls = pipeline.urls
    send(aws, urls[names.queue(PIPELINE, "s1")], 3)
    send(aws, urls[names.queue(PIPELINE, "s2")], 2, delay=60)
    send(aws, urls[names.dead_letter_queue(PIPELINE, "s2")], 4)
    aws.client("sqs").receive_message(
        QueueUrl=urls[names.queue(PIPELINE, "s1")], MaxNumberOfMessages=1
    )
    with Monitor(aws, pipeline.target) as mon:
        snap = mon.poll()
    assert snap.ok, snap.errors
    s1, s2 = snap.queue("s1"), snap.queue("s2")
    assert (s1.visible, s1.in_flight, s1.delayed, s1.dead_letter) == (2, 1, 0, 0)
    assert (s2.visible, s2.in_flight, s2.delayed, s2.dead_letter) == (0, 0, 2, 4)
    assert s1.oldest_age_s is None  # documented: not obtainable within the budget


def test_messages_really_move_to_the_dead_letter_queue(aws, pipeline) -> None:
    sqs = aws.client("sqs")
    url = pipeline.urls[names.queue(PIPELINE, "s1")]
    send(aws, url, 1)
    for _ in range(4):  # maxReceiveCount 3: the fourth receive moves it
        sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
    with Monitor(aws, pipeline.target) as mon:
        q = mon.poll().queue("s1")
    assert q.dead_letter == 1 and q.visible == 0


def test_instances_alarms_and_tasks(aws, pipeline) -> None:
    inst = launch_instance(aws, PIPELINE, "s1")
    launch_instance(aws, "other", "s1")  # another pipeline's instance is not shown
    bare = launch_instance(aws, PIPELINE, "s2", alarm=False)
    ecs = aws.client("ecs")
    cluster = names.cluster(PIPELINE)
    doc = {"instanceId": inst, "region": "us-east-1"}
    ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=json.dumps(doc))
    ecs.register_task_definition(
        family=names.task_family(PIPELINE, "s1"),
        containerDefinitions=[{"name": "algorithm", "image": "alg", "memory": 128}],
    )
    arns = [
        t["taskArn"]
        for t in ecs.run_task(
            cluster=cluster, taskDefinition=names.task_family(PIPELINE, "s1"), count=2
        )["tasks"]
    ]
    aws.counter.reset()
    with Monitor(aws, pipeline.target) as mon:
        snap = mon.poll()
        assert snap.ok, snap.errors
        by_id = {i.id: i for i in snap.instances}
        assert set(by_id) == {inst, bare}
        assert by_id[inst].step == "s1" and by_id[inst].type == "t3.medium"
        assert by_id[inst].state == "running"
        assert by_id[inst].alarm_name == names.alarm(PIPELINE, "s1", inst)
        assert by_id[inst].alarm_state in ("OK", "INSUFFICIENT_DATA", "ALARM")
        assert by_id[bare].alarm_state is None
        assert by_id[inst].running_tasks == 2
        assert {t.arn for t in snap.tasks} == set(arns)
        assert all(t.step == "s1" and t.instance_id == inst for t in snap.tasks)
        # A task that stops leaves the RUNNING list; its stop reason still shows.
        ecs.stop_task(cluster=cluster, task=arns[0], reason="Essential container exited")
        snap2 = mon.poll()
    stopped = next(t for t in snap2.tasks if t.arn == arns[0])
    assert stopped.stop_reason == "Essential container exited"
    assert not stopped.active
    assert snap2.tasks[-1].arn == arns[0]  # active tasks first
    # A monitor started later shows the stopped task (and its reason) from its first poll.
    with Monitor(aws, pipeline.target) as fresh:
        first = {t.arn: t for t in fresh.poll().tasks}
    assert first[arns[0]].stop_reason == "Essential container exited"


def test_call_budget_per_poll(aws) -> None:
    built = build_pipeline(aws, steps=3, urls=False)  # no URLs: the first poll looks them up
    inst = launch_instance(aws, PIPELINE, "s1")
    ecs = aws.client("ecs")
    cluster = names.cluster(PIPELINE)
    ecs.register_container_instance(
        cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": inst})
    )
    ecs.register_task_definition(
        family=names.task_family(PIPELINE, "s1"),
        containerDefinitions=[{"name": "algorithm", "image": "alg", "memory": 128}],
    )
    ecs.run_task(cluster=cluster, taskDefinition=names.task_family(PIPELINE, "s1"))
    demo_ledger(aws, PIPELINE)  # files in the ledger: their counts cost one Query per poll
    with Monitor(aws, built.target) as mon:
        aws.counter.reset()
        first = mon.poll()
        cold = aws.counter.snapshot()
        assert cold.get("sqs.GetQueueUrl") == 6  # cached from now on
        assert cold.get("ecs.DescribeContainerInstances") == 1
        assert cold.get("ecs.ListTasks") == 2  # RUNNING, and once the recently STOPPED
        for _ in range(3):
            aws.counter.reset()
            snap = mon.poll()
            calls = aws.counter.snapshot()
            assert snap.ok and first.ok
            assert aws.counter.total <= budget(3), calls
            assert snap.api_calls == aws.counter.total
            assert calls["sqs.GetQueueAttributes"] == 6
            for op in (
                "dynamodb.Query",
                "ec2.DescribeInstances",
                "ecs.ListTasks",
                "ecs.DescribeTasks",
                "cloudwatch.DescribeAlarms",
            ):
                assert calls[op] == 1, calls
            assert "sqs.GetQueueUrl" not in calls


def test_a_failing_sub_call_marks_only_its_part(aws, pipeline) -> None:
    from botocore.exceptions import ClientError

    send(aws, pipeline.urls[names.queue(PIPELINE, "s2")], 5)
    s1 = pipeline.urls[names.queue(PIPELINE, "s1")]

    def fail(params: dict, **_: Any) -> None:
        if params.get("QueueUrl") == s1:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetQueue")

    def fail_alarms(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "DescribeAlarms")

    aws.add_hook("before-parameter-build.sqs.GetQueueAttributes", fail)
    aws.add_hook("before-call.cloudwatch.DescribeAlarms", fail_alarms)
    inst = launch_instance(aws, PIPELINE, "s1")
    with Monitor(aws, pipeline.target) as mon:
        snap = mon.poll()
    parts = {e.part for e in snap.errors}
    assert parts == {"queue:s1", "alarms"}
    assert "AccessDenied" in snap.queue("s1").error
    assert snap.queue("s1").visible is None and snap.queue("s1").dead_letter == 0
    assert snap.queue("s2").visible == 5 and snap.queue("s2").error is None
    assert [i.id for i in snap.instances] == [inst]  # instances still shown, without alarm state
    assert snap.instances[0].alarm_state is None


def test_missing_cluster_and_queue(aws) -> None:
    target = PipelineTarget.from_names("ghost", 1, region="us-east-1")
    with Monitor(aws, target) as mon:
        snap = mon.poll()
    assert {e.part for e in snap.errors} == {"queue:s1", "dlq:s1"}
    assert snap.tasks == () and snap.instances == ()


def test_json_shape(aws, pipeline) -> None:
    with Monitor(aws, pipeline.target) as mon:
        data = json.loads(json.dumps(mon.poll().to_json()))
    assert set(data) >= {"pipeline", "taken_at", "queues", "instances", "tasks", "errors"}
    assert data["pipeline"] == PIPELINE
    assert [q["step"] for q in data["queues"]] == ["s1", "s2"]
    keys = {"step", "name", "visible", "in_flight", "delayed", "dead_letter"}
    assert set(data["queues"][0]) >= keys


def test_history_is_pure_and_bounded() -> None:
    from datetime import UTC, datetime

    from yunpipe_tui.monitor import QueueStats

    def snap(v1: int | None) -> Snapshot:
        return Snapshot(
            pipeline="p",
            taken_at=datetime(2026, 1, 1, tzinfo=UTC),
            queues=(QueueStats("s1", "q1", "d1", visible=v1),),
        )

    h0: dict = {}
    h1 = append_history(h0, snap(3), size=3)
    assert h0 == {} and h1 == {"s1": (3,)}
    h = h1
    for v in (4, None, 6, 7):
        h = append_history(h, snap(v), size=3)
    assert h["s1"] == (4, 6, 7)
    assert append_history(h1, snap(None))["s1"] == (3, 3)
    assert format_duration(None) == "—" and format_duration(65) == "1m05s"
    assert format_duration(7300) == "2h01m" and format_duration(90000) == "1d01h"


def test_upload_redrive_terminate(aws, pipeline, tmp_path) -> None:
    sqs = aws.client("sqs")
    dlq = pipeline.urls[names.dead_letter_queue(PIPELINE, "s1")]
    for i in range(13):
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=f"b{i}",
            MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
        )
    f = tmp_path / "scan 1.nii"
    f.write_bytes(b"data")
    inst = launch_instance(aws, PIPELINE, "s1")
    foreign = launch_instance(aws, "other", "s1")
    with Monitor(aws, pipeline.target) as mon:
        assert mon.upload(f) == f"s3://{INPUT}/scan 1.nii"
        assert aws.client("s3").get_object(Bucket=INPUT, Key="scan 1.nii")["Body"].read() == b"data"
        with pytest.raises(InputError):
            mon.upload(tmp_path / "missing")
        assert mon.redrive("s1") == 13
        snap = mon.poll()
        assert snap.queue("s1").visible == 13 and snap.queue("s1").dead_letter == 0
        moved = sqs.receive_message(
            QueueUrl=pipeline.urls[names.queue(PIPELINE, "s1")], MessageAttributeNames=["All"]
        )["Messages"][0]
        assert moved["MessageAttributes"]["k"]["StringValue"] == "v"
        assert mon.redrive("s1") == 0
        with pytest.raises(InputError):
            mon.redrive("s9")
        with pytest.raises(YunpipeError, match="not tagged"):
            mon.terminate(foreign)
        mon.terminate(inst)
        assert (
            aws.client("cloudwatch").describe_alarms(
                AlarmNames=[names.alarm(PIPELINE, "s1", inst)]
            )["MetricAlarms"]
            == []
        )
        states = {i.id: i.state for i in mon.poll().instances}
    assert states.get(inst) in (None, "shutting-down")


def test_upload_without_input_bucket(aws) -> None:
    target = PipelineTarget.from_names("p", 1)
    with Monitor(aws, target) as mon, pytest.raises(YunpipeError, match="input bucket"):
        mon.upload(__file__)


def _s3_body(bucket: str, key: str) -> str:
    record = {"s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": "e1"}}}
    return json.dumps({"Records": [record]})


def test_retry_all_failed_marks_the_ledger_queued_again(aws, pipeline) -> None:
    from tests.ledger.helpers import make_table, put_step
    from yunpipe_tui import ledger

    make_table(aws, PIPELINE)
    put_step(aws, PIPELINE, "bad.txt", "s1", "failed", input=f"s3://{INPUT}/bad.txt", error="x")
    dlq = pipeline.urls[names.dead_letter_queue(PIPELINE, "s1")]
    aws.client("sqs").send_message(QueueUrl=dlq, MessageBody=_s3_body(INPUT, "bad.txt"))
    with Monitor(aws, pipeline.target) as mon:
        assert mon.redrive_failed() == 1
        snap = mon.poll()
    assert snap.queue("s1").visible == 1 and snap.queue("s1").dead_letter == 0
    # the Files view and `yunpipe files` now say the file waits, not that it failed
    (story,) = ledger.file_story(aws, PIPELINE, "bad.txt")
    assert story.state == "queued"
    assert list(ledger.files(aws, PIPELINE, "failed")) == []


def test_retry_all_failed_without_a_ledger_still_moves_the_dead_letters(aws, pipeline) -> None:
    dlq = pipeline.urls[names.dead_letter_queue(PIPELINE, "s1")]
    for i in range(3):
        aws.client("sqs").send_message(QueueUrl=dlq, MessageBody=_s3_body(INPUT, f"{i}.txt"))
    with Monitor(aws, pipeline.target) as mon:
        assert mon.redrive_failed() == 3
        assert mon.poll().queue("s1").dead_letter == 0
