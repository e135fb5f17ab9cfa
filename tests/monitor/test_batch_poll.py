"""The monitor on a pipeline that runs on AWS Batch, against mock_aws: the backend found from the
account, jobs by state per step, vCPUs, why RUNNABLE jobs wait, failures, the call budget, and
the JSON and plain faces."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.monitor.batch_helpers import (
    build_batch_pipeline,
    jobs_stay_put,
    set_desired,
    submit,
)
from tests.monitor.helpers import PIPELINE, build_pipeline
from yunpipe_tui import resource_names as names
from yunpipe_tui.monitor import Monitor
from yunpipe_tui.monitor_rows import summary_line


@pytest.fixture(autouse=True)
def _jobs_stay_put() -> Any:
    with jobs_stay_put():
        yield


def test_jobs_by_state_vcpus_and_reasons(aws: Any) -> None:
    made = build_batch_pipeline(aws, needs={"s2": ("4", "16000", "1")}, spot=True)
    submit(aws, PIPELINE, "s1", "RUNNING", 3)
    submit(aws, PIPELINE, "s1", "RUNNABLE", 2)
    submit(aws, PIPELINE, "s1", "SUCCEEDED", 4, exit_code=0)
    submit(
        aws, PIPELINE, "s1", "FAILED", 1, reason="Essential container in task exited", exit_code=2
    )
    submit(aws, PIPELINE, "s2", "RUNNABLE", 1)  # a GPU job; the environments allow optimal only
    submit(aws, PIPELINE, "s2", "SUBMITTED", 1)
    submit(aws, PIPELINE, "s1", "RUNNING", 1, name="someone-elses-job")  # not a drain job
    set_desired(PIPELINE, names.SPOT, 6)
    with Monitor(aws, made.built.target) as mon:
        snap = mon.poll()
    assert snap.ok, snap.errors
    assert snap.backend == "batch" and snap.instances == () and snap.tasks == ()
    b = snap.batch
    assert b is not None and b.complete
    s1, s2 = b.step("s1"), b.step("s2")
    assert (s1.count("RUNNING"), s1.count("RUNNABLE"), s1.count("SUCCEEDED")) == (3, 2, 4)
    assert s1.count("FAILED") == 1
    assert s1.failures == ("Essential container in task exited (exit 2)",)
    assert (s2.count("RUNNABLE"), s2.count("SUBMITTED"), s2.count("RUNNING")) == (1, 1, 0)
    assert s1.running_vcpus == 3 and b.running_vcpus == 3  # 3 RUNNING jobs × 1 vCPU
    # Two environments, in the job queue's order: Spot first, then on-demand.
    assert [(e.name, e.kind, e.desired_vcpus, e.max_vcpus) for e in b.environments] == [
        (names.compute_environment(PIPELINE, names.SPOT), "SPOT", 6, 16),
        (names.compute_environment(PIPELINE, names.ON_DEMAND), "EC2", 0, 16),
    ]
    assert b.desired_vcpus == 6 and b.max_vcpus == 32
    assert s1.waiting_reason.startswith("waiting for capacity")
    assert s2.waiting_reason.startswith("no allowed instance type fits one job (4 vCPU")
    assert s2.needs is not None and s2.needs.gpus == 1
    line = summary_line(snap)
    assert "jobs=s1:RUNNABLE=2,RUNNING=3,SUCCEEDED=4,FAILED=1 s2:SUBMITTED=1,RUNNABLE=1" in line
    assert "vcpus=running:3,desired:6,max:32" in line and "instances=" not in line


def test_max_vcpus_reached_and_definitions_are_described_once(aws: Any) -> None:
    made = build_batch_pipeline(aws, steps=1, max_vcpus=4)
    submit(aws, PIPELINE, "s1", "RUNNING", 4)
    submit(aws, PIPELINE, "s1", "RUNNABLE", 3)
    set_desired(PIPELINE, names.ON_DEMAND, 4)
    with Monitor(aws, made.built.target) as mon:
        first = mon.poll()
        assert first.batch.step("s1").waiting_reason.startswith(
            "max_vcpus reached: yunpipe-demo-ondemand wants 4 of 4 vCPUs"
        )
        aws.counter.reset()
        mon.poll()
        calls = aws.counter.snapshot()
    assert "batch.DescribeJobDefinitions" not in calls  # a revision never changes: cached
    assert calls["batch.ListJobs"] == 1  # every state in one filtered page


def test_the_call_budget_of_a_batch_poll_and_ecs_unchanged(aws: Any) -> None:
    made = build_batch_pipeline(aws, steps=3)
    submit(aws, PIPELINE, "s2", "RUNNING", 2)
    with Monitor(aws, made.built.target) as mon:
        aws.counter.reset()
        mon.poll()  # no journal's word: the first call asks for the job queue, and finds it
        cold = aws.counter.snapshot()
        assert cold["batch.DescribeJobQueues"] == 1
        assert not any(op.startswith(("ecs.", "ec2.", "cloudwatch.")) for op in cold)
        assert cold["batch.DescribeJobDefinitions"] == 1  # the RUNNING jobs' vCPUs, once
        for _ in range(2):
            aws.counter.reset()
            snap = mon.poll()
            calls = aws.counter.snapshot()
            assert snap.ok and snap.api_calls == aws.counter.total
            assert aws.counter.total <= 2 * 3 + 4, calls  # queues, job queue, CEs, jobs, ledger
            assert not any(op.startswith(("ecs.", "ec2.", "cloudwatch.")) for op in calls)
    # An ECS pipeline asks Batch once when no journal says which; never when one does.
    other = build_pipeline(aws, pipeline="ecs-one", steps=1)
    with Monitor(aws, other.target) as mon:
        aws.counter.reset()
        assert mon.poll().backend == "ecs"
        assert aws.counter.snapshot()["batch.DescribeJobQueues"] == 1
        aws.counter.reset()
        assert mon.poll().backend == "ecs"
        assert not any(op.startswith("batch.") for op in aws.counter.snapshot())
    with Monitor(aws, replace(other.target, backend="ecs")) as mon:
        aws.counter.reset()
        assert mon.poll().backend == "ecs"
        assert not any(op.startswith("batch.") for op in aws.counter.snapshot())


def test_more_than_a_page_of_jobs_counts_active_states_exactly(aws: Any) -> None:
    """Past one page (the filtered listing says nextToken), each active state is listed on its
    own, and finished jobs count only within the newest page. moto never pages: the hook cuts
    the filtered page to the newest two jobs and adds a nextToken, as AWS does past 100."""
    made = build_batch_pipeline(aws, steps=1)
    submit(aws, PIPELINE, "s1", "RUNNABLE", 2)
    submit(aws, PIPELINE, "s1", "RUNNING", 1)
    submit(aws, PIPELINE, "s1", "SUCCEEDED", 3, exit_code=0)
    submit(aws, PIPELINE, "s1", "FAILED", 1, reason="Host EC2 terminated")

    def mark(params: dict, context: dict, **_: Any) -> None:
        context["filtered"] = "filters" in params

    def one_page(parsed: dict, context: dict, **_: Any) -> None:
        if context.get("filtered"):
            newest = sorted(parsed["jobSummaryList"], key=lambda j: -j["createdAt"])
            parsed["jobSummaryList"] = newest[:2]
            parsed["nextToken"] = "more"

    aws.add_hook("before-parameter-build.batch.ListJobs", mark)
    aws.add_hook("after-call.batch.ListJobs", one_page)
    with Monitor(aws, made.built.target) as mon:
        mon.poll()  # the first poll finds the job queue
        aws.counter.reset()
        snap = mon.poll()
    assert snap.ok, snap.errors
    s1 = snap.batch.step("s1")
    assert not snap.batch.complete
    assert (s1.count("RUNNABLE"), s1.count("RUNNING")) == (2, 1)  # exact: per state
    # The newest two jobs are the FAILED one and a SUCCEEDED one.
    assert (s1.count("SUCCEEDED"), s1.count("FAILED")) == (1, 1)
    assert s1.failures == ("Host EC2 terminated",)
    assert aws.counter.snapshot()["batch.ListJobs"] == 1 + 5  # the page + one per active state


def test_a_failing_batch_call_marks_only_its_part(aws: Any) -> None:
    made = build_batch_pipeline(aws, steps=1)
    submit(aws, PIPELINE, "s1", "RUNNABLE", 1)

    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Describe")

    with Monitor(aws, made.built.target) as mon:
        mon.poll()
        aws.add_hook("before-call.batch.DescribeComputeEnvironments", fail)
        snap = mon.poll()
    assert {e.part for e in snap.errors} == {"batch:environments"}
    assert snap.batch.step("s1").count("RUNNABLE") == 1
    assert snap.batch.environments == ()
    assert snap.batch.step("s1").waiting_reason == "the job queue has no compute environment"


def test_a_torn_down_job_queue_is_said_once_then_ecs_is_tried(aws: Any) -> None:
    made = build_batch_pipeline(aws, steps=1)
    batch = aws.client("batch")
    with Monitor(aws, made.built.target) as mon:
        assert mon.poll().backend == "batch"
        batch.update_job_queue(jobQueue=names.job_queue(PIPELINE), state="DISABLED")
        batch.delete_job_queue(jobQueue=names.job_queue(PIPELINE))
        gone = mon.poll()
        assert [e.message for e in gone.errors] == [
            f"job queue {names.job_queue(PIPELINE)} is gone"
        ]
        assert mon.poll().backend == "ecs"


def test_json_shape(aws: Any) -> None:
    made = build_batch_pipeline(aws, steps=1)
    submit(aws, PIPELINE, "s1", "RUNNABLE", 1)
    with Monitor(aws, made.built.target) as mon:
        data = json.loads(json.dumps(mon.poll().to_json()))
    assert data["backend"] == "batch" and data["instances"] == [] and data["tasks"] == []
    b = data["batch"]
    assert b["job_queue"] == {
        "name": names.job_queue(PIPELINE),
        "state": "ENABLED",
        "status": "VALID",
        "status_reason": "",
    }
    assert set(b["compute_environments"][0]) == {
        "name", "type", "state", "status", "status_reason", "desired_vcpus", "min_vcpus",
        "max_vcpus", "instance_types", "order",
    }  # fmt: skip
    step = b["steps"][0]
    assert step["job_name"] == names.drain_job(PIPELINE, "s1")
    assert step["jobs"] == {
        "SUBMITTED": 0, "PENDING": 0, "RUNNABLE": 1, "STARTING": 0, "RUNNING": 0,
        "SUCCEEDED": 0, "FAILED": 0,
    }  # fmt: skip
    assert step["job"] == {"vcpus": 1.0, "memory_mib": 2048, "gpus": 0}
    assert step["waiting_reason"].startswith("waiting for capacity")
    assert step["recent_failures"] == []
    assert (b["desired_vcpus"], b["max_vcpus"], b["running_vcpus"]) == (0, 16, 0)
    assert b["running_vcpus_source"] and b["complete"] is True


def test_once_json_and_plain_line_from_the_command(aws: Any, capsys: Any) -> None:
    """`yunpipe monitor PIPELINE --once --json` with no journal: the queues name the steps,
    the account says Batch."""
    from tests.monitor.test_cli import run_cli

    build_batch_pipeline(aws, steps=1)
    submit(aws, PIPELINE, "s1", "FAILED", 2, reason="Host EC2 terminated")
    code, out, err = run_cli(capsys, PIPELINE, "--once", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["backend"] == "batch"
    assert data["batch"]["steps"][0]["jobs"]["FAILED"] == 2
    assert data["batch"]["steps"][0]["recent_failures"] == ["Host EC2 terminated"]
    code, out, err = run_cli(capsys, PIPELINE, "--once")
    assert code == 0, err
    assert "jobs=s1:FAILED=2 vcpus=running:0,desired:0,max:16" in out


def test_the_rich_view_shows_jobs_reasons_and_environments(aws: Any) -> None:
    from rich.console import Console

    from yunpipe_tui.monitor_render import render

    made = build_batch_pipeline(aws, steps=1, max_vcpus=2, needs={"s1": ("2", "2048", None)})
    submit(aws, PIPELINE, "s1", "RUNNING", 1)
    submit(aws, PIPELINE, "s1", "RUNNABLE", 4)
    set_desired(PIPELINE, names.ON_DEMAND, 2)
    with Monitor(aws, made.built.target) as mon:
        snap = mon.poll()
    console = Console(width=100, record=True, color_system=None)
    console.print(render(snap))
    text = console.export_text()
    assert "Batch jobs" in text and "Compute environments" in text
    assert "Instances" not in text and "Recent tasks" not in text
    assert "s1: 4 RUNNABLE: max_vcpus reached: yunpipe-demo-ondemand wants 2 of 2 vCPUs" in text
    assert "vCPUs: 2 running · 2 desired of 2 max" in text


def test_environments_added_to_the_queue_show_in_the_same_poll(aws: Any) -> None:
    """A steady poll describes the environments the last poll's queue named, alongside the
    queue; when the queue names others, it reads them again before answering."""
    made = build_batch_pipeline(aws, steps=1, spot=True)
    batch = aws.client("batch")
    spot = names.compute_environment(PIPELINE, names.SPOT)
    ondemand = names.compute_environment(PIPELINE, names.ON_DEMAND)
    arn = {  # AWS's queues name their environments by ARN (moto's update wants them so)
        e["computeEnvironmentName"]: e["computeEnvironmentArn"]
        for e in batch.describe_compute_environments()["computeEnvironments"]
    }
    batch.update_job_queue(
        jobQueue=names.job_queue(PIPELINE),
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": arn[ondemand]}],
    )
    with Monitor(aws, made.built.target) as mon:
        assert [e.name for e in mon.poll().batch.environments] == [ondemand]
        aws.counter.reset()
        assert [e.name for e in mon.poll().batch.environments] == [ondemand]
        assert aws.counter.snapshot()["batch.DescribeComputeEnvironments"] == 1
        batch.update_job_queue(
            jobQueue=names.job_queue(PIPELINE),
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": arn[spot]},
                {"order": 2, "computeEnvironment": arn[ondemand]},
            ],
        )
        aws.counter.reset()
        assert [e.name for e in mon.poll().batch.environments] == [spot, ondemand]
        assert aws.counter.snapshot()["batch.DescribeComputeEnvironments"] == 2


def test_the_journal_s_word_orders_the_first_poll_only() -> None:
    from types import SimpleNamespace

    from yunpipe_tui.monitor import journal_backend

    old = SimpleNamespace(workflow={"input_s3_name": "in"}, resources={"shared/cluster": {}})
    planned = SimpleNamespace(workflow={}, resources={"shared/job-queue": {}})
    asked = SimpleNamespace(workflow={"compute": {"backend": "batch"}}, resources={})
    assert journal_backend(old) == "ecs"
    assert journal_backend(planned) == journal_backend(asked) == "batch"


def test_a_journal_saying_batch_reads_batch_from_the_first_poll(aws: Any) -> None:
    made = build_batch_pipeline(aws, steps=1)
    submit(aws, PIPELINE, "s1", "RUNNING", 1)
    with Monitor(aws, replace(made.built.target, backend="batch")) as mon:
        aws.counter.reset()
        snap = mon.poll()
    assert snap.ok and snap.batch.step("s1").count("RUNNING") == 1
    assert snap.batch.environments[0].name == names.compute_environment(PIPELINE, names.ON_DEMAND)
    assert aws.counter.snapshot()["batch.DescribeJobQueues"] == 1
