"""Dispatcher: API calls per S3 event, with capacity present (goal ≤ 4) and with none.

A real pipeline is deployed on moto (mock_aws); the dispatcher runs with the configuration of
the deployed Lambda, its calls counted by a botocore hook.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import result

ROOT = Path(__file__).resolve().parents[1]


def event(bucket: str, key: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "awsRegion": "us-east-1",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 5}},
            }
        ]
    }


def main() -> None:
    os.environ["YUNPIPE_HOME"] = tempfile.mkdtemp(prefix="yunpipe-bench-")
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    import boto3
    from moto import mock_aws

    sys.path.insert(0, str(ROOT))
    from tests.deploy.helpers import make_prerequisites, plan_for, write_workflow
    from yunpipe_tui.aws import AwsContext, CallCounter
    from yunpipe_tui.catalog import Catalog, load_algorithm_file
    from yunpipe_tui.deploy import deploy
    from yunpipe_tui.lambda_functions.dispatcher import DispatcherConfig, dispatch

    with mock_aws():
        ctx = AwsContext(region="us-east-1", counter=CallCounter())
        make_prerequisites(ctx)
        catalog = Catalog()
        catalog.add(load_algorithm_file(ROOT / "tests" / "data" / "seed" / "change123.json"))
        workdir = Path(os.environ["YUNPIPE_HOME"])
        plan = plan_for(ctx, write_workflow(workdir, name="bench"), catalog)
        deploy(plan, ctx)
        step = plan.steps[0]
        env = ctx.client("lambda").get_function_configuration(FunctionName=step.dispatcher)
        config = DispatcherConfig.from_env(env["Environment"]["Variables"])

        calls: list[str] = []
        clients = {
            s: boto3.client(s, region_name="us-east-1") for s in ("sqs", "ecs", "ec2", "cloudwatch")
        }
        for client in clients.values():
            client.meta.events.register(
                "before-call.*.*", lambda event_name="", **_: calls.append(event_name)
            )

        def count(key: str) -> tuple[int, dict[str, Any]]:
            calls.clear()
            summary = dispatch(event(step.input_bucket, key), config, clients=clients)
            return len(calls), summary

        none_first, summary = count("a.txt")
        print(f"no capacity, first event: {none_first} calls ({summary})")
        none_again, _ = count("b.txt")
        print(f"no capacity, instance booting: {none_again} calls")
        # The launched instance joins the cluster (what the ECS agent does on boot).
        reservations = clients["ec2"].describe_instances()["Reservations"]
        instance = reservations[0]["Instances"][0]["InstanceId"]
        clients["ecs"].register_container_instance(
            cluster=config.cluster,
            instanceIdentityDocument=json.dumps({"instanceId": instance, "region": "us-east-1"}),
        )
        # Capacity present, no task of this step yet: stop any task the reconcile may have left.
        for arn in clients["ecs"].list_tasks(cluster=config.cluster)["taskArns"]:
            clients["ecs"].stop_task(cluster=config.cluster, task=arn)
        with_capacity, summary = count("c.txt")
        print(f"capacity present: {with_capacity} calls ({summary})")
        running, _ = count("d.txt")
        print(f"a task already running: {running} calls")

    result(
        "dispatcher_calls_with_capacity",
        with_capacity,
        "calls",
        "<=4",
        with_capacity / 4,
        with_capacity <= 4,
    )
    result("dispatcher_calls_no_capacity", none_first, "calls", "reported", None, None)
    result("dispatcher_calls_task_running", running, "calls", "reported", None, None)


if __name__ == "__main__":
    main()
