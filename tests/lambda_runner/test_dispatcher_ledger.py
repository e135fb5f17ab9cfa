"""The dispatcher's ledger writes (issue 12): step 1's `queued` item per upload and its counter,
in one TransactWriteItems per event; a duplicate event changes nothing; no table, no call."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from tests.lambda_runner.conftest import REGION, Step, s3_event
from tests.ledger.helpers import make_table
from yunpipe_tui import ledger
from yunpipe_tui import resource_names as names
from yunpipe_tui.assets import runner
from yunpipe_tui.aws import AwsContext, CallCounter
from yunpipe_tui.lambda_functions import dispatcher as d

KEY = "a/b+c.txt"


@pytest.fixture
def ledgered(step: Step) -> Step:
    ctx = AwsContext(region=REGION, counter=CallCounter())
    make_table(ctx, "demo")
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.meta.events.register("before-call.*.*", step.calls)
    step.clients["dynamodb"] = ddb
    step.extra["ctx"] = ctx
    return step.with_config(ledger_table=names.ledger_table("demo"))


def test_one_more_call_per_event_and_the_queued_item(ledgered: Step) -> None:
    step = ledgered
    step.register_instance()
    step.calls.reset()
    summary = d.dispatch(s3_event("in-bucket", KEY, size=7), step.config, clients=step.clients)
    assert step.calls.names == [
        "dynamodb.TransactWriteItems",  # the one call the ledger adds
        "sqs.SendMessage",
        "ecs.ListTasks",
        "ecs.ListContainerInstances",
        "ecs.StartTask",
    ]
    assert summary["ledger"] == 1
    ctx = step.extra["ctx"]
    (record,) = ledger.files(ctx, "demo")
    assert record.key == "a/b c.txt" and record.state == "queued"
    assert record.file_id == "a/b c.txt#d41d8cd98f00b204e9800998ecf8427e"
    (s1,) = record.steps
    assert s1.step == "s1" and s1.attempts == 0 and s1.input == "s3://in-bucket/a/b c.txt"
    assert s1.bytes_in == 7 and s1.queued_at.endswith("Z")
    assert ledger.counts(ctx, "demo") == {"s1": {"queued": 1, "running": 0, "done": 0, "failed": 0}}


def test_a_duplicate_event_changes_nothing(ledgered: Step) -> None:
    step = ledgered
    event = s3_event("in-bucket", KEY)
    d.dispatch(event, step.config, clients=step.clients)
    before = list(ledger.files(step.extra["ctx"], "demo"))
    again = d.dispatch(copy.deepcopy(event), step.config, clients=step.clients)
    assert again["ledger"] == 0 and again["sent"] == 1  # still queued: the runner is idempotent
    assert list(ledger.files(step.extra["ctx"], "demo")) == before
    assert ledger.counts(step.extra["ctx"], "demo")["s1"]["queued"] == 1


def test_a_batch_mixing_new_and_duplicate_records(ledgered: Step) -> None:
    step = ledgered
    d.dispatch(s3_event("in-bucket", "one.txt"), step.config, clients=step.clients)
    event = s3_event("in-bucket", "one.txt")
    second = copy.deepcopy(event["Records"][0])
    second["s3"]["object"]["key"] = "two.txt"
    third = copy.deepcopy(second)
    third["s3"]["object"]["eTag"] = "another-version"  # the same key uploaded again: new file
    event["Records"] += [second, third]
    step.calls.reset()
    summary = d.dispatch(event, step.config, clients=step.clients)
    assert summary["ledger"] == 2
    assert step.calls.names[:2] == ["dynamodb.TransactWriteItems"] * 2
    ids = sorted(r.file_id for r in ledger.files(step.extra["ctx"], "demo"))
    assert ids == [
        "one.txt#d41d8cd98f00b204e9800998ecf8427e",
        "two.txt#another-version",
        "two.txt#d41d8cd98f00b204e9800998ecf8427e",
    ]
    assert ledger.counts(step.extra["ctx"], "demo")["s1"]["queued"] == 3


def test_versioned_bucket_uses_the_version_id() -> None:
    record = s3_event("in-bucket", KEY)["Records"][0]
    record["s3"]["object"]["versionId"] = "v42"
    assert d.file_id(record) == "a/b c.txt#v42"
    assert runner.file_id(record) == d.file_id(record)
    del record["s3"]["object"]["versionId"]
    record["s3"]["object"]["eTag"] = '"quoted"'
    assert d.file_id(record) == runner.file_id(record) == "a/b c.txt#quoted"


def test_no_table_no_ledger_call(step: Step) -> None:
    assert step.config.ledger_table == ""
    d.dispatch(s3_event("in-bucket", KEY), step.config, clients=step.clients)
    assert not [c for c in step.calls.names if c.startswith("dynamodb")]


def test_a_failed_ledger_write_still_queues_the_file(ledgered: Step) -> None:
    step = ledgered.with_config(ledger_table="yunpipe-missing-ledger")
    summary = d.dispatch(s3_event("in-bucket", KEY), step.config, clients=step.clients)
    assert summary["sent"] == 1 and summary["ledger"] == 0
    assert any("ledger write failed" in e for e in summary["errors"])
    assert len(step.messages()) == 1


def test_config_reads_the_table(monkeypatch: Any) -> None:
    env = {
        "YUNPIPE_PIPELINE": "p",
        "YUNPIPE_STEP": "s1",
        "YUNPIPE_QUEUE_URL": "q",
        "YUNPIPE_CLUSTER": "c",
        "YUNPIPE_TASK_DEFINITION": "t",
        "YUNPIPE_INSTANCE_TYPE": "t3.small",
        "YUNPIPE_AMI_ID": "ami-1",
        "YUNPIPE_LEDGER_TABLE": "yunpipe-p-ledger",
    }
    assert d.DispatcherConfig.from_env(env).ledger_table == "yunpipe-p-ledger"
    assert d.DispatcherConfig.from_env({**env, "YUNPIPE_LEDGER_TABLE": ""}).ledger_table == ""
