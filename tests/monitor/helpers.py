"""A pipeline's resources built by hand on mock_aws (no deploy engine), for the monitor's
core, command-line and screen tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.monitor import PipelineTarget

PIPELINE = "demo"
INPUT = "yunpipe-test-input"
OUTPUT = "yunpipe-test-output"


@dataclass
class Built:
    target: PipelineTarget
    urls: dict[str, str]


def build_pipeline(aws: Any, pipeline: str = PIPELINE, steps: int = 2, urls: bool = True) -> Built:
    """Queues (work + DLQ) per step, the cluster and the buckets, as a deploy would leave them."""
    sqs = aws.client("sqs")
    made: dict[str, str] = {}
    for i in range(steps):
        s = names.step_id(i)
        dlq = sqs.create_queue(QueueName=names.dead_letter_queue(pipeline, s))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        q = sqs.create_queue(
            QueueName=names.queue(pipeline, s),
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
            },
        )["QueueUrl"]
        made[names.queue(pipeline, s)] = q
        made[names.dead_letter_queue(pipeline, s)] = dlq
    aws.client("ecs").create_cluster(clusterName=names.cluster(pipeline))
    s3 = aws.client("s3")
    for bucket in (INPUT, OUTPUT):
        s3.create_bucket(Bucket=bucket)
    target = PipelineTarget.from_names(
        pipeline,
        steps,
        region="us-east-1",
        input_bucket=INPUT,
        output_bucket=OUTPUT,
        urls=made if urls else None,
    )
    aws.counter.reset()
    return Built(target=target, urls=made)


def launch_instance(aws: Any, pipeline: str, step: str, alarm: bool = True) -> str:
    """An instance as the dispatcher launches it: tagged, with its idle alarm."""
    ec2 = aws.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    inst = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.medium",
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "Name", "Value": names.base(pipeline, step)},
                    {"Key": names.TAG_PIPELINE, "Value": pipeline},
                    {"Key": names.TAG_STEP, "Value": step},
                    {"Key": names.TAG_MANAGED, "Value": "true"},
                ],
            }
        ],
    )["Instances"][0]["InstanceId"]
    if alarm:
        aws.client("cloudwatch").put_metric_alarm(
            AlarmName=names.alarm(pipeline, step, inst),
            MetricName="CPUUtilization",
            Namespace="AWS/EC2",
            Statistic="Average",
            Period=300,
            EvaluationPeriods=2,
            Threshold=1.0,
            ComparisonOperator="LessThanThreshold",
            Dimensions=[{"Name": "InstanceId", "Value": inst}],
            AlarmActions=["arn:aws:automate:us-east-1:ec2:terminate"],
        )
    return inst


def write_journal(built: Built, status: str = "deployed", endpoint: str = "") -> None:
    """A deploy journal for the built pipeline, in the journal module's own format."""
    from yunpipe_tui.deploy import journal

    t = built.target
    data = {
        "version": journal.VERSION,
        "pipeline": t.pipeline,
        "status": status,
        "region": "us-east-1",
        "endpoint_url": endpoint,  # where the record belongs ("" = AWS itself)
        "cluster": t.cluster,
        "workflow": {"input_s3_name": t.input_bucket, "output_s3_name": t.output_bucket},
        "steps": [
            {
                "id": s.step,
                "algorithm": f"alg{s.step}",
                "queue": s.queue_name,
                "dead_letter_queue": s.dlq_name,
                "task_family": s.task_family,
            }
            for s in t.steps
        ],
        "resources": {
            **{
                f"{s.step}/queue": {
                    "status": "created",
                    "outputs": {"url": built.urls[s.queue_name]},
                }
                for s in t.steps
            },
            **{
                f"{s.step}/dlq": {"status": "created", "outputs": {"url": built.urls[s.dlq_name]}}
                for s in t.steps
            },
        },
    }
    journal.Journal(t.pipeline, data).save()
