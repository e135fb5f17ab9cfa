"""The container runner against mock_aws (and, for SIGTERM, a moto server) with local commands."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from yunpipe_tui.assets import runner as r
from yunpipe_tui.lambda_functions import dispatcher  # noqa: F401 - same package layout check

REGION = "us-east-1"
PY = sys.executable
UPPER = f"{PY} -c 'import sys; open(sys.argv[2], \"w\").write(open(sys.argv[1]).read().upper())'"


def make_pipe(
    clients: dict[str, Any], max_receive: int = 2, visibility: int = 30
) -> dict[str, str]:
    """Input bucket -> (S3 notification) -> queue with a DLQ; an output bucket."""
    s3, sqs = clients["s3"], clients["sqs"]
    s3.create_bucket(Bucket="in-bucket")
    s3.create_bucket(Bucket="out-bucket")
    dlq = sqs.create_queue(QueueName="yunpipe-t-s1-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName="yunpipe-t-s1-queue",
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket="in-bucket",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return {"queue": queue, "dlq": dlq}


def config_for(tmp_path: Path, queue: str, command: str, **changes: Any) -> r.RunnerConfig:
    env = {
        "YUNPIPE_QUEUE_URL": queue,
        "YUNPIPE_OUTPUT_BUCKET": "out-bucket",
        "YUNPIPE_ALGORITHM": "upper",
        "YUNPIPE_RUN_COMMAND": command,
        "YUNPIPE_INPUT_PATH": str(tmp_path / "in"),
        "YUNPIPE_OUTPUT_PATH": str(tmp_path / "out"),
        "YUNPIPE_TIMEOUT_SECONDS": "30",
        "YUNPIPE_IDLE_SECONDS": "1",
        "YUNPIPE_WAIT_SECONDS": "1",
        "YUNPIPE_RETRY_DELAY_SECONDS": "0",
        "AWS_REGION": REGION,
    }
    env.update({k: str(v) for k, v in changes.items()})
    return r.RunnerConfig.from_env(env)


@pytest.fixture
def clients(mocked_aws: None) -> dict[str, Any]:
    import boto3

    return {s: boto3.client(s, region_name=REGION) for s in ("s3", "sqs")}


def count(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_success_uploads_the_result_and_deletes_the_message(
    clients: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = make_pipe(clients)
    clients["s3"].put_object(Bucket="in-bucket", Key="a/b c.txt", Body=b"hello yunpipe")
    config = config_for(tmp_path, urls["queue"], UPPER + " $input $output")

    assert r.run(config, clients) == 0

    body = clients["s3"].get_object(Bucket="out-bucket", Key="a/Result-upper-b c.txt")["Body"]
    assert body.read() == b"HELLO YUNPIPE"
    assert count(clients["sqs"], urls["queue"]) == 0  # the test event and the record: deleted
    assert count(clients["sqs"], urls["dlq"]) == 0
    assert not list((tmp_path / "in").iterdir()) and not list((tmp_path / "out").iterdir())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(line["message"] == "uploaded" for line in lines)
    assert lines[-1]["message"] == "queue empty; exiting"


def test_failing_command_is_retried_then_dead_lettered(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    urls = make_pipe(clients, max_receive=2)
    clients["s3"].put_object(Bucket="in-bucket", Key="bad.txt", Body=b"x")
    config = config_for(tmp_path, urls["queue"], f"{PY} -c 'import sys; sys.exit(3)' $input")
    receives: list[int] = []
    clients["sqs"].meta.events.register(
        "before-call.sqs.ReceiveMessage", lambda **_: receives.append(1)
    )

    assert r.run(config, clients) == 0

    assert count(clients["sqs"], urls["queue"]) == 0
    dead = clients["sqs"].receive_message(QueueUrl=urls["dlq"], MaxNumberOfMessages=10)["Messages"]
    (record,) = json.loads(dead[0]["Body"])["Records"]
    assert record["s3"]["object"]["key"] == "bad.txt"
    assert "Contents" not in clients["s3"].list_objects_v2(Bucket="out-bucket")
    assert len(receives) >= 3  # tried twice, then SQS moved it


def test_command_writing_no_result_is_a_failure(clients: dict[str, Any], tmp_path: Path) -> None:
    urls = make_pipe(clients, max_receive=1)
    clients["s3"].put_object(Bucket="in-bucket", Key="quiet.txt", Body=b"x")
    config = config_for(tmp_path, urls["queue"], f"{PY} -c pass $input")
    assert r.run(config, clients) == 0
    assert count(clients["sqs"], urls["dlq"]) == 1
    assert "Contents" not in clients["s3"].list_objects_v2(Bucket="out-bucket")


def test_directory_result_is_zipped(clients: dict[str, Any], tmp_path: Path) -> None:
    urls = make_pipe(clients)
    clients["s3"].put_object(Bucket="in-bucket", Key="deep/data.csv", Body=b"1,2")
    script = (
        "import os, sys; os.makedirs(os.path.join(sys.argv[2], 'sub'));"
        " open(os.path.join(sys.argv[2], 'sub', 'copy.csv'), 'w').write(open(sys.argv[1]).read())"
    )
    config = config_for(tmp_path, urls["queue"], f'{PY} -c "{script}" $input ${{output}}')
    assert r.run(config, clients) == 0
    data = clients["s3"].get_object(Bucket="out-bucket", Key="deep/Result-upper-data.csv.zip")
    archive = zipfile.ZipFile(io.BytesIO(data["Body"].read()))
    assert archive.read("sub/copy.csv") == b"1,2"
    assert count(clients["sqs"], urls["queue"]) == 0


def test_timeout_kills_the_command_and_keeps_the_message(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    urls = make_pipe(clients, max_receive=1)
    clients["s3"].put_object(Bucket="in-bucket", Key="slow.txt", Body=b"x")
    command = f"{PY} -c 'import time; time.sleep(30)' $input $output"
    config = config_for(tmp_path, urls["queue"], command, YUNPIPE_TIMEOUT_SECONDS=0.5)
    began = time.monotonic()
    assert r.run(config, clients) == 0
    assert time.monotonic() - began < 10
    assert count(clients["sqs"], urls["dlq"]) == 1


def test_foreign_messages_are_skipped_and_deleted(clients: dict[str, Any], tmp_path: Path) -> None:
    urls = make_pipe(clients)
    for body in ("not json", json.dumps({"hello": 1}), json.dumps({"Event": "s3:TestEvent"})):
        clients["sqs"].send_message(QueueUrl=urls["queue"], MessageBody=body)
    config = config_for(tmp_path, urls["queue"], UPPER + " $input $output")
    assert r.run(config, clients) == 0
    assert count(clients["sqs"], urls["queue"]) == 0
    assert count(clients["sqs"], urls["dlq"]) == 0


def test_never_overwrites_a_file_of_the_image(clients: dict[str, Any], tmp_path: Path) -> None:
    urls = make_pipe(clients, max_receive=1)
    (tmp_path / "in").mkdir()
    precious = tmp_path / "in" / "run.sh"
    precious.write_text("#!/bin/sh\n")
    clients["s3"].put_object(Bucket="in-bucket", Key="run.sh", Body=b"evil")
    config = config_for(tmp_path, urls["queue"], UPPER + " $input $output")
    assert r.run(config, clients) == 0
    assert precious.read_text() == "#!/bin/sh\n"
    assert count(clients["sqs"], urls["dlq"]) == 1


def test_command_words_and_result_keys() -> None:
    words = r.command_words("sh /x.sh '$input' --out=${output} \"a b\"", "/i/f 1", "/o/R")
    assert words == ["sh", "/x.sh", "/i/f 1", "--out=/o/R", "a b"]
    assert r.result_key("a/b/c.txt", "alg") == "a/b/Result-alg-c.txt"
    assert r.result_key("c.txt", "alg", zipped=True) == "Result-alg-c.txt.zip"


def test_configuration_errors_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("YUNPIPE_"):
            monkeypatch.delenv(key)
    assert r.main() == 2
    with pytest.raises(r.ConfigError, match="YUNPIPE_IDLE_SECONDS"):
        config_for(Path("/tmp"), "q", "x $input", YUNPIPE_IDLE_SECONDS="soon")
    with pytest.raises(r.ConfigError, match="YUNPIPE_RUN_COMMAND"):
        config_for(Path("/tmp"), "q", "x '$input")


def test_heartbeat_keeps_a_long_run_invisible(clients: dict[str, Any], tmp_path: Path) -> None:
    urls = make_pipe(clients, max_receive=1, visibility=2)
    clients["s3"].put_object(Bucket="in-bucket", Key="long.txt", Body=b"abc")
    script = "import sys, time; time.sleep(3); open(sys.argv[2], 'w').write('done')"
    config = config_for(tmp_path, urls["queue"], f'{PY} -c "{script}" $input $output')
    beats: list[int] = []
    clients["sqs"].meta.events.register(
        "before-call.sqs.ChangeMessageVisibility", lambda **_: beats.append(1)
    )
    assert r.run(config, clients) == 0
    assert len(beats) >= 2  # every half visibility timeout while the command ran
    assert clients["s3"].get_object(Bucket="out-bucket", Key="Result-upper-long.txt")["Body"].read()
    assert count(clients["sqs"], urls["queue"]) == 0
    assert count(clients["sqs"], urls["dlq"]) == 0  # with max_receive 1 a redelivery would DLQ


@pytest.fixture
def moto_server() -> Any:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import urllib.request

    # moto keeps its state in this process, not in the server: start every test from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.mark.parametrize(("sleep", "grace"), [(60, 0.5), (1, 15)], ids=["release", "finish"])
def test_sigterm_mid_run_loses_no_message(
    tmp_path: Path, moto_server: str, sleep: float, grace: float
) -> None:
    """The runner as a real process against a moto server; SIGTERM while the command sleeps.
    A command that outlives the grace period is killed and its message released; one that
    finishes within it is uploaded and deleted. Never neither."""
    import boto3

    endpoint = moto_server
    clients = {s: boto3.client(s, region_name=REGION, endpoint_url=endpoint) for s in ("s3", "sqs")}
    urls = make_pipe(clients, max_receive=3)
    clients["s3"].put_object(Bucket="in-bucket", Key="x/slow.txt", Body=b"data")
    started = tmp_path / "started"
    script = (
        f"import sys, time; open(sys.argv[3], 'w').close(); time.sleep({sleep});"
        " open(sys.argv[2], 'w').write('late')"
    )
    env = {
        **os.environ,
        "YUNPIPE_QUEUE_URL": urls["queue"],
        "YUNPIPE_OUTPUT_BUCKET": "out-bucket",
        "YUNPIPE_ALGORITHM": "slow",
        "YUNPIPE_RUN_COMMAND": f'{PY} -c "{script}" $input $output {started}',
        "YUNPIPE_INPUT_PATH": str(tmp_path / "in"),
        "YUNPIPE_OUTPUT_PATH": str(tmp_path / "out"),
        "YUNPIPE_IDLE_SECONDS": "30",
        "YUNPIPE_WAIT_SECONDS": "1",
        "YUNPIPE_STOP_GRACE_SECONDS": str(grace),
        "YUNPIPE_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
    }
    process = subprocess.Popen(
        [PY, r.__file__], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the command never started"
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out.decode()
    assert b"stopped" in out
    result = clients["s3"].list_objects_v2(Bucket="out-bucket").get("Contents", [])
    back = clients["sqs"].receive_message(QueueUrl=urls["queue"], WaitTimeSeconds=1)
    messages = back.get("Messages", [])
    assert result or messages  # never neither
    if sleep > grace:
        # Released with visibility 0, so it is receivable at once, and no partial result.
        assert not result and len(messages) == 1
        (record,) = json.loads(messages[0]["Body"])["Records"]
        assert record["s3"]["object"]["key"] == "x%2Fslow.txt"
    else:
        assert [o["Key"] for o in result] == ["x/Result-slow-slow.txt"] and not messages


def test_sigterm_while_waiting_exits_at_once(tmp_path: Path, moto_server: str) -> None:
    import boto3

    clients = {
        s: boto3.client(s, region_name=REGION, endpoint_url=moto_server) for s in ("s3", "sqs")
    }
    urls = make_pipe(clients)
    env = {
        **os.environ,
        "YUNPIPE_QUEUE_URL": urls["queue"],
        "YUNPIPE_OUTPUT_BUCKET": "out-bucket",
        "YUNPIPE_ALGORITHM": "idle",
        "YUNPIPE_RUN_COMMAND": "true $input",
        "YUNPIPE_INPUT_PATH": str(tmp_path / "in"),
        "YUNPIPE_OUTPUT_PATH": str(tmp_path / "out"),
        "YUNPIPE_IDLE_SECONDS": "120",
        "YUNPIPE_WAIT_SECONDS": "20",
        "YUNPIPE_ENDPOINT_URL": moto_server,
        "AWS_REGION": REGION,
    }
    process = subprocess.Popen([PY, r.__file__], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        # The TestEvent S3 sent to the queue is skipped; then the runner long-polls.
        first = json.loads(process.stdout.readline())
        assert first["message"] == "runner started"
        time.sleep(0.5)
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        assert time.monotonic() - began < 5  # not the rest of a 20 s long poll
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0


def test_zero_idle_still_processes_what_is_queued(clients: dict[str, Any], tmp_path: Path) -> None:
    urls = make_pipe(clients)
    clients["s3"].put_object(Bucket="in-bucket", Key="now.txt", Body=b"go")
    config = config_for(tmp_path, urls["queue"], UPPER + " $input $output", YUNPIPE_IDLE_SECONDS=0)
    assert r.run(config, clients) == 0
    # The S3 test event came first; the runner keeps going while messages keep coming.
    assert clients["s3"].get_object(Bucket="out-bucket", Key="Result-upper-now.txt")


def test_the_runner_names_itself_by_its_batch_job_first() -> None:
    """A Batch job is also an ECS task with a metadata endpoint; the ledger records the job id,
    which the monitor and the user see (the endpoint here would refuse: it is never asked)."""
    closed = "http://127.0.0.1:9"
    both = {"AWS_BATCH_JOB_ID": " 0a1b-job ", "ECS_CONTAINER_METADATA_URI_V4": closed}
    assert r.runner_identity(both) == "batch:0a1b-job"
    alone = r.runner_identity({"AWS_BATCH_JOB_ID": ""})
    assert alone.startswith("host:") and alone.endswith(f":{os.getpid()}")
