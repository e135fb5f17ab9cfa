"""How fast a step reaches 20 parallel tasks: a burst of 200 files into a one-step pipeline whose
algorithm fills an instance (one task per t3.micro), under (a) the old launch rule (one instance
per reconcile, none while one boots), (b) the ECS backend's backlog rule (issue 13 item 4, the
default) and (c) the Batch backend, each in a fresh sandbox.

The sandbox runs everything real but AWS (deploy engine, the dispatcher from its zip, the runner
as local processes) with AWS's proportions: instance boot (about 90 s on AWS), the reconcile
schedule (60 s), the idle alarm (10 min), the runner's idle time (60 s), the dispatcher's waits
and the files' length (5 minutes each, as in issue 13) all scaled by one factor (default 0.25).
Times are printed scaled back to AWS seconds and in units of one boot plus one reconcile
(150 s). The goal: the new rule reaches 20 tasks within two boots plus one reconcile (240 s).

    python benchmarks/scaling.py [--factor 0.25] [--only old,new,batch]

What the sandbox adds that AWS does not, in wall seconds whatever the factor (so less, in AWS
seconds, the larger the factor; 0.25 keeps it near a minute on 2 cores): its S3 takes seconds
for the 200 uploads; all dispatchers run in one process, so the launch decisions of the burst's
200 S3 events queue on one lock (on AWS each Lambda has its own); and 20 runners start as local
Python processes. The old rule's figure hardly depends on this (it waits on reconciles).

The Batch case deploys the same step with `"backend": "batch"` and counts the step's drain jobs
(named `names.drain_job`) RUNNING with ListJobs; the sandbox brings Batch capacity in after the
same scaled boot. Against an installation that refuses the batch backend it prints
"batch: n/a (backend not available)".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import result

AWS_BOOT = 90.0  # s: RunInstances until the ECS agent has registered the instance
AWS_RECONCILE = 60.0  # s: the reconcile schedule's rate
AWS_IDLE_ALARM = 600.0  # s: the idle alarm terminates an instance after ten idle minutes
AWS_RUNNER_IDLE = 60.0  # s: a runner with an empty queue exits after this
AWS_FILE = 300.0  # s: one file's work (issue 13: "10,000 five-minute files")
UNIT = AWS_BOOT + AWS_RECONCILE
GOAL_NEW = 2 * AWS_BOOT + AWS_RECONCILE  # two instance boots plus one reconcile
FILES = 200
TARGET = 20  # parallel tasks (max_tasks of the workflow; max_vcpus / job vCPUs for Batch)
JOB_VCPUS = 2  # the algorithm's cpu: a t3.micro's two vCPUs, so one task fills one
STEP = "s1"
OLD_RULE = "one-per-reconcile"  # lambda/dispatcher.py LAUNCH_ONE_PER_RECONCILE
CASES = ("old", "new", "batch")


def timings(factor: float) -> Any:
    from yunpipe_tui.sandbox import Timings

    return Timings(
        poll=0.1,
        reconcile=AWS_RECONCILE * factor,
        instance_boot=AWS_BOOT * factor,
        batch_boot=AWS_BOOT * factor,  # Batch scales from zero with the same boot
        instance_idle=AWS_IDLE_ALARM * factor,
        runner_idle=max(1.0, AWS_RUNNER_IDLE * factor),
        runner_wait=1.0,
        runner_retry_delay=0.0,
        stop_grace=2.0,
        dispatcher_backoff=factor,  # AWS: 2+4+8+15 s of waiting, less than one boot
        # Lambda runs a burst's 200 invocations side by side (its default concurrency is 1000);
        # the sandbox's default 4 workers would queue the reconcile behind them.
        lambda_workers=32,
    )


def filling_algorithm(factor: float) -> Any:
    """Sleeps one scaled five-minute file, then upper-cases it; 700 MiB and 2 vCPUs: alone on
    a t3.micro (768 MiB usable, 2048 CPU units)."""
    from yunpipe_tui.sandbox import flow

    code = (
        f"import sys, time; time.sleep({AWS_FILE * factor:.3f}); "
        "from yunpipe_tui.sandbox.transform import main; "
        "sys.exit(main(['upper', sys.argv[1], sys.argv[2]]))"
    )
    return replace(
        flow.text_algorithm("bench-fill", "upper", instance_type="t3.micro"),
        run_command=f'python3 -c "{code}" $input $output',
        memory_minimal=600,
        memory_suggested=700,
        cpu=float(JOB_VCPUS),
        timeout_seconds=3600,
    )


class Unavailable(Exception):
    """The backend cannot be deployed in this version (the Batch case before its merge)."""


def burst(ctx: Any, bucket: str) -> tuple[float, float]:
    """Upload FILES files at once (8 threads): when the first upload started, when the last
    ended."""
    s3 = ctx.client("s3")
    files = {f"burst/{i:03d}.txt": f"file {i}\n".encode() for i in range(FILES)}
    first = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        for put in [
            pool.submit(s3.put_object, Bucket=bucket, Key=k, Body=b) for k, b in files.items()
        ]:
            put.result()
    return first, time.monotonic()


def wait_parallel(
    count: Callable[[], int], timeout: float
) -> tuple[dict[int, float], float | None]:
    """Poll until TARGET run at once: (when each count was first seen, when TARGET was reached
    or None)."""
    first_seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now, at = count(), time.monotonic()
        for n in range(1, now + 1):
            first_seen.setdefault(n, at)
        if now >= TARGET:
            return first_seen, at
        time.sleep(0.1)
    return first_seen, None


def run_case(case: str, factor: float, workdir: str | None) -> float | None:
    """One case in a fresh sandbox: AWS-equivalent seconds from the burst to TARGET tasks at
    once, None when not reached in time; raises Unavailable when the backend is refused."""
    from yunpipe_tui import resource_names as names
    from yunpipe_tui.catalog import Catalog
    from yunpipe_tui.errors import YunpipeError
    from yunpipe_tui.sandbox import Sandbox, flow
    from yunpipe_tui.workflow import BATCH, Compute

    pipeline = f"scale-{case}"
    catalog = Catalog(Path(os.environ["YUNPIPE_HOME"]) / f"catalog-{case}")
    algorithm = filling_algorithm(factor)
    catalog.add(algorithm)
    workflow = flow.workflow_for(pipeline, [algorithm.name], f"{pipeline}-in", f"{pipeline}-out")
    if case == "batch":
        compute = Compute(backend=BATCH, max_vcpus=TARGET * JOB_VCPUS)
    else:
        compute = Compute(max_tasks=TARGET)
    workflow = replace(workflow, compute=compute)

    with Sandbox(timings=timings(factor), workdir=workdir) as sandbox:
        ctx = sandbox.aws_context()
        flow.prepare_account(ctx)
        try:
            flow.deploy_workflow(ctx, workflow, catalog)
        except YunpipeError as exc:
            if case == "batch" and "compute.backend" in str(exc):
                raise Unavailable(str(exc).splitlines()[0]) from None
            raise
        function = names.dispatcher(pipeline, STEP)
        lam = ctx.client("lambda")
        env = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        if case != "batch":
            print(f"  {case}: tasks per instance {env.get('YUNPIPE_TASKS_PER_INSTANCE')}")
        if case == "old":
            lam.update_function_configuration(
                FunctionName=function,
                Environment={"Variables": {**env, "YUNPIPE_LAUNCH_RULE": OLD_RULE}},
            )

        if case == "batch":
            count = batch_counter(ctx, pipeline)
        else:
            family = names.task_family(pipeline, STEP)

            def count() -> int:
                return sum(1 for t in sandbox.local_tasks() if t["family"] == family)

        first, uploaded = burst(ctx, f"{pipeline}-in")
        launches: dict[int, float] = {}  # instances launched → when first seen (ECS cases)

        def counted() -> int:
            if case != "batch":
                launches.setdefault(instances_of(ctx, pipeline), time.monotonic())
            return count()

        first_seen, reached = wait_parallel(counted, timeout=40 * UNIT * factor)
        launched = ", ".join(f"{n} at {(t - first) / factor:.0f}" for n, t in launches.items())
        steps = ", ".join(
            f"{n}: {(first_seen[n] - first) / factor:.0f}"
            for n in (1, 2, 5, 10, 15, TARGET)
            if n in first_seen
        )
        print(
            f"  {case}: burst uploaded in {(uploaded - first) / factor:.0f} s; tasks at once "
            f"first reached at (AWS s) {steps}; instances launched (AWS s) {launched or '-'}; "
            f"sandbox {sandbox.activity.snapshot()}",
            flush=True,
        )
    return None if reached is None else (reached - first) / factor


def batch_counter(ctx: Any, pipeline: str) -> Callable[[], int]:
    """RUNNING jobs of the step (named names.drain_job) in the pipeline's job queue."""
    from yunpipe_tui import resource_names as names

    batch = ctx.client("batch")
    queue, job = names.job_queue(pipeline), names.drain_job(pipeline, STEP)

    def count() -> int:
        running = 0
        for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus="RUNNING"):
            running += sum(1 for j in page.get("jobSummaryList", []) if j["jobName"] == job)
        return running

    return count


def instances_of(ctx: Any, pipeline: str) -> int:
    from yunpipe_tui import resource_names as names

    found = ctx.client("ec2").describe_instances(
        Filters=[{"Name": f"tag:{names.TAG_PIPELINE}", "Values": [pipeline]}]
    )
    return sum(len(r.get("Instances", [])) for r in found.get("Reservations", []))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--factor", type=float, default=0.25, help="sandbox seconds per AWS second")
    parser.add_argument("--only", default=",".join(CASES), help="cases: old,new,batch")
    parser.add_argument("--workdir", help="keep the sandboxes' folder (logs) here")
    args = parser.parse_args(argv)
    cases = [c for c in args.only.split(",") if c]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; use {','.join(CASES)}")

    os.environ["YUNPIPE_HOME"] = tempfile.mkdtemp(prefix="yunpipe-bench-")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    print(
        f"factor {args.factor}: boot {AWS_BOOT * args.factor:.1f} s, reconcile "
        f"{AWS_RECONCILE * args.factor:.1f} s, a file {AWS_FILE * args.factor:.1f} s (sandbox); "
        f"unit = boot + reconcile = {UNIT:.0f} s AWS",
        flush=True,
    )
    times: dict[str, float | None] = {}
    for case in cases:
        workdir = str(Path(args.workdir) / case) if args.workdir else None
        try:
            times[case] = run_case(case, args.factor, workdir)
        except Unavailable as exc:
            print(f"batch: n/a (backend not available: {exc})", flush=True)
            continue
        seconds = times[case]
        text = "not reached" if seconds is None else f"{seconds:.0f} s ({seconds / UNIT:.2f} units)"
        print(f"  {case}: {TARGET} tasks at once after {text} AWS-equivalent", flush=True)

    failed = False
    old, new, batch = times.get("old"), times.get("new"), times.get("batch")
    if "old" in times:
        failed |= old is None
        if old is not None:
            result("scaling_old_rule_to_20", old, "s-aws", "reported", None, None)
    if "new" in times:
        failed |= new is None
        if new is not None:
            result(
                "scaling_new_rule_to_20",
                new,
                "s-aws",
                f"<={GOAL_NEW:.0f}s",
                new / GOAL_NEW,
                new <= GOAL_NEW,
            )
        else:
            result(
                "scaling_new_rule_to_20", float("inf"), "s-aws", f"<={GOAL_NEW:.0f}s", None, False
            )
    if old is not None and new is not None:
        result("scaling_old_over_new", old / new, "x", "reported", None, None)
    # (c) Batch: written against BATCH_CONTRACT.md; reported once the backend is merged.
    if "batch" in times:
        failed |= batch is None
        if batch is not None:
            result("scaling_batch_to_20", batch, "s-aws", "reported", None, None)
            if new is not None:
                result("scaling_new_over_batch", new / batch, "x", "reported", None, None)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
