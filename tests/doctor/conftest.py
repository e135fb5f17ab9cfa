"""Doctor tests: moto with AWS's managed policies loaded, as on AWS."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

import pytest

# The managed policies yunpipe attaches. moto builds all ~1600 of AWS's managed policies on every
# mock start (about 1.7 s here); the tests load only the ones that matter, real documents and all.
USED_MANAGED_POLICIES = (
    "AWSLambdaBasicExecutionRole",
    "AmazonEC2ContainerServiceforEC2Role",
    "CloudWatchActionsEC2Access",
    "AdministratorAccess",
    "ReadOnlyAccess",
)


@functools.cache
def _used_policies_data() -> str:
    from moto.iam import aws_managed_policies

    data = json.loads(aws_managed_policies.aws_managed_policies_data)
    return json.dumps({k: data[k] for k in USED_MANAGED_POLICIES})


@pytest.fixture
def iam_data_patch(monkeypatch: pytest.MonkeyPatch) -> None:
    """MOTO_IAM_LOAD_MANAGED_POLICIES=true, before any IAM call, with the policies yunpipe uses."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    import moto.iam.models

    monkeypatch.setattr(moto.iam.models, "aws_managed_policies_data", _used_policies_data())


@pytest.fixture
def iam_aws(iam_data_patch: None) -> Iterator[object]:
    """An AwsContext on mock_aws where AWS's managed policies (the ones yunpipe uses) exist."""
    from moto import mock_aws

    from yunpipe_tui.aws import AwsContext, CallCounter

    with mock_aws():
        yield AwsContext(region="us-east-1", counter=CallCounter())
