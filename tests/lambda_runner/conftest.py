"""Fixtures for the dispatcher and runner tests: a step's queue, cluster and task definition on
mock_aws, clients that count their API calls, and real S3 event shapes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

REGION = "us-east-1"
PIPELINE = "demo"
STEP = "s1"
INSTANCE_TYPE = "t3.small"


class Calls:
    """Records `service.Operation` for every API call made through the clients it is attached to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.names: list[str] = []

    def __call__(self, event_name: str = "", **_: Any) -> None:
        parts = event_name.split(".")
        with self._lock:
            self.names.append(f"{parts[1]}.{parts[2]}")

    def reset(self) -> None:
        with self._lock:
            self.names.clear()


@dataclass
class Step:
    config: Any
    clients: dict[str, Any]
    calls: Calls
    dlq_url: str
    ami_id: str
    extra: dict[str, Any] = field(default_factory=dict)

    def with_config(self, **changes: Any) -> Step:
        return replace(self, config=replace(self.config, **changes))

    def register_instance(self, instance_type: str = INSTANCE_TYPE) -> tuple[str, str]:
        """A running EC2 instance joined to the cluster: (instance id, container instance arn)."""
        ec2, ecs = self.clients["ec2"], self.clients["ecs"]
        instance_id = ec2.run_instances(
            ImageId=self.ami_id, InstanceType=instance_type, MinCount=1, MaxCount=1
        )["Instances"][0]["InstanceId"]
        arn = ecs.register_container_instance(
            cluster=self.config.cluster,
            instanceIdentityDocument=json.dumps({"instanceId": instance_id, "region": REGION}),
        )["containerInstance"]["containerInstanceArn"]
        return instance_id, arn

    def step_instances(self) -> list[dict[str, Any]]:
        reservations = self.clients["ec2"].describe_instances(
            Filters=[
                {"Name": "tag:yunpipe:pipeline", "Values": [PIPELINE]},
                {"Name": "tag:yunpipe:step", "Values": [STEP]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )["Reservations"]
        return [i for r in reservations for i in r["Instances"]]

    def messages(self, url: str | None = None) -> list[dict[str, Any]]:
        return (
            self.clients["sqs"]
            .receive_message(
                QueueUrl=url or self.config.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            .get("Messages", [])
        )


def s3_event(bucket: str, encoded_key: str, size: int = 5) -> dict[str, Any]:
    """An S3 ObjectCreated:Put notification as Lambda receives it (key quote_plus-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-11-24T20:30:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvA",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "yunpipe-demo-s1",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": encoded_key,
                        "size": size,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


@pytest.fixture
def step(mocked_aws: None) -> Iterator[Step]:
    import boto3

    from yunpipe_tui import resource_names as names
    from yunpipe_tui.lambda_functions.dispatcher import DispatcherConfig

    calls = Calls()
    clients = {s: boto3.client(s, region_name=REGION) for s in ("sqs", "ecs", "ec2", "cloudwatch")}
    for client in clients.values():
        client.meta.events.register("before-call.*.*", calls)
    sqs, ecs, ec2 = clients["sqs"], clients["ecs"], clients["ec2"]
    dlq_url = sqs.create_queue(QueueName=names.dead_letter_queue(PIPELINE, STEP))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=names.queue(PIPELINE, STEP),
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        },
    )["QueueUrl"]
    cluster = names.cluster(PIPELINE)
    ecs.create_cluster(clusterName=cluster)
    family = names.task_family(PIPELINE, STEP)
    ecs.register_task_definition(
        family=family,
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[
            {"name": "algorithm", "image": "busybox", "memory": 512, "cpu": 256, "essential": True}
        ],
    )
    ami_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName=names.ECS_INSTANCE_ROLE, AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName=names.ECS_INSTANCE_ROLE)
    iam.add_role_to_instance_profile(
        InstanceProfileName=names.ECS_INSTANCE_ROLE, RoleName=names.ECS_INSTANCE_ROLE
    )
    config = DispatcherConfig(
        pipeline=PIPELINE,
        step=STEP,
        queue_url=queue_url,
        cluster=cluster,
        task_definition=family,
        container="algorithm",
        task_memory=512,
        task_cpu=256,
        instance_type=INSTANCE_TYPE,
        ami_id=ami_id,
        instance_profile="ecsInstanceRole",
        region=REGION,
    )
    calls.reset()
    yield Step(config=config, clients=clients, calls=calls, dlq_url=dlq_url, ami_id=ami_id)
