"""Fixtures for the deploy engine tests: prerequisite roles, a catalog algorithm, workflows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import PLACEHOLDER, SEED, make_prerequisites, write_workflow
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.deploy import zip_source


@pytest.fixture
def prereqs(aws: Any) -> Any:
    make_prerequisites(aws)
    return aws


@pytest.fixture
def code() -> Any:
    """The dispatcher zip loader: the packaged one when present, else the test placeholder."""
    from importlib import resources

    from yunpipe_tui.deploy import dispatcher_zip

    if resources.files("yunpipe_tui.lambda_functions").joinpath("dispatcher.py").is_file():
        return dispatcher_zip
    return lambda: zip_source({"dispatcher.py": PLACEHOLDER})


@pytest.fixture
def catalog() -> Catalog:
    catalog = Catalog()
    algorithm = load_algorithm_file(SEED / "change123.json")
    catalog.add(algorithm)
    from dataclasses import replace

    catalog.add(replace(algorithm, name="second-alg", ports=(), variables=(), image="me/second"))
    return catalog


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    return write_workflow(tmp_path, "demo")


SLR_PATH = "/aws-service-role/batch.amazonaws.com/"
SLR = "AWSServiceRoleForBatch"


@pytest.fixture
def batch_aws(prereqs: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """mock_aws with the prerequisites, where a compute environment without a serviceRole gets
    Batch's service-linked role, as on AWS: moto 5.2.5 refuses CreateComputeEnvironment
    without a serviceRole, which AWS accepts. This one difference is patched, nothing else;
    Batch's waits do not sleep."""
    from moto.batch.models import BatchBackend

    iam = prereqs.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "batch.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName=SLR, Path=SLR_PATH, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    original = BatchBackend.create_compute_environment

    def create(self: Any, **kw: Any) -> Any:
        return original(self, **{**kw, "service_role": kw.get("service_role") or arn})

    monkeypatch.setattr(BatchBackend, "create_compute_environment", create)
    from yunpipe_tui.deploy.kinds import batch_states

    monkeypatch.setattr(batch_states, "pause", lambda s: None)
    return prereqs
