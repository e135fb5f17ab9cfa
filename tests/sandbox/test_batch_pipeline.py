"""Issue 13's "done when" on the sandbox, Batch side: a two-step sequence with
`"compute": {"backend": "batch", "max_vcpus": 16, "spot": true}` deploys (compute environments
with minvCpus 0, one of them Spot), turns uploads into correct results through drain jobs, and
tears down leaving no compute environment, job queue or active job definition."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from tests.sandbox.test_pipeline import _instances
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.sandbox import Sandbox, flow, transform
from yunpipe_tui.workflow import BATCH, Compute

PIPELINE = "bat"
STEPS = ["demo-upper", "demo-reverse"]


def test_a_two_step_batch_sequence_deploys_processes_and_tears_down(
    sandbox: Sandbox, prepared: Any, catalog: Catalog
) -> None:
    ctx = prepared
    workflow = flow.workflow_for(PIPELINE, STEPS, "bat-in", "bat-out")
    workflow = replace(workflow, compute=Compute(backend=BATCH, max_vcpus=16, spot=True))
    flow.deploy_workflow(ctx, workflow, catalog)

    batch = ctx.client("batch")
    spot, ondemand = (
        names.compute_environment(PIPELINE, names.SPOT),
        names.compute_environment(PIPELINE, names.ON_DEMAND),
    )
    envs = {
        e["computeEnvironmentName"]: e
        for e in batch.describe_compute_environments(computeEnvironments=[spot, ondemand])[
            "computeEnvironments"
        ]
    }
    assert set(envs) == {spot, ondemand}
    assert all(e["computeResources"]["minvCpus"] == 0 for e in envs.values())
    assert all(e["computeResources"]["maxvCpus"] == 16 for e in envs.values())
    assert envs[spot]["computeResources"]["type"] == "SPOT"
    assert envs[ondemand]["computeResources"]["type"] == "EC2"
    (queue,) = batch.describe_job_queues(jobQueues=[names.job_queue(PIPELINE)])["jobQueues"]
    order = sorted(queue["computeEnvironmentOrder"], key=lambda o: o["order"])
    assert [o["computeEnvironment"].split("/")[-1] for o in order] == [spot, ondemand]
    # no ECS cluster and no EC2 instance of ours: Batch runs the steps
    assert not [
        c
        for c in ctx.client("ecs").describe_clusters(clusters=[names.cluster(PIPELINE)])["clusters"]
        if c.get("status") == "ACTIVE"
    ]

    files = {f"b/{i}.txt": f"batch file {i}\n".encode() for i in range(6)}
    flow.upload(ctx, "bat-in", files)
    wanted = {
        flow.final_key(STEPS, k): transform.apply(["upper", "reverse"], v.decode()).encode()
        for k, v in files.items()
    }
    arrived = flow.wait_for_objects(ctx, "bat-out", wanted, timeout=120)
    assert arrived.complete, f"missing {arrived.missing}; sandbox: {sandbox.activity.snapshot()}"

    jobs = []
    for step in ("s1", "s2"):
        name = names.drain_job(PIPELINE, step)
        for status in ("SUCCEEDED", "RUNNING", "RUNNABLE", "FAILED"):
            jobs += [
                j
                for j in batch.list_jobs(jobQueue=names.job_queue(PIPELINE), jobStatus=status)[
                    "jobSummaryList"
                ]
                if j["jobName"] == name
            ]
    assert {j["jobName"] for j in jobs} == {
        names.drain_job(PIPELINE, "s1"),
        names.drain_job(PIPELINE, "s2"),
    }

    assert sandbox.wait_quiet(timeout=60)

    # nothing idle: the environments scale back to zero vCPUs, and no EC2 instance is ours
    def desired() -> dict[str, int]:
        found = batch.describe_compute_environments(computeEnvironments=[spot, ondemand])
        return {
            e["computeEnvironmentName"]: e["computeResources"]["desiredvCpus"]
            for e in found["computeEnvironments"]
        }

    deadline = time.monotonic() + 30  # idle vCPUs go after the sandbox's instance_idle
    while any(desired().values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert desired() == {spot: 0, ondemand: 0}
    assert _instances(ctx, PIPELINE) == []
    result = flow.teardown_pipeline(ctx, PIPELINE)
    assert result.failed == []
    left_envs = batch.describe_compute_environments(computeEnvironments=[spot, ondemand])
    assert left_envs["computeEnvironments"] == []
    assert batch.describe_job_queues(jobQueues=[names.job_queue(PIPELINE)])["jobQueues"] == []
    for step in ("s1", "s2"):
        active = batch.describe_job_definitions(
            jobDefinitionName=names.job_definition(PIPELINE, step), status="ACTIVE"
        )["jobDefinitions"]
        assert active == []
