"""The places where the sandbox reaches into moto: pinned version, each hook present, installed
only while a sandbox runs, and each one doing what AWS does."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.conftest import zip_of
from yunpipe_tui.sandbox import Sandbox

# A stand-in dispatcher (test only): the same entry points as lambda/dispatcher.py; it records
# each event and the configuration it was given in a queue.
RECORDER = """
import json
from dataclasses import dataclass

@dataclass(frozen=True)
class DispatcherConfig:
    queue_url: str
    endpoint_url: str
    step: str

    @classmethod
    def from_env(cls, env):
        return cls(env["YUNPIPE_QUEUE_URL"], env["YUNPIPE_ENDPOINT_URL"], env["YUNPIPE_STEP"])

def dispatch(event, config, clients=None, remaining_ms=None):
    body = {"event": event, "endpoint": config.endpoint_url, "step": config.step,
            "remaining_ms": remaining_ms}
    clients["sqs"].send_message(QueueUrl=config.queue_url, MessageBody=json.dumps(body))
    return {"recorded": config.step}

def handler(event, context):
    raise RuntimeError("the sandbox must call dispatch(), not handler()")
"""


def _recorder(ctx: Any, name: str, step: str) -> tuple[str, str]:
    iam, sqs, lam = ctx.client("iam"), ctx.client("sqs"), ctx.client("lambda")
    try:
        role = iam.get_role(RoleName="recorder")["Role"]["Arn"]
    except ClientError:
        role = iam.create_role(RoleName="recorder", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    queue = sqs.create_queue(QueueName=f"{name}-q")["QueueUrl"]
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="dispatcher.handler",
        Code={"ZipFile": zip_of({"dispatcher.py": RECORDER})},
        Timeout=30,
        Environment={"Variables": {"YUNPIPE_QUEUE_URL": queue, "YUNPIPE_STEP": step}},
    )["FunctionArn"]
    return arn, queue


def _receive(ctx: Any, queue: str, wait: int = 5) -> list[dict[str, Any]]:
    got = ctx.client("sqs").receive_message(
        QueueUrl=queue, WaitTimeSeconds=wait, MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_s3_upload_runs_the_function_code_with_explicit_config(
    sandbox: Sandbox, ctx: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    arn, queue = _recorder(ctx, "yunpipe-upload-s1-dispatch", "s1")
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket="hook-input")
    s3.put_bucket_notification_configuration(
        Bucket="hook-input",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    s3.put_object(Bucket="hook-input", Key="a dir/b c.txt", Body=b"x")
    bodies = _receive(ctx, queue)
    assert bodies, "the S3 event never reached the function's code"
    body = bodies[0]
    assert body["endpoint"] == sandbox.endpoint
    assert body["step"] == "s1"
    assert body["remaining_ms"] == 15_000  # the function's 30 s, capped by the test timings
    record = body["event"]["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "a+dir%2Fb+c.txt"  # moto's quote_plus, as AWS
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # nothing from moto, werkzeug or docker on the terminal


def test_concurrent_functions_keep_their_own_configuration(sandbox: Sandbox, ctx: Any) -> None:
    first, q1 = _recorder(ctx, "yunpipe-conc-s1-dispatch", "s1")
    second, q2 = _recorder(ctx, "yunpipe-conc-s2-dispatch", "s2")
    s3 = ctx.client("s3")
    for bucket, arn in (("hook-one", first), ("hook-two", second)):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
    for i in range(6):
        s3.put_object(Bucket="hook-one", Key=f"f{i}", Body=b"1")
        s3.put_object(Bucket="hook-two", Key=f"f{i}", Body=b"2")
    got1: list[dict[str, Any]] = []
    got2: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while (len(got1) < 6 or len(got2) < 6) and time.monotonic() < deadline:
        got1 += _receive(ctx, q1, wait=1)
        got2 += _receive(ctx, q2, wait=1)
    assert len(got1) == 6 and len(got2) == 6
    assert {b["step"] for b in got1} == {"s1"}
    assert {b["step"] for b in got2} == {"s2"}
    assert {b["event"]["Records"][0]["s3"]["bucket"]["name"] for b in got2} == {"hook-two"}


def test_direct_invoke_runs_the_dispatcher_without_docker(sandbox: Sandbox, ctx: Any) -> None:
    _, queue = _recorder(ctx, "yunpipe-invoke-s1-dispatch", "s1")
    answer = ctx.client("lambda").invoke(
        FunctionName="yunpipe-invoke-s1-dispatch", Payload=b'{"yunpipe": "reconcile"}'
    )
    assert json.loads(answer["Payload"].read()) == {"recorded": "s1"}
    assert _receive(ctx, queue)[0]["event"] == {"yunpipe": "reconcile"}


def test_schedules_fire_their_lambda_targets(sandbox: Sandbox, ctx: Any) -> None:
    arn, queue = _recorder(ctx, "yunpipe-sched-s1-dispatch", "s1")
    events = ctx.client("events")
    rule = events.put_rule(Name="yunpipe-hook-reconcile", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="yunpipe-hook-reconcile", Targets=[{"Id": "s1", "Arn": arn}])
    bodies = _receive(ctx, queue, wait=5)  # Timings.fast(): every second
    assert bodies
    event = bodies[0]["event"]
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [rule["RuleArn"]]
    events.disable_rule(Name="yunpipe-hook-reconcile")
    time.sleep(0.1)
    assert sandbox.activity.snapshot()["reconciles"] >= 1


def _cluster_with_instance(
    ctx: Any, cluster: str, instance_type: str = "t3.micro"
) -> tuple[str, str]:
    """A cluster with one container instance (no yunpipe:managed tag: the agent leaves it)."""
    ec2, ecs = ctx.client("ec2"), ctx.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, InstanceType=instance_type, MinCount=1, MaxCount=1)[
        "Instances"
    ][0]["InstanceId"]
    arn = ecs.register_container_instance(
        cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": instance})
    )["containerInstance"]["containerInstanceArn"]
    return instance, arn


def test_container_instances_get_their_instance_types_resources(sandbox: Sandbox, ctx: Any) -> None:
    _, arn = _cluster_with_instance(ctx, "res-cluster", "t3.micro")
    described = ctx.client("ecs").describe_container_instances(
        cluster="res-cluster", containerInstances=[arn]
    )["containerInstances"][0]
    registered = {r["name"]: r.get("integerValue") for r in described["registeredResources"]}
    # t3.micro: 2 vCPUs, 1024 MiB less what the agent and Docker keep; moto alone says 4096/7482.
    assert registered["CPU"] == 2048
    assert registered["MEMORY"] == 768


def test_run_task_on_an_empty_cluster_is_refused_as_on_aws(sandbox: Sandbox, ctx: Any) -> None:
    ecs = ctx.client("ecs")
    ecs.create_cluster(clusterName="yunpipe-empty")
    ecs.register_task_definition(
        family="yunpipe-empty-s1",
        containerDefinitions=[{"name": "algorithm", "image": "x", "memory": 128}],
    )
    attempts: list[str] = []
    ecs.meta.events.register("before-send.ecs.RunTask", lambda **kw: attempts.append("x"))
    with pytest.raises(ClientError) as caught:
        ecs.run_task(cluster="yunpipe-empty", taskDefinition="yunpipe-empty-s1")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "No Container Instances" in caught.value.response["Error"]["Message"]
    assert attempts == ["x"]  # a client error: not an HTTP 500 that botocore retries


def test_start_task_that_does_not_fit_fails_with_a_resource_reason(
    sandbox: Sandbox, ctx: Any
) -> None:
    _, arn = _cluster_with_instance(ctx, "fit-cluster", "t3.micro")
    ecs = ctx.client("ecs")
    ecs.register_task_definition(
        family="big", containerDefinitions=[{"name": "algorithm", "image": "x", "memory": 512}]
    )
    first = ecs.start_task(cluster="fit-cluster", taskDefinition="big", containerInstances=[arn])
    assert len(first["tasks"]) == 1 and first["failures"] == []
    second = ecs.start_task(cluster="fit-cluster", taskDefinition="big", containerInstances=[arn])
    assert second["tasks"] == []
    assert second["failures"] == [{"arn": arn, "reason": "RESOURCE:MEMORY"}]


def test_start_task_gives_each_gpu_to_one_task_at_a_time(sandbox: Sandbox, ctx: Any) -> None:
    # Two dispatchers racing for one g4dn.xlarge (one GPU) both saw it empty: ECS places one.
    _, arn = _cluster_with_instance(ctx, "gpu-cluster", "g4dn.xlarge")
    ecs = ctx.client("ecs")
    ecs.register_task_definition(
        family="gpu-one",
        containerDefinitions=[
            {
                "name": "algorithm",
                "image": "x",
                "memory": 512,
                "resourceRequirements": [{"type": "GPU", "value": "1"}],
            }
        ],
    )
    first = ecs.start_task(
        cluster="gpu-cluster", taskDefinition="gpu-one", containerInstances=[arn]
    )
    assert len(first["tasks"]) == 1
    second = ecs.start_task(
        cluster="gpu-cluster", taskDefinition="gpu-one", containerInstances=[arn]
    )
    assert second["failures"] == [{"arn": arn, "reason": "RESOURCE:GPU"}]
    ecs.stop_task(cluster="gpu-cluster", task=first["tasks"][0]["taskArn"], reason="done")
    third = ecs.start_task(
        cluster="gpu-cluster", taskDefinition="gpu-one", containerInstances=[arn]
    )
    assert len(third["tasks"]) == 1  # the stopped task gave its GPU back


def test_stop_task_after_its_instance_is_gone(sandbox: Sandbox, ctx: Any) -> None:
    _, arn = _cluster_with_instance(ctx, "gone-cluster", "t3.micro")
    ecs = ctx.client("ecs")
    ecs.register_task_definition(
        family="gone-small",
        containerDefinitions=[{"name": "algorithm", "image": "x", "memory": 128}],
    )
    task = ecs.start_task(
        cluster="gone-cluster", taskDefinition="gone-small", containerInstances=[arn]
    )
    task_arn = task["tasks"][0]["taskArn"]
    ecs.deregister_container_instance(cluster="gone-cluster", containerInstance=arn, force=True)
    stopped = ecs.stop_task(cluster="gone-cluster", task=task_arn, reason="gone")["task"]
    assert stopped["lastStatus"] == "STOPPED"
    with pytest.raises(ClientError) as caught:
        ecs.stop_task(cluster="gone-cluster", task="arn:aws:ecs:us-east-1:123456789012:task/nope")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"


def test_deregistering_twice_is_a_client_error_teardown_tolerates(
    sandbox: Sandbox, ctx: Any
) -> None:
    """Teardown and the idle agent may race for one instance; the loser must not see a 500."""
    from yunpipe_tui.aws import is_gone as _gone

    _, arn = _cluster_with_instance(ctx, "twice-cluster", "t3.micro")
    ecs = ctx.client("ecs")
    ecs.deregister_container_instance(cluster="twice-cluster", containerInstance=arn, force=True)
    attempts: list[str] = []
    ecs.meta.events.register(
        "before-send.ecs.DeregisterContainerInstance", lambda **kw: attempts.append("x")
    )
    with pytest.raises(ClientError) as caught:
        ecs.deregister_container_instance(
            cluster="twice-cluster", containerInstance=arn, force=True
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert attempts == ["x"]  # not retried as an HTTP 500
    assert _gone(caught.value)


def test_tasks_stay_running_until_the_executor_stops_them(sandbox: Sandbox, ctx: Any) -> None:
    _, arn = _cluster_with_instance(ctx, "manual-cluster", "t3.micro")
    ecs = ctx.client("ecs")
    ecs.register_task_definition(
        family="manual-other",
        containerDefinitions=[{"name": "algorithm", "image": "x", "memory": 128}],
    )
    task_arn = ecs.start_task(
        cluster="manual-cluster", taskDefinition="manual-other", containerInstances=[arn]
    )["tasks"][0]["taskArn"]
    for _ in range(5):  # moto would advance the task one state per describe
        status = ecs.describe_tasks(cluster="manual-cluster", tasks=[task_arn])["tasks"][0]
    assert status["lastStatus"] == "RUNNING"


FLAKY = RECORDER.replace(
    "def dispatch(event, config, clients=None, remaining_ms=None):\n",
    "CALLS = []\n\ndef dispatch(event, config, clients=None, remaining_ms=None):\n"
    "    CALLS.append(1)\n"
    "    if len(CALLS) == 1:\n"
    "        raise RuntimeError('first attempt fails')\n",
)


def test_a_failed_asynchronous_invocation_is_retried_as_lambda_does(
    sandbox: Sandbox, ctx: Any
) -> None:
    iam, sqs, lam, s3 = ctx.client("iam"), ctx.client("sqs"), ctx.client("lambda"), ctx.client("s3")
    role = iam.create_role(RoleName="flaky", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    queue = sqs.create_queue(QueueName="flaky-q")["QueueUrl"]
    arn = lam.create_function(
        FunctionName="yunpipe-flaky-s1-dispatch",
        Runtime="python3.12",
        Role=role,
        Handler="dispatcher.handler",
        Code={"ZipFile": zip_of({"dispatcher.py": FLAKY})},
        Environment={"Variables": {"YUNPIPE_QUEUE_URL": queue, "YUNPIPE_STEP": "s1"}},
    )["FunctionArn"]
    s3.create_bucket(Bucket="flaky-input")
    s3.put_bucket_notification_configuration(
        Bucket="flaky-input",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    errors_before = sandbox.activity.snapshot()["lambda_errors"]
    s3.put_object(Bucket="flaky-input", Key="once.txt", Body=b"x")
    bodies = _receive(ctx, queue, wait=5)  # the retry comes Timings.fast().reconcile (1 s) later
    assert [b["event"]["Records"][0]["s3"]["object"]["key"] for b in bodies] == ["once.txt"]
    assert sandbox.activity.snapshot()["lambda_errors"] == errors_before + 1


def test_other_functions_get_a_lambda_error_and_nothing_is_printed(
    sandbox: Sandbox, ctx: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    iam, lam = ctx.client("iam"), ctx.client("lambda")
    role = iam.create_role(RoleName="plain", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(
        FunctionName="not-a-dispatcher",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": "def handler(event, context):\n    return 1\n"})},
    )
    answer = lam.invoke(FunctionName="not-a-dispatcher", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "SandboxUnsupported"
    out, err = capfd.readouterr()
    assert "docker" not in (out + err).lower()
    assert out == "" and err == ""
