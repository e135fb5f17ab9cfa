"""The dispatcher's Batch backend: drain jobs sized to the backlog, less the active ones, and not
one ECS, EC2 or CloudWatch call.

The step's queue is moto's (real depths, real in-flight messages). Batch's job table is `Jobs`,
answering the real batch client's ListJobs and SubmitJob from botocore's before-call hook (after
botocore validated the request against Batch's model): moto's own SubmitJob would run Docker, and
moto keeps no job in an active state without it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest

from tests.lambda_runner.conftest import REGION, Calls, s3_event
from yunpipe_tui import resource_names as names
from yunpipe_tui.lambda_functions import dispatcher as d

PIPELINE, STEP = "demo", "s1"
JOB_QUEUE = names.job_queue(PIPELINE)
JOB_NAME = names.drain_job(PIPELINE, STEP)
LIST = ["batch.ListJobs"] * len(d.ACTIVE_JOB_STATES)


def _answer(status: int, body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return type("R", (), {"status_code": status, "headers": {}})(), body


class Jobs:
    """Batch's jobs as ListJobs and SubmitJob see them: a submitted job is SUBMITTED; ListJobs
    answers pages of `page_size` with a nextToken, as Batch does past 1000 jobs."""

    def __init__(self, client: Any) -> None:
        self.jobs: list[dict[str, str]] = []
        self.submits: list[dict[str, Any]] = []
        self.page_size = 1000
        self.refuse: str = ""  # an error code every SubmitJob gets while set
        self.refuse_after: int | None = None  # or: SubmitJob fails after this many successes
        self._ids = itertools.count(1)
        client.meta.events.register("before-call.batch.ListJobs", self._list)
        client.meta.events.register("before-call.batch.SubmitJob", self._submit)

    def add(self, state: str, name: str = JOB_NAME, queue: str = JOB_QUEUE) -> None:
        self.jobs.append(
            {"jobId": f"job-{next(self._ids)}", "jobName": name, "status": state, "queue": queue}
        )

    def _list(self, params: dict[str, Any], **_: Any) -> Any:
        body = json.loads(params["body"])
        found = [
            j
            for j in self.jobs
            if j["queue"] == body["jobQueue"] and j["status"] == body["jobStatus"]
        ]
        start = int(body.get("nextToken") or 0)
        page = found[start : start + self.page_size]
        answer: dict[str, Any] = {
            "jobSummaryList": [
                {"jobId": j["jobId"], "jobName": j["jobName"], "status": j["status"]} for j in page
            ]
        }
        if start + self.page_size < len(found):
            answer["nextToken"] = str(start + self.page_size)
        return _answer(200, answer)

    def _submit(self, params: dict[str, Any], **_: Any) -> Any:
        body = json.loads(params["body"])
        if self.refuse or (
            self.refuse_after is not None and len(self.submits) >= self.refuse_after
        ):
            code = self.refuse or "ClientException"
            return _answer(400, {"Error": {"Code": code, "Message": "job queue is DISABLED"}})
        self.submits.append(body)
        self.add("SUBMITTED", body["jobName"], body["jobQueue"])
        job = self.jobs[-1]
        return _answer(200, {"jobId": job["jobId"], "jobName": job["jobName"], "jobArn": "arn"})


class BatchStep:
    def __init__(self, config: d.DispatcherConfig, clients: dict[str, Any], calls: Calls) -> None:
        self.config = config
        self.clients = clients
        self.calls = calls
        self.jobs = Jobs(clients["batch"])

    def dispatch(self, event: dict[str, Any], remaining_ms: int | None = None, **changes: Any):
        config = replace(self.config, **changes)
        return d.dispatch(event, config, clients=self.clients, remaining_ms=remaining_ms)

    def backlog(self, count: int) -> None:
        sqs = self.clients["sqs"]
        for i in range(count):
            sqs.send_message(QueueUrl=self.config.queue_url, MessageBody=f"m{i}")

    def hold(self, count: int) -> None:
        """A runner takes `count` messages (in flight for ten minutes)."""
        got = self.clients["sqs"].receive_message(
            QueueUrl=self.config.queue_url, MaxNumberOfMessages=count, VisibilityTimeout=600
        )["Messages"]
        assert len(got) == count

    def visible(self) -> int:
        attrs = self.clients["sqs"].get_queue_attributes(
            QueueUrl=self.config.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])


@pytest.fixture
def batch_step(mocked_aws: None) -> Iterator[BatchStep]:
    calls = Calls()
    services = ("sqs", "batch", "ecs", "ec2", "cloudwatch")  # the last three must stay unused
    clients = {s: boto3.client(s, region_name=REGION) for s in services}
    for client in clients.values():
        client.meta.events.register("before-call.*.*", calls)
    queue_url = clients["sqs"].create_queue(QueueName=names.queue(PIPELINE, STEP))["QueueUrl"]
    config = d.DispatcherConfig.from_env(
        {
            "YUNPIPE_PIPELINE": PIPELINE,
            "YUNPIPE_STEP": STEP,
            "YUNPIPE_QUEUE_URL": queue_url,
            "YUNPIPE_BACKEND": "batch",
            "YUNPIPE_JOB_QUEUE": JOB_QUEUE,
            "YUNPIPE_JOB_DEFINITION": names.job_definition(PIPELINE, STEP),
            "YUNPIPE_JOB_NAME": JOB_NAME,
            "YUNPIPE_MAX_JOBS": "8",
            "YUNPIPE_FILES_PER_JOB": "1",
            "AWS_REGION": REGION,
        }
    )
    step = BatchStep(config, clients, calls)
    calls.reset()
    yield step


def test_an_upload_submits_one_tagged_drain_job_and_touches_no_ecs_ec2_or_alarm(
    batch_step: BatchStep,
) -> None:
    step = batch_step
    summary = step.dispatch(s3_event("in-bucket", "a.txt"))

    assert step.calls.names == [
        "sqs.SendMessage",
        "sqs.GetQueueAttributes",
        *LIST,
        "batch.SubmitJob",
    ]
    assert summary["sent"] == 1 and summary["submitted"] == 1 and summary["jobs"] == 0
    assert summary["started"] == 0 and summary["launched"] == 0 and summary["errors"] == []
    (submit,) = step.jobs.submits
    assert submit == {
        "jobName": "yunpipe-demo-s1-drain",
        "jobQueue": "yunpipe-demo-jobs",
        "jobDefinition": "yunpipe-demo-s1",  # the bare name: the latest ACTIVE revision
        "tags": {"yunpipe:pipeline": "demo", "yunpipe:step": "s1", "yunpipe:managed": "true"},
        "propagateTags": True,
    }
    assert step.visible() == 1  # the job drains it; the message stays until then


def test_an_active_job_means_no_new_one_and_the_listing_stops_when_enough_are_counted(
    batch_step: BatchStep,
) -> None:
    step = batch_step
    step.jobs.add("SUBMITTED")
    summary = step.dispatch(s3_event("in-bucket", "a.txt"))
    # One file wants one job; the first state listed already holds it.
    assert step.calls.names == ["sqs.SendMessage", "sqs.GetQueueAttributes", "batch.ListJobs"]
    assert summary["submitted"] == 0 and summary["jobs"] == 1
    step.jobs.jobs[0]["status"] = "RUNNING"
    step.calls.reset()
    summary = step.dispatch(s3_event("in-bucket", "b.txt"))
    # Two waiting files, one running job: one more job, found only in the last state listed.
    assert step.calls.names == [
        "sqs.SendMessage",
        "sqs.GetQueueAttributes",
        *LIST,
        "batch.SubmitJob",
    ]
    assert summary["submitted"] == 1 and summary["jobs"] == 1


def test_reconcile_submits_one_job_per_waiting_file_up_to_the_ceiling_less_the_active(
    batch_step: BatchStep,
) -> None:
    step = batch_step
    step.backlog(12)
    step.jobs.add("RUNNABLE")
    step.jobs.add("RUNNING", name=names.drain_job(PIPELINE, "s2"))  # another step's job
    step.jobs.add("RUNNING", queue=names.job_queue("other"))  # another pipeline's queue
    step.jobs.add("SUCCEEDED")  # done: not active
    step.jobs.add("FAILED")
    step.calls.reset()
    summary = step.dispatch({"yunpipe": "reconcile"})

    assert summary["depth"] == 12 and summary["jobs"] == 1
    assert summary["submitted"] == 7  # max_jobs 8, less the runnable one
    assert step.calls.names == ["sqs.GetQueueAttributes", *LIST, *["batch.SubmitJob"] * 7]
    # Enough jobs now: the next reconcile only looks, and stops listing once it has counted 8
    # (seven SUBMITTED, then PENDING, then the RUNNABLE one).
    step.calls.reset()
    summary = step.dispatch({"yunpipe": "reconcile"})
    assert summary["submitted"] == 0 and summary["jobs"] == 8
    assert step.calls.names == ["sqs.GetQueueAttributes", *LIST[:3]]


def test_files_per_job_divides_the_backlog_rounding_up(batch_step: BatchStep) -> None:
    step = batch_step
    step.backlog(7)
    summary = step.dispatch({"yunpipe": "reconcile"}, files_per_job=3)
    assert summary["submitted"] == 3 and len(step.jobs.submits) == 3


def test_reconcile_with_an_empty_queue_is_one_call(batch_step: BatchStep) -> None:
    step = batch_step
    summary = step.dispatch({"source": "aws.events", "detail-type": "Scheduled Event"})
    assert step.calls.names == ["sqs.GetQueueAttributes"]
    assert summary["submitted"] == 0 and summary["jobs"] is None


def test_messages_only_in_flight_want_no_job(batch_step: BatchStep) -> None:
    """A runner that died holding messages leaves them invisible until their visibility ends; a
    job submitted for them would find nothing and exit idle."""
    step = batch_step
    step.backlog(2)
    step.hold(2)
    step.calls.reset()
    summary = step.dispatch({"yunpipe": "reconcile"})
    assert summary["depth"] == 0 and summary["in_flight"] == 2 and summary["submitted"] == 0
    assert step.calls.names == ["sqs.GetQueueAttributes"]


def test_a_busy_job_counts_against_the_file_it_holds_not_the_waiting_ones(
    batch_step: BatchStep,
) -> None:
    step = batch_step
    step.backlog(3)
    step.hold(1)  # the running job's current file
    step.jobs.add("RUNNING")
    summary = step.dispatch({"yunpipe": "reconcile"})
    # Two files wait while the one job is busy: two more jobs.
    assert summary["depth"] == 2 and summary["in_flight"] == 1 and summary["jobs"] == 1
    assert summary["submitted"] == 2


def test_every_page_of_every_active_state_is_counted(batch_step: BatchStep) -> None:
    step = batch_step
    step.jobs.page_size = 2
    for state in ("PENDING", "RUNNING", "RUNNING", "RUNNING", "STARTING"):
        step.jobs.add(state)
    step.backlog(8)
    step.calls.reset()
    summary = step.dispatch({"yunpipe": "reconcile"})
    assert summary["jobs"] == 5 and summary["submitted"] == 3
    # SUBMITTED, PENDING, RUNNABLE, STARTING: one page each; RUNNING: two pages.
    assert step.calls.names.count("batch.ListJobs") == 6


def test_an_event_submits_only_what_its_own_files_need(batch_step: BatchStep) -> None:
    """Concurrent events each see the same active jobs: capped at their own files, they cannot
    submit more jobs together than the files they brought; the reconcile does the rest."""
    step = batch_step
    step.backlog(20)
    summary = step.dispatch(s3_event("in-bucket", "late.txt"))
    assert summary["submitted"] == 1
    summary = step.dispatch({"yunpipe": "reconcile"})
    assert summary["submitted"] == 7 and len(step.jobs.submits) == 8  # max_jobs 8


def test_a_refused_submit_is_logged_and_the_next_reconcile_retries(
    batch_step: BatchStep, caplog: pytest.LogCaptureFixture
) -> None:
    step = batch_step
    step.jobs.refuse = "ClientException"
    caplog.set_level("ERROR", logger="yunpipe.dispatcher")
    summary = step.dispatch(s3_event("in-bucket", "a.txt"))
    assert summary["sent"] == 1 and summary["submitted"] == 0
    assert summary["errors"] and summary["errors"][0].startswith("submit_job failed")
    assert "job queue is DISABLED" in summary["errors"][0]
    assert any("submit_job failed" in r.getMessage() for r in caplog.records)
    assert step.visible() == 1  # the file waits in the queue
    step.jobs.refuse = ""
    summary = step.dispatch({"yunpipe": "reconcile"})
    assert summary["submitted"] == 1 and summary["errors"] == []


def test_the_first_failed_submit_ends_the_submitting(batch_step: BatchStep) -> None:
    step = batch_step
    step.backlog(6)
    step.jobs.refuse_after = 2
    step.calls.reset()
    summary = step.dispatch({"yunpipe": "reconcile"})
    assert summary["submitted"] == 2 and len(summary["errors"]) == 1
    assert step.calls.names.count("batch.SubmitJob") == 3  # two accepted, one refused, no more


def test_no_submit_beyond_the_lambdas_remaining_time(batch_step: BatchStep) -> None:
    step = batch_step
    step.backlog(4)
    # 9 s left is inside the 10 s safety margin: nothing is submitted, the next minute does it.
    summary = step.dispatch({"yunpipe": "reconcile"}, remaining_ms=9_000)
    assert summary["submitted"] == 0 and summary["errors"] == []
    summary = step.dispatch({"yunpipe": "reconcile"}, remaining_ms=60_000)
    assert summary["submitted"] == 4


def test_a_failed_listing_is_logged_and_the_file_stays_queued(batch_step: BatchStep) -> None:
    step = batch_step

    def throttle(**_: Any) -> Any:
        return _answer(429, {"Error": {"Code": "TooManyRequestsException", "Message": "slow"}})

    step.clients["batch"].meta.events.register_first("before-call.batch.ListJobs", throttle)
    summary = step.dispatch(s3_event("in-bucket", "a.txt"))
    assert summary["sent"] == 1 and summary["submitted"] == 0
    assert summary["errors"] and "TooManyRequestsException" in summary["errors"][0]
    assert step.visible() == 1


def test_the_ledger_write_is_the_same_as_for_ecs(batch_step: BatchStep) -> None:
    from tests.ledger.helpers import make_table
    from yunpipe_tui import ledger
    from yunpipe_tui.aws import AwsContext, CallCounter

    step = batch_step
    ctx = AwsContext(region=REGION, counter=CallCounter())
    make_table(ctx, PIPELINE)
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.meta.events.register("before-call.*.*", step.calls)
    step.clients["dynamodb"] = ddb
    step.calls.reset()
    summary = step.dispatch(
        s3_event("in-bucket", "a.txt"), ledger_table=names.ledger_table(PIPELINE)
    )
    assert step.calls.names[:2] == ["dynamodb.TransactWriteItems", "sqs.SendMessage"]
    assert summary["ledger"] == 1 and summary["submitted"] == 1
    (record,) = ledger.files(ctx, PIPELINE)
    assert record.key == "a.txt" and record.state == "queued"


def test_the_listing_is_what_motos_batch_accepts(mocked_aws: None) -> None:
    """ListJobs as the dispatcher sends it, against moto's Batch (a real job queue)."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = boto3.client("batch", region_name=REGION)
    env = batch.create_compute_environment(
        computeEnvironmentName=names.compute_environment(PIPELINE, names.ON_DEMAND),
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=role,
    )
    batch.create_job_queue(
        jobQueueName=JOB_QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=names.queue(PIPELINE, STEP))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    submitted: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> Any:
        submitted.append(json.loads(params["body"]))
        return _answer(200, {"jobId": "1", "jobName": JOB_NAME, "jobArn": "arn"})

    batch.meta.events.register("before-call.batch.SubmitJob", record)
    config = d.DispatcherConfig(
        pipeline=PIPELINE,
        step=STEP,
        queue_url=url,
        cluster="",
        task_definition="",
        container="algorithm",
        task_memory=128,
        task_cpu=0,
        instance_type="",
        ami_id="",
        backend=d.BATCH,
        job_queue=JOB_QUEUE,
        job_definition=names.job_definition(PIPELINE, STEP),
        job_name=JOB_NAME,
        max_jobs=4,
    )
    summary = d.dispatch({"yunpipe": "reconcile"}, config, clients={"sqs": sqs, "batch": batch})
    assert summary["errors"] == [] and summary["jobs"] == 0 and summary["submitted"] == 1
    assert [s["jobName"] for s in submitted] == [JOB_NAME]


BATCH_ENV = {
    "YUNPIPE_PIPELINE": "demo",
    "YUNPIPE_STEP": "s1",
    "YUNPIPE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/yunpipe-demo-s1-queue",
    "YUNPIPE_CLUSTER": "",
    "YUNPIPE_TASK_DEFINITION": "",
    "YUNPIPE_BACKEND": "batch",
    "YUNPIPE_JOB_QUEUE": "yunpipe-demo-jobs",
    "YUNPIPE_JOB_DEFINITION": "yunpipe-demo-s1",
    "YUNPIPE_JOB_NAME": "yunpipe-demo-s1-drain",
    "YUNPIPE_MAX_JOBS": "16",
    "YUNPIPE_FILES_PER_JOB": "1",
}


def test_config_from_a_batch_environment() -> None:
    config = d.DispatcherConfig.from_env(BATCH_ENV)
    assert config.backend == "batch" and config.job_queue == "yunpipe-demo-jobs"
    assert config.job_definition == "yunpipe-demo-s1" and config.job_name == JOB_NAME
    assert config.max_jobs == 16 and config.files_per_job == 1
    assert config.cluster == "" and config.instance_type == "" and config.ami_id == ""
    assert d.DispatcherConfig.from_env({**BATCH_ENV, "YUNPIPE_MAX_JOBS": "5000"}).max_jobs == 1000
    assert (
        d.DispatcherConfig.from_env({**BATCH_ENV, "YUNPIPE_BACKEND": " Batch "}).backend == "batch"
    )
    for key in ("YUNPIPE_JOB_QUEUE", "YUNPIPE_JOB_DEFINITION", "YUNPIPE_JOB_NAME"):
        with pytest.raises(d.ConfigError, match=key):
            d.DispatcherConfig.from_env({**BATCH_ENV, key: ""})
    with pytest.raises(d.ConfigError, match="YUNPIPE_BACKEND"):
        d.DispatcherConfig.from_env({**BATCH_ENV, "YUNPIPE_BACKEND": "fargate"})
    with pytest.raises(d.ConfigError, match="YUNPIPE_FILES_PER_JOB"):
        d.DispatcherConfig.from_env({**BATCH_ENV, "YUNPIPE_FILES_PER_JOB": "many"})


def test_without_a_backend_the_ecs_variables_stay_required() -> None:
    from tests.lambda_runner.test_dispatcher import ENV

    assert d.DispatcherConfig.from_env(ENV).backend == "ecs"
    with pytest.raises(d.ConfigError, match="YUNPIPE_CLUSTER"):
        d.DispatcherConfig.from_env({**ENV, "YUNPIPE_CLUSTER": ""})
    with pytest.raises(d.ConfigError, match="YUNPIPE_CLUSTER"):
        d.DispatcherConfig.from_env({**ENV, "YUNPIPE_BACKEND": "ecs", "YUNPIPE_CLUSTER": ""})
