"""Driving a whole pipeline in the sandbox: the doctor's fixes, deploy, upload, wait for results,
teardown. Shared by `yunpipe demo`, the sandbox tests and the throughput benchmark; every step
goes through yunpipe's real core (doctor, plan, deploy engine, teardown).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yunpipe_tui.catalog import Algorithm, Catalog
from yunpipe_tui.workflow import SEQUENCE_RUN, SINGLE_RUN, Step, Workflow

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.deploy import DeployResult
    from yunpipe_tui.deploy.events import EventSink
    from yunpipe_tui.deploy.teardown import TeardownResult
    from yunpipe_tui.doctor import CheckResult

TRANSFORM = "python3 -m yunpipe_tui.sandbox.transform"


def text_algorithm(name: str, operation: str, instance_type: str = "t3.micro") -> Algorithm:
    """An algorithm whose `run_command` runs the demo text transform on the host."""
    return Algorithm(
        name=name,
        container_name="yunpipe/demo-text",
        input_file_path="/data/input/",
        output_file_path="/data/output/",
        run_command=f"{TRANSFORM} {operation} $input $output",
        system="ubuntu",
        instance_type=instance_type,
        memory_minimal=64,
        memory_suggested=128,
        cpu=0.25,
        timeout_seconds=60,
    )


def workflow_for(
    pipeline: str, algorithms: Iterable[str], input_bucket: str, output_bucket: str
) -> Workflow:
    steps = tuple(Step(algorithm=name) for name in algorithms)
    return Workflow(
        name=pipeline,
        input_bucket=input_bucket,
        output_bucket=output_bucket,
        type=SEQUENCE_RUN if len(steps) > 1 else SINGLE_RUN,
        steps=steps,
    )


def result_name(algorithm: str, key: str) -> str:
    """The runner's result key: same prefix, file name `Result-<algorithm>-<name>`."""
    prefix, _, name = key.rpartition("/")
    return (prefix + "/" if prefix else "") + f"Result-{algorithm}-{name}"


def final_key(algorithms: Iterable[str], key: str) -> str:
    """Where a file uploaded as `key` ends up after every step of a sequence."""
    for name in algorithms:
        key = result_name(name, key)
    return key


def failing_checks(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status == "fail"]


def prepare_account(ctx: AwsContext) -> tuple[list[CheckResult], list[str], list[CheckResult]]:
    """The doctor on a fresh sandbox: checks, every available fix applied, checks again.

    Returns (results before, what each fix did, results after).
    """
    from yunpipe_tui import doctor

    before = doctor.run_checks(ctx)
    fixable = set(doctor.fixable_ids())
    done = []
    for result in before:
        if result.status != "ok" and result.id in fixable:
            done.append(doctor.apply_fix(ctx, result.id))
    after = doctor.run_checks(ctx)
    return before, done, after


def deploy_workflow(
    ctx: AwsContext, workflow: Workflow, catalog: Catalog, sink: EventSink | None = None
) -> DeployResult:
    """Preflight facts, plan and deploy, as `yunpipe deploy --yes` does (without the dry-run
    diff, which only informs a person)."""
    from yunpipe_tui.deploy import deploy
    from yunpipe_tui.deploy.prepare import prepare

    prepared = prepare(workflow, ctx, catalog, with_actions=False)
    prepared.require()
    return deploy(prepared.plan, ctx, sink)


def teardown_pipeline(
    ctx: AwsContext, pipeline: str, sink: EventSink | None = None
) -> TeardownResult:
    from yunpipe_tui.deploy.teardown import teardown

    return teardown(pipeline, ctx, sink)


def upload(ctx: AwsContext, bucket: str, files: Mapping[str, bytes]) -> dict[str, float]:
    """Put each file; returns key → upload time (time.monotonic())."""
    s3 = ctx.client("s3")
    sent = {}
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        sent[key] = time.monotonic()
    return sent


@dataclass
class Arrivals:
    """Objects found in a bucket while waiting: key → (body, time first seen)."""

    found: dict[str, tuple[bytes, float]]
    missing: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing


def wait_for_objects(
    ctx: AwsContext,
    bucket: str,
    keys: Iterable[str],
    timeout: float = 60.0,
    interval: float = 0.2,
    on_poll: Callable[[], Any] | None = None,
) -> Arrivals:
    """Poll the bucket (one ListObjectsV2 per round) until every key exists or time runs out."""
    s3 = ctx.client("s3")
    wanted = set(keys)
    found: dict[str, tuple[bytes, float]] = {}
    deadline = time.monotonic() + timeout
    while True:
        present: set[str] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            present.update(o["Key"] for o in page.get("Contents", []))
        now = time.monotonic()
        for key in sorted((wanted & present) - set(found)):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            found[key] = (body, now)
        if on_poll is not None:
            on_poll()
        if len(found) == len(wanted) or now >= deadline:
            break
        time.sleep(interval)
    return Arrivals(found, sorted(wanted - set(found)))


def dead_letters(ctx: AwsContext, queue_url: str, wait: float = 0.0) -> list[dict[str, Any]]:
    """The S3 records sitting in a dead-letter queue (received with visibility 0, not deleted)."""
    import json

    sqs = ctx.client("sqs")
    answer = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        WaitTimeSeconds=int(wait),
    )
    records: list[dict[str, Any]] = []
    for message in answer.get("Messages", []):
        try:
            body = json.loads(message["Body"])
        except ValueError:
            continue
        records.extend(body.get("Records", [body]) if isinstance(body, dict) else [])
    return records
