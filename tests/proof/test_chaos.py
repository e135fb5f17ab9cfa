"""Runner and dispatcher chaos in the sandbox.

A failing algorithm, download errors, upload errors, SIGTERM mid-run and a dispatcher that
cannot start tasks, all in one run: every input file ends in the output bucket or in the
dead-letter queue — counted, none lost, none processed twice into different results.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto")

from tests.proof.faults import Call, FaultPlan, FaultyMotoServer
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.sandbox import Sandbox, Timings, flow

pytestmark = pytest.mark.slow  # a whole sandbox run with waits on faults: `pytest -m slow`

PIPELINE = "chaos"
IN, OUT = "chaos-in", "chaos-out"

ALGORITHM = """\
import pathlib, sys, time
src, dst = sys.argv[1], sys.argv[2]
text = pathlib.Path(src).read_text()
if text.startswith("FAIL"):
    sys.exit(3)
if text.startswith("SLOW"):
    time.sleep(4)
pathlib.Path(dst).write_text(text.upper())
"""

GOOD = {f"ok/file-{i}.txt": f"plain {i}\n" for i in range(6)}
TO_OUTPUT = {
    **GOOD,
    "flaky/download.txt": "download fails once\n",
    "flaky/upload.txt": "upload fails twice\n",
    "slow/interrupted.txt": "SLOW and interrupted\n",
}
TO_DLQ = {
    "bad/algorithm.txt": "FAIL always\n",
    "bad/download.txt": "download always fails\n",
    "bad/upload.txt": "upload always fails\n",
}


class Chaos:
    """The fault server's decisions: which S3 and ECS calls fail, and how often."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.start_task_failures = 0

    def _times(self, what: str) -> int:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1
            return self.counts[what]

    def __call__(self, call: Call, protocol: str) -> str | None:
        op = call.operation
        if call.service == "s3" and op.startswith(("GET ", "HEAD ")) and f"/{IN}/" in op:
            if op.endswith("/bad/download.txt"):
                return "AccessDenied"
            if op.endswith("/flaky/download.txt") and op.startswith("GET "):
                return "AccessDenied" if self._times("download") <= 1 else None
        if call.service == "s3" and op.startswith("PUT ") and f"/{OUT}/" in op:
            if op.endswith("/bad/Result-chaos-alg-upload.txt"):
                return "AccessDenied"
            if op.endswith("/flaky/Result-chaos-alg-upload.txt"):
                return "AccessDenied" if self._times("upload") <= 2 else None
        if call.service == "ecs" and op == "StartTask":
            with self.lock:
                if self.start_task_failures < 3:
                    self.start_task_failures += 1
                    return "AccessDeniedException"
        return None


@pytest.fixture
def chaos() -> Chaos:
    return Chaos()


@pytest.fixture
def sandbox(tmp_path: Path, chaos: Chaos, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    import moto.server

    plan = FaultPlan(decide=chaos)
    monkeypatch.setattr(
        moto.server,
        "ThreadedMotoServer",
        lambda ip_address, port, verbose: FaultyMotoServer(plan, port=port),
    )
    with Sandbox(timings=Timings.fast(), workdir=tmp_path / "sandbox") as sb:
        yield sb


def interrupt_slow_run(sandbox: Sandbox, stop: threading.Event, done: list[str]) -> None:
    """SIGTERM the runner while it works on the slow file (once)."""
    while not stop.is_set() and not done:
        loop = sandbox._loop
        for task in list(loop.executor.tasks.values()) if loop else []:
            process = task.process
            busy = any(task.folder.rglob("interrupted.txt"))
            if process is not None and process.poll() is None and busy:
                time.sleep(0.5)  # well inside the 4 s the algorithm sleeps
                process.send_signal(signal.SIGTERM)
                done.append(task.arn)
                return
        time.sleep(0.05)


def drain(ctx: Any, url: str) -> list[str]:
    """Every S3 key in a queue's messages, receiving and deleting until it stays empty."""
    sqs = ctx.client("sqs")
    keys: list[str] = []
    empty_rounds = 0
    while empty_rounds < 2:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = got.get("Messages", [])
        empty_rounds = 0 if messages else empty_rounds + 1
        for message in messages:
            body = json.loads(message["Body"])
            for record in body.get("Records", []):
                from urllib.parse import unquote_plus

                keys.append(unquote_plus(record["s3"]["object"]["key"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return keys


def test_every_file_ends_in_the_output_or_the_dead_letter_queue(
    sandbox: Sandbox, chaos: Chaos, tmp_path: Path, progress: Callable[[str], None]
) -> None:
    ctx = sandbox.aws_context()
    flow.prepare_account(ctx)
    script = tmp_path / "chaos_algorithm.py"
    script.write_text(ALGORITHM)
    catalog = Catalog(tmp_path / "catalog")
    algorithm = replace(
        flow.text_algorithm("chaos-alg", "upper"),
        run_command=f"{sys.executable} {script} $input $output",
    )
    catalog.add(algorithm)
    workflow = flow.workflow_for(PIPELINE, ["chaos-alg"], IN, OUT)
    result = flow.deploy_workflow(ctx, workflow, catalog)
    assert result.pipeline == PIPELINE
    progress("deployed; uploading the files, waiting up to 120 s for the results")

    stop, interrupted = threading.Event(), []
    watcher = threading.Thread(target=interrupt_slow_run, args=(sandbox, stop, interrupted))
    watcher.start()
    try:
        flow.upload(ctx, IN, {k: v.encode() for k, v in {**TO_OUTPUT, **TO_DLQ}.items()})
        expected = {flow.result_name("chaos-alg", k): v.upper() for k, v in TO_OUTPUT.items()}
        arrived = flow.wait_for_objects(ctx, OUT, expected, timeout=120)
    finally:
        stop.set()
        watcher.join()

    assert arrived.complete, f"missing results: {sorted(set(expected) - set(arrived.found))}"
    assert interrupted, "the slow run was never interrupted"
    assert chaos.start_task_failures == 3, "the dispatcher never met a failing StartTask"
    # the flaky files really failed first: one refused download, two refused uploads
    assert chaos.counts["download"] >= 2 and chaos.counts["upload"] >= 3, chaos.counts

    sqs = ctx.client("sqs")
    from yunpipe_tui import resource_names as names

    dlq_url = sqs.get_queue_url(QueueName=names.dead_letter_queue(PIPELINE, "s1"))["QueueUrl"]
    queue_url = sqs.get_queue_url(QueueName=names.queue(PIPELINE, "s1"))["QueueUrl"]
    progress("results complete; draining the dead-letter queue (up to 90 s)")
    deadline = time.monotonic() + 90
    dead: list[str] = []
    while time.monotonic() < deadline and sorted(set(dead)) != sorted(TO_DLQ):
        dead += drain(ctx, dlq_url)
    assert sorted(dead) == sorted(TO_DLQ), dead  # each failing file exactly once

    s3 = ctx.client("s3")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=OUT).get("Contents", [])]
    assert sorted(listed) == sorted(expected)  # no result for a dead-lettered file, no extras
    for key, body in expected.items():
        assert s3.get_object(Bucket=OUT, Key=key)["Body"].read().decode() == body
    # nothing left behind in the work queue: every file is accounted for exactly once
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attrs == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
    assert set(TO_OUTPUT) | set(TO_DLQ) == {*(k for k in TO_OUTPUT), *dead}
