"""Deploy under faults.

For a three-step sequence deploy of N API calls, every call k in 1..N is made to fail with a
non-retryable error: the deploy stops naming the resource, teardown leaves nothing but the
buckets, and a new deploy converges to exactly the resources of a clean one. Then 30% of all
calls are throttled by the fault server: the deploy succeeds with the same resources.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import SEED, make_prerequisites, plan_for, snapshot
from tests.proof.faults import FaultPlan, FaultyMotoServer, client_faults, throttle_fraction
from yunpipe_tui.aws import AwsContext, CallCounter
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.deploy import DeployError, deploy
from yunpipe_tui.deploy.teardown import teardown

PIPELINE = "proof"


@pytest.fixture
def catalog() -> Catalog:
    catalog = Catalog()
    algorithm = load_algorithm_file(SEED / "change123.json")
    catalog.add(algorithm)
    catalog.add(replace(algorithm, name="second-alg", ports=(), variables=(), image="me/second"))
    catalog.add(replace(algorithm, name="third-alg", ports=(), variables=(), image="me/third"))
    return catalog


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    data = {
        "name": PIPELINE,
        "input_s3_name": "proof-input-bucket",
        "output_s3_name": "proof-output-bucket",
        "region": "us-east-1",
        "process": {
            "type": "sequence_run",
            "algorithms": [
                {"name": "change123-s3", "port": [9090], "variables": {"TEST_ENV": "x"}},
                {"name": "second-alg", "port": [], "variables": {}},
                {"name": "third-alg", "port": [], "variables": {}},
            ],
        },
    }
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(data))
    return path


def normalised(snap: dict[str, Any]) -> dict[str, Any]:
    """Task definition revisions grow across deploys; everything else must match exactly."""
    out = dict(snap)
    out["task_definitions"] = sorted(re.sub(r":\d+$", "", a) for a in snap["task_definitions"])
    return out


def only_buckets_left(snap: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """What a teardown left beyond the account's state before the deploy, buckets aside."""
    left = {}
    for key in (
        "queues",
        "functions",
        "roles",
        "task_definitions",
        "clusters",
        "log_groups",
        "rules",
    ):
        extra = sorted(set(snap[key]) - set(baseline[key]))
        if extra:
            left[key] = extra
    for bucket, config in snap["notifications"].items():
        if json.loads(config).get("LambdaFunctionConfigurations"):
            left.setdefault("notifications", []).append(bucket)
    return left


class FailCall:
    """Fails exactly the k-th API call made through the context (thread-safe)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.n = 0
        self.lock = threading.Lock()
        self.failed: tuple[str, str] | None = None

    def __call__(self, service: str, operation: str) -> tuple[str, str] | None:
        with self.lock:
            self.n += 1
            if self.n != self.k:
                return None
            self.failed = (service, operation)
        return ("AccessDenied", f"injected fault at call {self.k}")


@pytest.mark.slow  # minutes: two deploys and two teardowns for each of its API calls
def test_every_single_failing_call_is_recoverable(
    mocked_aws: None, workflow: Path, catalog: Catalog, progress: Callable[[str], None]
) -> None:
    setup = AwsContext(region="us-east-1", counter=CallCounter())
    make_prerequisites(setup)
    baseline = snapshot(setup)

    # A clean run: its API calls and its resources are the reference.
    plan = plan_for(setup, workflow, catalog)  # pure: the same plan serves every run below
    clean = AwsContext(region="us-east-1", counter=CallCounter())
    deploy(plan, clean)
    total = clean.counter.total
    reference = normalised(snapshot(setup))
    teardown(PIPELINE, setup, delete_buckets=True)
    assert snapshot(setup)["buckets"] == baseline["buckets"]
    assert total > 40, total

    stopped = 0
    for k in range(1, total + 1):
        progress(f"call {k} of {total}")
        ctx = AwsContext(region="us-east-1", counter=CallCounter())
        fault = FailCall(k)
        client_faults(ctx, fault)
        try:
            deploy(plan, ctx)
        except DeployError as exc:
            stopped += 1
            message = str(exc)
            assert exc.resource.label in message and "failed" in message, message
            if fault.failed and fault.failed[1] != "HeadBucket":  # HEAD answers carry no body
                assert f"injected fault at call {k}" in message, message
        else:
            # k fell on a call the engine tolerates (an inspection that found nothing)
            assert fault.failed is not None

        teardown(PIPELINE, setup)
        after = snapshot(setup)
        assert only_buckets_left(after, baseline) == {}, (k, fault.failed)

        again = AwsContext(region="us-east-1", counter=CallCounter())
        deploy(plan, again)
        assert normalised(snapshot(setup)) == reference, (k, fault.failed)
        teardown(PIPELINE, setup, delete_buckets=True)
    assert stopped > total // 2, (stopped, total)


@pytest.fixture
def fault_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyMotoServer]:
    import requests

    server = FaultyMotoServer()
    server.start()
    requests.post(f"{server.endpoint}/moto-api/reset", timeout=10)
    # Keep botocore's backoff short so the test is quick; the retry logic itself is untouched.
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.005)
    yield server
    server.stop()


def test_thirty_percent_throttling_converges(
    fault_server: FaultyMotoServer, workflow: Path, catalog: Catalog
) -> None:
    endpoint = fault_server.endpoint
    setup = AwsContext(region="us-east-1", endpoint_url=endpoint, counter=CallCounter())
    make_prerequisites(setup)

    ctx = AwsContext(region="us-east-1", endpoint_url=endpoint, counter=CallCounter())
    deploy(plan_for(ctx, workflow, catalog), ctx)
    reference = normalised(snapshot(setup))
    teardown(PIPELINE, setup, delete_buckets=True)

    plan = FaultPlan(decide=throttle_fraction(0.30, seed=11))
    fault_server.set_plan(plan)
    throttled = AwsContext(region="us-east-1", endpoint_url=endpoint, counter=CallCounter())
    deploy(plan_for(throttled, workflow, catalog), throttled)
    fault_server.set_plan(FaultPlan(decide=lambda call, protocol: None))
    assert len(plan.injected) >= 15, len(plan.injected)
    assert normalised(snapshot(setup)) == reference
    queues = snapshot(setup)["queues"]
    assert len(queues) == len(set(queues)) == 6  # three steps, each a queue and a DLQ
