"""How long one monitor poll takes for a 20-step pipeline when every AWS call costs 50 ms.

Runs moto's ThreadedMotoServer in a child process (so the emulator's own CPU time does not
compete with the client for one GIL; against AWS that work happens elsewhere), creates the
pipeline's 40 queues (work + dead-letter), its cluster and two tagged instances with idle
alarms, adds 50 ms of latency to every request (a botocore before-send hook), then times
steady-state polls.

Goal: one poll in at most 3 × 50 ms (the calls run concurrently, in about two rounds: the queue
attributes, instances, task list and alarms together, then the task descriptions), and at most
2 × steps + 5 API calls (the last one is the file ledger's counts Query; this pipeline has no
ledger, so it polls in 2 × steps + 4). Prints both as ratios (≤ 1.0 meets the goal).

The same for a pipeline on AWS Batch (issue 13; `--backend batch`, and both by default): the
queues, an on-demand compute environment, the job queue and a job definition per step instead of
the cluster and instances. Goal: the same 3 × 50 ms, and at most 2 × steps + 5 calls (it polls
in 2 × steps + 3 here: the job queue, the compute environments and ONE filtered ListJobs for
every step's jobs; no ledger). No jobs are submitted (moto's server would run them through
Docker); up to 100 jobs are listed by the same one call.

    python benchmarks/monitor_poll.py [--steps 20] [--latency-ms 50] [--polls 5]
                                      [--backend ecs|batch|both]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--backend", choices=("ecs", "batch", "both"), default="both")
    args = parser.parse_args()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    from yunpipe_tui.aws import AwsContext, CallCounter

    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    port = _free_port()
    server = multiprocessing.Process(target=_serve, args=(port, ready, stop), daemon=True)
    server.start()
    if not ready.wait(30):
        raise SystemExit("moto server did not start")
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for backend in ("ecs", "batch") if args.backend == "both" else (args.backend,):
            ctx = AwsContext(region="us-east-1", endpoint_url=endpoint, counter=CallCounter())
            _measure(ctx, args, backend)
    finally:
        stop.set()
        server.join(10)


def _measure(ctx: Any, args: Any, backend: str) -> None:
    from yunpipe_tui import resource_names as names
    from yunpipe_tui.monitor import Monitor, PipelineTarget

    pipeline = "bench" if backend == "ecs" else "bench-batch"
    steps = [names.step_id(i) for i in range(args.steps)]
    sqs = ctx.client("sqs")
    urls = {}
    for s in steps:
        dlq = sqs.create_queue(QueueName=names.dead_letter_queue(pipeline, s))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        url = sqs.create_queue(
            QueueName=names.queue(pipeline, s), Attributes={"RedrivePolicy": redrive}
        )["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="work")
        urls[names.queue(pipeline, s)] = url
        urls[names.dead_letter_queue(pipeline, s)] = dlq
    if backend == "batch":
        _batch_resources(ctx, pipeline, steps)
    else:
        _ecs_resources(ctx, pipeline, steps)
    target = PipelineTarget.from_names(pipeline, steps, region="us-east-1", urls=urls)

    latency = args.latency_ms / 1000.0
    delay = {"s": 0.0}
    ctx.add_hook("before-send.*.*", lambda **_: time.sleep(delay["s"]) and None)
    budget = 2 * args.steps + 5  # + 5: the ledger counts Query (issue 12)
    goal = 3 * latency
    with Monitor(ctx, target) as mon:
        mon.poll()  # warm-up: connections, client creation, which backend
        base, _ = _time_polls(mon, ctx, args.polls)
        delay["s"] = latency
        times, calls = _time_polls(mon, ctx, args.polls)
        assert mon.poll().backend == backend
    _report(args, backend, budget, goal, latency, base, times, calls)


def _ecs_resources(ctx: Any, pipeline: str, steps: list[str]) -> None:
    from yunpipe_tui import resource_names as names

    ctx.client("ecs").create_cluster(clusterName=names.cluster(pipeline))
    ec2, cw = ctx.client("ec2"), ctx.client("cloudwatch")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    for s in steps[:2]:
        tags = [
            {"Key": names.TAG_PIPELINE, "Value": pipeline},
            {"Key": names.TAG_STEP, "Value": s},
        ]
        iid = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.medium",
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]["InstanceId"]
        cw.put_metric_alarm(
            AlarmName=names.alarm(pipeline, s, iid),
            MetricName="CPUUtilization",
            Namespace="AWS/EC2",
            Statistic="Average",
            Period=300,
            EvaluationPeriods=2,
            Threshold=1.0,
            ComparisonOperator="LessThanThreshold",
            Dimensions=[{"Name": "InstanceId", "Value": iid}],
        )


def _report(
    args: Any,
    backend: str,
    budget: int,
    goal: float,
    latency: float,
    base: list[float],
    times: list[float],
    calls: list[int],
) -> None:
    prefix = "monitor_poll" if backend == "ecs" else "monitor_batch_poll"
    median = statistics.median(times)
    print(
        f"backend={backend} steps={args.steps} latency={args.latency_ms:.0f}ms polls={args.polls}"
    )
    print(
        f"poll time without added latency (client + emulator CPU): "
        f"median {statistics.median(base) * 1000:.0f} ms"
    )
    print(
        f"poll time: median {median * 1000:.0f} ms, best {min(times) * 1000:.0f} ms, "
        f"worst {max(times) * 1000:.0f} ms; goal {goal * 1000:.0f} ms "
        f"-> ratio {median / goal:.2f}"
    )
    print(
        f"API calls per poll: {max(calls)} (budget 2*steps+5 = {budget}) "
        f"-> ratio {max(calls) / budget:.2f}"
    )
    added = median - statistics.median(base)
    print(
        f"time added by the latency: {added * 1000:.0f} ms for {max(calls)} calls "
        f"({added / latency:.1f} call latencies: the calls overlap)"
    )
    cpu = statistics.median(CLIENT_CPU)
    CLIENT_CPU.clear()
    print(f"client CPU per poll (botocore, threads): {cpu * 1000:.0f} ms")
    serial = max(calls) * latency
    print(f"for comparison, the same calls one after another: {serial * 1000:.0f} ms")
    result(f"{prefix}_time", median, "s", f"<={goal:.3f}s", median / goal, median <= goal)
    result(
        f"{prefix}_latency_added",
        added,
        "s",
        f"<={goal:.3f}s",
        added / goal,
        added <= goal,
    )
    result(
        f"{prefix}_calls",
        max(calls),
        "calls",
        f"<={budget}",
        max(calls) / budget,
        max(calls) <= budget,
    )


def _batch_resources(ctx: Any, pipeline: str, steps: list[str]) -> None:
    """An on-demand compute environment, the job queue and a job definition per step."""
    from yunpipe_tui import resource_names as names

    iam, ec2, batch = ctx.client("iam"), ctx.client("ec2"), ctx.client("batch")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    role = iam.create_role(RoleName="bench-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName="bench-batch")["InstanceProfile"]
    environment = names.compute_environment(pipeline, names.ON_DEMAND)
    batch.create_compute_environment(
        computeEnvironmentName=environment,
        type="MANAGED",
        state="ENABLED",
        serviceRole=role,  # moto insists on one
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "desiredvCpus": 0,
            "maxvCpus": 256,
            "instanceTypes": ["optimal"],
            "subnets": subnets,
            "securityGroupIds": [group],
            "instanceRole": profile["Arn"],
        },
    )
    batch.create_job_queue(
        jobQueueName=names.job_queue(pipeline),
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )
    for s in steps:
        batch.register_job_definition(
            jobDefinitionName=names.job_definition(pipeline, s),
            type="container",
            containerProperties={
                "image": "alg",
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "2048"},
                ],
            },
        )


CLIENT_CPU: list[float] = []


def _time_polls(mon: Any, ctx: Any, polls: int) -> tuple[list[float], list[int]]:
    times, calls = [], []
    for _ in range(polls):
        ctx.counter.reset()
        c0 = time.process_time()
        t0 = time.perf_counter()
        snap = mon.poll()
        times.append(time.perf_counter() - t0)
        CLIENT_CPU.append(time.process_time() - c0)
        calls.append(ctx.counter.total)
        assert not snap.errors, snap.errors
        assert all(q.visible == 1 for q in snap.queues)
    return times, calls


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int, ready: Any, stop: Any) -> None:
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    ready.set()
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
