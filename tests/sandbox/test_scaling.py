"""The ECS backend scales to its backlog in the sandbox: a burst of 36 slow files into a step with
`max_tasks` 12 gets the instances it needs launched together, and runs many tasks at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from tests.sandbox.test_pipeline import _instances
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.sandbox import Sandbox, flow
from yunpipe_tui.workflow import Compute

FILES = 36
MAX_TASKS = 12


def test_a_backlog_of_36_slow_files_runs_at_least_8_tasks_at_once(
    sandbox: Sandbox, prepared: Any, catalog: Catalog
) -> None:
    ctx = prepared
    catalog.add(flow.text_algorithm("demo-slow", "slow"))  # 5 s a file; t3.micro holds 6 tasks
    workflow = flow.workflow_for("scale", ["demo-slow"], "scale-in", "scale-out")
    workflow = replace(workflow, compute=Compute(max_tasks=MAX_TASKS))
    flow.deploy_workflow(ctx, workflow, catalog)
    family = names.task_family("scale", "s1")

    most = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            running = [t for t in sandbox.local_tasks() if t["family"] == family]
            most = max(most, len(running))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    files = {f"burst/{i:02d}.txt": f"file {i}\n".encode() for i in range(FILES)}
    s3 = ctx.client("s3")
    with ThreadPoolExecutor(8) as pool:  # a burst: the uploads arrive together
        for put in [
            pool.submit(s3.put_object, Bucket="scale-in", Key=k, Body=b) for k, b in files.items()
        ]:
            put.result()
    wanted = {flow.result_name("demo-slow", k): v.upper() for k, v in files.items()}
    try:
        arrived = flow.wait_for_objects(ctx, "scale-out", wanted, timeout=120)
    finally:
        done.set()
        watcher.join(timeout=5)
    assert arrived.complete, f"missing {arrived.missing}; sandbox: {sandbox.activity.snapshot()}"
    for key, body in wanted.items():
        assert arrived.found[key][0] == body
    assert most >= 8, f"at most {most} tasks ran at once; sandbox: {sandbox.activity.snapshot()}"
    assert most <= MAX_TASKS
    # 12 tasks at 6 per t3.micro: two instances, never one per task.
    launched = _instances(ctx, "scale")
    assert 2 <= len(launched) <= 3, [i["InstanceId"] for i in launched]
    assert sandbox.wait_quiet(timeout=30)
    result = flow.teardown_pipeline(ctx, "scale")
    assert result.failed == []


def test_the_sandbox_launches_up_to_max_count_as_ec2_does(sandbox: Sandbox, prepared: Any) -> None:
    ec2 = prepared.client("ec2")
    image = prepared.client("ssm").get_parameter(
        Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    )["Parameter"]["Value"]
    tags = [{"Key": "purpose", "Value": "max-count"}]
    launched = ec2.run_instances(
        ImageId=image,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=3,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"]
    assert len(launched) == 3
    ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in launched])


def test_a_gpu_step_runs_on_gpu_instances_one_task_each(
    sandbox: Sandbox, prepared: Any, catalog: Catalog
) -> None:
    ctx = prepared
    catalog.add(replace(flow.text_algorithm("demo-gpu", "slow", instance_type=""), gpu=1))
    workflow = flow.workflow_for("gpus", ["demo-gpu"], "gpus-in", "gpus-out")
    flow.deploy_workflow(ctx, workflow, catalog)
    gpu_ami = ctx.client("ssm").get_parameter(
        Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
    )["Parameter"]["Value"]
    family = names.task_family("gpus", "s1")
    definition = ctx.client("ecs").describe_task_definition(taskDefinition=family)
    (container,) = definition["taskDefinition"]["containerDefinitions"]
    assert container["resourceRequirements"] == [{"type": "GPU", "value": "1"}]

    ecs, cluster = ctx.client("ecs"), names.cluster("gpus")
    most = 0  # tasks on one instance at once
    done = threading.Event()

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            arns = ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]
            if arns:
                tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
                per: dict[str, int] = {}
                for task in tasks:
                    if task.get("lastStatus") != "STOPPED":
                        arn = task.get("containerInstanceArn", "")
                        per[arn] = per.get(arn, 0) + 1
                most = max([most, *per.values()])
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    files = {f"g/{i}.txt": f"gpu {i}\n".encode() for i in range(3)}
    flow.upload(ctx, "gpus-in", files)
    wanted = {flow.result_name("demo-gpu", k): v.upper() for k, v in files.items()}
    try:
        arrived = flow.wait_for_objects(ctx, "gpus-out", wanted, timeout=60)
    finally:
        done.set()
        watcher.join(timeout=5)
    assert arrived.complete, f"missing {arrived.missing}; sandbox: {sandbox.activity.snapshot()}"
    launched = _instances(ctx, "gpus")
    assert launched and {i["InstanceType"] for i in launched} == {"g4dn.xlarge"}
    assert {i["ImageId"] for i in launched} == {gpu_ami}
    assert most == 1  # one GPU each: never two tasks on one instance
    assert sandbox.wait_quiet(timeout=30)
    assert flow.teardown_pipeline(ctx, "gpus").failed == []
