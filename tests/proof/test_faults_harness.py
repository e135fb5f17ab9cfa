"""The fault harness itself: every protocol's injected error is parsed by botocore as AWS's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.proof.faults import Call, FaultPlan, FaultyMotoServer, client_faults
from yunpipe_tui.aws import AwsContext, CallCounter, error_code


@pytest.fixture(scope="module")
def server() -> Iterator[FaultyMotoServer]:
    import requests

    srv = FaultyMotoServer()
    srv.start()
    requests.post(f"{srv.endpoint}/moto-api/reset", timeout=10)  # moto's state is per process
    yield srv
    srv.stop()


CALLS = {
    "sqs": lambda c: c.list_queues(),
    "ecs": lambda c: c.list_clusters(),
    "ec2": lambda c: c.describe_instances(),
    "iam": lambda c: c.list_roles(),
    "s3": lambda c: c.list_buckets(),
    "lambda": lambda c: c.list_functions(),
    "cloudwatch": lambda c: c.describe_alarms(),
    "sts": lambda c: c.get_caller_identity(),
}
EXPECTED = {
    "sqs": "ThrottlingException",
    "ecs": "ThrottlingException",
    "ec2": "RequestLimitExceeded",
    "iam": "Throttling",
    "s3": "SlowDown",
    "lambda": "TooManyRequestsException",
    "cloudwatch": "ThrottlingException",
    "sts": "Throttling",
}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_server_throttles_in_each_protocol(server: FaultyMotoServer, service: str) -> None:
    from tests.proof.faults import THROTTLE_CODES

    server.set_plan(FaultPlan(decide=lambda call, protocol: THROTTLE_CODES[protocol]))
    ctx = AwsContext(region="us-east-1", endpoint_url=server.endpoint, counter=CallCounter())
    ctx.max_attempts = 2
    client = ctx.client(service)
    with pytest.raises(ClientError) as info:
        CALLS[service](client)
    assert error_code(info.value) == EXPECTED[service]
    # botocore's standard mode retried it: the server saw both attempts
    assert len(server.plan.injected) >= 2
    assert {c.service for c in server.plan.injected} == {client.meta.service_model.signing_name}


def test_server_passes_through_and_retries_succeed(server: FaultyMotoServer) -> None:
    failures = {"n": 0}

    def first_two(call: Call, protocol: str) -> str | None:
        if call.operation == "ListQueues" and failures["n"] < 2:
            failures["n"] += 1
            return "ThrottlingException"
        return None

    server.set_plan(FaultPlan(decide=first_two))
    import requests

    requests.post(f"{server.endpoint}/moto-api/reset", timeout=10)
    ctx = AwsContext(region="us-east-1", endpoint_url=server.endpoint, counter=CallCounter())
    ctx.client("sqs").create_queue(QueueName="q")
    assert len(ctx.client("sqs").list_queues()["QueueUrls"]) == 1
    assert failures["n"] == 2


def test_client_side_faults(aws: AwsContext) -> None:
    failed = client_faults(
        aws, lambda s, op: ("AccessDenied", "nope") if op == "CreateBucket" else None
    )
    with pytest.raises(ClientError) as info:
        aws.client("s3").create_bucket(Bucket="b-1-2-3")
    assert error_code(info.value) == "AccessDenied"
    assert failed == [("s3", "CreateBucket")]
    aws.client("sqs").create_queue(QueueName="ok")  # other calls pass
