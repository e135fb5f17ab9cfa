"""The dispatcher against mock_aws with real event shapes, its call budget counted per event."""

from __future__ import annotations

import json
import threading
import urllib.parse
from typing import Any

import pytest

from tests.lambda_runner.conftest import INSTANCE_TYPE, PIPELINE, REGION, STEP, Step, s3_event
from yunpipe_tui.lambda_functions import dispatcher as d

KEY = "a%2Fb+c.txt"  # S3's encoding of "a/b c.txt"


def tasks_of_step(step: Step) -> list[dict[str, Any]]:
    ecs = step.clients["ecs"]
    arns = ecs.list_tasks(cluster=step.config.cluster, family=step.config.task_definition)[
        "taskArns"
    ]
    if not arns:
        return []
    return ecs.describe_tasks(cluster=step.config.cluster, tasks=arns)["tasks"]


def alarms(step: Step) -> list[dict[str, Any]]:
    return step.clients["cloudwatch"].describe_alarms(AlarmNamePrefix="yunpipe-")["MetricAlarms"]


def test_capacity_present_starts_a_task_within_four_calls(step: Step) -> None:
    _, arn = step.register_instance()
    step.calls.reset()

    summary = d.dispatch(s3_event("in-bucket", KEY), step.config, clients=step.clients)

    assert step.calls.names == [
        "sqs.SendMessage",
        "ecs.ListTasks",
        "ecs.ListContainerInstances",
        "ecs.StartTask",
    ]
    assert summary["sent"] == 1 and summary["started"] == 1 and summary["launched"] == 0
    tasks = tasks_of_step(step)
    assert len(tasks) == 1
    assert tasks[0]["containerInstanceArn"] == arn
    assert tasks[0]["startedBy"] == f"yunpipe-{PIPELINE}-{STEP}"
    # The queued message is the one record in S3's own SQS shape, key still encoded.
    (message,) = step.messages()
    body = json.loads(message["Body"])
    (record,) = body["Records"]
    assert record["s3"]["object"]["key"] == KEY
    assert urllib.parse.unquote_plus(record["s3"]["object"]["key"]) == "a/b c.txt"
    assert record["s3"]["bucket"]["name"] == "in-bucket"
    assert record["eventName"] == "ObjectCreated:Put"
    assert not step.step_instances()  # nothing launched
    assert not alarms(step)


def test_running_task_means_two_calls_and_no_new_task(step: Step) -> None:
    step.register_instance()
    d.dispatch(s3_event("in-bucket", KEY), step.config, clients=step.clients)
    step.calls.reset()

    summary = d.dispatch(s3_event("in-bucket", "second.txt"), step.config, clients=step.clients)

    assert step.calls.names == ["sqs.SendMessage", "ecs.ListTasks"]
    assert summary["started"] == 0 and summary["tasks"] == 1
    assert len(tasks_of_step(step)) == 1
    assert len(step.messages()) == 2


def test_no_capacity_launches_one_instance_with_its_idle_alarm(step: Step) -> None:
    config = step.with_config(key_pair="", subnet_id="").config
    summary = d.dispatch(s3_event("in-bucket", KEY), config, clients=step.clients)

    assert summary["launched"] == 1 and summary["started"] == 0
    (instance,) = step.step_instances()
    assert instance["InstanceType"] == INSTANCE_TYPE
    assert instance["ImageId"] == step.ami_id
    assert instance["IamInstanceProfile"]["Arn"].endswith("/ecsInstanceRole")
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags == {
        "Name": f"yunpipe-{PIPELINE}-{STEP}",
        "yunpipe:pipeline": PIPELINE,
        "yunpipe:step": STEP,
        "yunpipe:managed": "true",
    }
    import base64

    user_data = step.clients["ec2"].describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )["UserData"]["Value"]
    assert (
        base64.b64decode(user_data)
        .decode()
        .startswith(f"#!/bin/bash\necho ECS_CLUSTER={step.config.cluster} >> /etc/ecs/ecs.config")
    )
    (alarm,) = alarms(step)
    assert alarm["AlarmName"] == f"yunpipe-{PIPELINE}-{STEP}-idle-{instance['InstanceId']}"
    assert alarm["MetricName"] == "CPUUtilization" and alarm["Namespace"] == "AWS/EC2"
    assert alarm["Threshold"] == 1.0 and alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Period"] == 300 and alarm["EvaluationPeriods"] == 2
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": instance["InstanceId"]}]
    assert alarm["AlarmActions"] == [f"arn:aws:automate:{REGION}:ec2:terminate"]
    # The file is safe in the queue whatever happens next.
    assert len(step.messages()) == 1


def test_key_pair_subnet_and_security_group_are_used(step: Step) -> None:
    ec2 = step.clients["ec2"]
    ec2.create_key_pair(KeyName="my-key")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.create_security_group(GroupName="yp", Description="yp")["GroupId"]
    config = step.with_config(key_pair="my-key", subnet_id=subnet, security_group_id=group).config
    d.dispatch(s3_event("in-bucket", KEY), config, clients=step.clients)
    (instance,) = step.step_instances()
    assert instance["KeyName"] == "my-key"
    assert instance["SubnetId"] == subnet
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group]


def test_sequential_events_launch_only_one_instance(step: Step) -> None:
    for i in range(4):
        d.dispatch(s3_event("in-bucket", f"file-{i}.txt"), step.config, clients=step.clients)
    assert len(step.step_instances()) == 1
    assert len(alarms(step)) == 1
    assert len(step.messages()) == 4


def test_concurrent_events_launch_only_one_instance(step: Step) -> None:
    summaries: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            summaries.append(
                d.dispatch(s3_event("in-bucket", f"f{i}.txt"), step.config, clients=step.clients)
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sum(s["launched"] for s in summaries) == 1
    assert len(step.step_instances()) == 1
    assert len(alarms(step)) == 1


def test_an_instance_of_another_step_or_type_is_not_used(step: Step) -> None:
    step.register_instance(instance_type="m5.large")  # moto ignores the filter; we check the type
    summary = d.dispatch({"yunpipe": "reconcile"}, step.config, clients=step.clients)
    assert summary["depth"] == 0  # empty queue: nothing to do
    step.clients["sqs"].send_message(QueueUrl=step.config.queue_url, MessageBody="{}")
    summary = d.dispatch({"yunpipe": "reconcile"}, step.config, clients=step.clients)
    assert summary["started"] == 0 and summary["launched"] == 1


def test_launched_instance_is_used_once_it_registers(
    step: Step, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(d, "BACKOFF_SECONDS", (0.05, 0.1, 0.2))
    monkeypatch.setattr(d, "SAFETY_MARGIN_MS", 100)

    def boot(parsed: dict[str, Any], **_: Any) -> None:
        # The instance "boots" and its ECS agent registers it right after RunInstances.
        instance_id = parsed["Instances"][0]["InstanceId"]
        step.clients["ecs"].register_container_instance(
            cluster=step.config.cluster,
            instanceIdentityDocument=json.dumps({"instanceId": instance_id}),
        )

    step.clients["ec2"].meta.events.register("after-call.ec2.RunInstances", boot)
    summary = d.dispatch(
        s3_event("in-bucket", KEY), step.config, clients=step.clients, remaining_ms=5_000
    )
    assert summary["launched"] == 1 and summary["started"] == 1
    (task,) = tasks_of_step(step)
    assert task["startedBy"] == f"yunpipe-{PIPELINE}-{STEP}"


def test_no_wait_beyond_the_remaining_time(step: Step) -> None:
    import time

    began = time.monotonic()
    summary = d.dispatch(
        s3_event("in-bucket", KEY), step.config, clients=step.clients, remaining_ms=9_000
    )
    # 9 s left minus the 10 s safety margin: no wait at all, the reconcile takes over.
    assert time.monotonic() - began < 2
    assert summary["launched"] == 1 and summary["started"] == 0


SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-24T20:31:00Z",
    "region": REGION,
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/yunpipe-demo-reconcile"],
    "detail": {},
}


def test_reconcile_starts_one_task_per_message_up_to_the_maximum(step: Step) -> None:
    step.register_instance()
    for i in range(3):
        step.clients["sqs"].send_message(QueueUrl=step.config.queue_url, MessageBody=f"m{i}")
    step.calls.reset()
    summary = d.dispatch(SCHEDULED, step.with_config(max_tasks=2).config, clients=step.clients)
    assert summary["depth"] == 3 and summary["started"] == 2
    assert step.calls.names[:4] == [
        "sqs.GetQueueAttributes",
        "ecs.ListTasks",
        "ecs.ListContainerInstances",
        "ecs.DescribeContainerInstances",
    ]
    assert len(tasks_of_step(step)) == 2
    # Enough tasks now: the next reconcile only looks.
    step.calls.reset()
    summary = d.dispatch(SCHEDULED, step.with_config(max_tasks=2).config, clients=step.clients)
    assert summary["started"] == 0
    assert step.calls.names == ["sqs.GetQueueAttributes", "ecs.ListTasks"]


def test_reconcile_with_an_empty_queue_is_one_call(step: Step) -> None:
    summary = d.dispatch(SCHEDULED, step.config, clients=step.clients)
    assert step.calls.names == ["sqs.GetQueueAttributes"]
    assert summary["started"] == 0 and summary["launched"] == 0


def test_reconcile_checks_remaining_resources(step: Step) -> None:
    step.register_instance()  # moto's instances have 7482 MiB
    step.clients["sqs"].send_message(QueueUrl=step.config.queue_url, MessageBody="m")
    summary = d.dispatch(SCHEDULED, step.with_config(task_memory=8000).config, clients=step.clients)
    assert summary["started"] == 0 and summary["launched"] == 1


def test_refused_start_falls_back_to_an_instance_with_room(step: Step) -> None:
    _, first = step.register_instance()
    _, second = step.register_instance()
    ecs = step.clients["ecs"]

    def refuse_first(params: dict[str, Any], **_: Any) -> Any:
        body = json.loads(params["body"])  # the serialised JSON request
        if body["containerInstances"] == [first]:
            # What ECS answers when the instance lacks memory (moto never refuses).
            return (
                type("R", (), {"status_code": 200, "headers": {}})(),
                {"tasks": [], "failures": [{"arn": first, "reason": "RESOURCE:MEMORY"}]},
            )
        return None

    ecs.meta.events.register("before-call.ecs.StartTask", refuse_first)
    arns = ecs.list_container_instances(cluster=step.config.cluster)["containerInstanceArns"]
    if arns[0] != first:
        first, second = second, first
    summary = d.dispatch(s3_event("in-bucket", KEY), step.config, clients=step.clients)
    assert summary["started"] == 1 and summary["launched"] == 0
    (task,) = tasks_of_step(step)
    assert task["containerInstanceArn"] == second


@pytest.mark.parametrize(
    "event",
    [
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "in-bucket"},
        {"Records": [{"eventName": "s3:TestEvent", "s3": {}}]},
        {"Records": []},
        {"Records": [{"eventSource": "aws:sqs", "body": "x"}]},
    ],
)
def test_test_events_and_foreign_records_are_ignored(step: Step, event: dict[str, Any]) -> None:
    summary = d.dispatch(event, step.config, clients=step.clients)
    assert step.calls.names == []
    assert summary["sent"] == 0 and summary["started"] == 0


def test_several_records_go_in_one_batch(step: Step) -> None:
    step.register_instance()
    event = s3_event("in-bucket", "one.txt")
    event["Records"].append(s3_event("in-bucket", "two%2Bthree.txt")["Records"][0])
    step.calls.reset()
    summary = d.dispatch(event, step.config, clients=step.clients)
    assert summary["sent"] == 2 and summary["started"] == 1
    assert step.calls.names[0] == "sqs.SendMessageBatch"
    bodies = [json.loads(m["Body"]) for m in step.messages()]
    keys = sorted(b["Records"][0]["s3"]["object"]["key"] for b in bodies)
    assert keys == ["one.txt", "two%2Bthree.txt"]


def test_names_agree_with_names_module() -> None:
    from yunpipe_tui import resource_names as names

    assert d.PREFIX == names.PREFIX
    assert (d.TAG_PIPELINE, d.TAG_STEP, d.TAG_MANAGED) == (
        names.TAG_PIPELINE,
        names.TAG_STEP,
        names.TAG_MANAGED,
    )
    for pipeline, step_id in [("demo", "s1"), ("my-long-pipeline-name", "s12")]:
        assert d.base_name(pipeline, step_id) == names.base(pipeline, step_id)
        assert d.base_name(pipeline) == names.cluster(pipeline)
        assert d.base_name(pipeline, step_id) == names.task_family(pipeline, step_id)
        assert d.alarm_name(pipeline, step_id, "i-0abc") == names.alarm(pipeline, step_id, "i-0abc")
    assert d.started_by("demo", "s1") == names.base("demo", "s1")
    long = d.started_by("a-very-long-pipeline-name-for-ecs", "s2")
    assert len(long) <= 36 and long.startswith("yunpipe-a-very")
    assert long != d.started_by("a-very-long-pipeline-name-for-ecs", "s3")


ENV = {
    "YUNPIPE_PIPELINE": "demo",
    "YUNPIPE_STEP": "s1",
    "YUNPIPE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/yunpipe-demo-s1-queue",
    "YUNPIPE_CLUSTER": "yunpipe-demo",
    "YUNPIPE_TASK_DEFINITION": "yunpipe-demo-s1",
    "YUNPIPE_CONTAINER": "algorithm",
    "YUNPIPE_TASK_MEMORY": "512",
    "YUNPIPE_TASK_CPU": "256",
    "YUNPIPE_INSTANCE_TYPE": "t3.small",
    "YUNPIPE_AMI_ID": "ami-12345678",
    "YUNPIPE_INSTANCE_PROFILE": "ecsInstanceRole",
    "YUNPIPE_KEY_PAIR": "",
    "YUNPIPE_SUBNET_ID": "",
    "YUNPIPE_SECURITY_GROUP_ID": "",
    "YUNPIPE_ENDPOINT_URL": "",
    "AWS_REGION": "eu-west-1",
}


def test_config_from_env() -> None:
    config = d.DispatcherConfig.from_env(ENV)
    assert config.task_memory == 512 and config.task_cpu == 256
    assert config.max_tasks == 10 and config.region == "eu-west-1"
    assert config.key_pair == "" and config.endpoint_url == ""
    with pytest.raises(d.ConfigError, match="YUNPIPE_QUEUE_URL"):
        d.DispatcherConfig.from_env({**ENV, "YUNPIPE_QUEUE_URL": ""})
    with pytest.raises(d.ConfigError, match="YUNPIPE_TASK_MEMORY"):
        d.DispatcherConfig.from_env({**ENV, "YUNPIPE_TASK_MEMORY": "lots"})


def test_handler_reads_the_environment(step: Step, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        **ENV,
        "YUNPIPE_QUEUE_URL": step.config.queue_url,
        "YUNPIPE_AMI_ID": step.ami_id,
        "AWS_REGION": REGION,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 3_000

    summary = d.handler(s3_event("in-bucket", KEY), Context())
    assert summary["sent"] == 1 and summary["launched"] == 1


def test_call_sequence_without_capacity(step: Step) -> None:
    d.dispatch(s3_event("in-bucket", "one.txt"), step.config, clients=step.clients)
    assert step.calls.names == [
        "sqs.SendMessage",
        "ecs.ListTasks",
        "ecs.ListContainerInstances",
        "ec2.DescribeInstances",
        "ec2.RunInstances",
        "cloudwatch.PutMetricAlarm",
    ]
    step.calls.reset()
    # While that instance boots, later events only queue and look.
    summary = d.dispatch(s3_event("in-bucket", "two.txt"), step.config, clients=step.clients)
    assert step.calls.names == [
        "sqs.SendMessage",
        "ecs.ListTasks",
        "ecs.ListContainerInstances",
        "ec2.DescribeInstances",
    ]
    assert summary["launched"] == 0 and summary["started"] == 0


def test_a_token_answering_with_a_terminated_instance_launches_a_fresh_one(step: Step) -> None:
    tokens: list[str] = []

    def gone_first(params: dict[str, Any], **_: Any) -> Any:
        tokens.append(params["body"]["ClientToken"])  # the query protocol's serialised form
        if len(tokens) == 1:  # EC2's idempotent answer: the instance this token launched, gone
            response = type("R", (), {"status_code": 200, "headers": {}})()
            gone = {"InstanceId": "i-0gone", "State": {"Name": "terminated"}}
            return response, {"Instances": [gone]}
        return None

    step.clients["ec2"].meta.events.register("before-call.ec2.RunInstances", gone_first)
    summary = d.dispatch(s3_event("in-bucket", KEY), step.config, clients=step.clients)
    assert summary["launched"] == 1
    (instance,) = step.step_instances()
    assert instance["InstanceId"] != "i-0gone"
    assert len(tokens) == 2 and tokens[0] and tokens[1] and tokens[0] != tokens[1]
    (alarm,) = alarms(step)
    assert alarm["Dimensions"][0]["Value"] == instance["InstanceId"]


def test_reconcile_starts_nothing_for_messages_only_in_flight(step: Step) -> None:
    """A runner that died holding a message leaves it invisible (up to the visibility timeout);
    tasks started for it would find nothing and exit idle, minute after minute."""
    step.register_instance()
    sqs = step.clients["sqs"]
    for i in range(2):
        sqs.send_message(QueueUrl=step.config.queue_url, MessageBody=f"m{i}")
    held = sqs.receive_message(
        QueueUrl=step.config.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600
    )["Messages"]
    assert len(held) == 2
    step.calls.reset()
    summary = d.dispatch(SCHEDULED, step.config, clients=step.clients)
    assert summary["started"] == 0 and summary["launched"] == 0
    assert summary["depth"] == 0 and summary["in_flight"] == 2
    assert step.calls.names == ["sqs.GetQueueAttributes"]
    assert tasks_of_step(step) == []


def test_reconcile_counts_busy_tasks_only_against_what_they_hold(step: Step) -> None:
    """Tasks are wanted for the visible messages plus those the running tasks hold (a task busy
    with one cannot take another); held messages without a task want none."""
    step.register_instance()
    sqs = step.clients["sqs"]
    sqs.send_message(QueueUrl=step.config.queue_url, MessageBody="held")
    sqs.receive_message(QueueUrl=step.config.queue_url, VisibilityTimeout=600)
    sqs.send_message(QueueUrl=step.config.queue_url, MessageBody="waiting")
    summary = d.dispatch(SCHEDULED, step.config, clients=step.clients)
    assert summary["started"] == 1  # no task yet: one for the waiting message, none for the held
    summary = d.dispatch(SCHEDULED, step.config, clients=step.clients)
    assert summary["started"] == 1  # that task may be busy with the held one: one more
    summary = d.dispatch(SCHEDULED, step.config, clients=step.clients)
    assert summary["started"] == 0
    assert len(tasks_of_step(step)) == 2
