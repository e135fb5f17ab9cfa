"""Every test runs in a private HOME with dummy AWS credentials: nothing can reach a real
account, and nothing is written outside the test's temporary folder. That, moto's per-process
state and free ports are what make the suite safe to spread over pytest-xdist workers."""

from __future__ import annotations

import functools
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SEED = Path(__file__).parent / "data" / "seed"

_AWS_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "YUNPIPE_DEBUG",
    "YUNPIPE_KEYRING_PASSPHRASE",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("YUNPIPE_HOME", str(home / ".local" / "yunpipe"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for var in _AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return home


@pytest.fixture
def progress(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """`progress("call 3 of 70")` writes a line to the terminal past pytest's capture, so a test
    that runs for minutes never looks hung, with or without `-s`. Under xdist too: a worker's
    stderr is the terminal's."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    name = request.node.nodeid
    start = time.monotonic()

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled():
            sys.stderr.write(f"\n[{time.monotonic() - start:5.0f} s] {name}: {line}\n")
            sys.stderr.flush()

    return say


@pytest.fixture
def seed_dir() -> Path:
    return SEED


@pytest.fixture
def mocked_aws() -> Iterator[None]:
    """moto's in-process AWS (mock_aws) for the duration of a test."""
    from moto import mock_aws

    with mock_aws():
        yield


# The managed policies yunpipe attaches. moto builds all ~1600 of AWS's managed policies on every
# mock start (about 1.5 s of CPU); the tests load only the ones that matter, real documents and all.
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
def iam_aws(iam_data_patch: None) -> Iterator[Any]:
    """An AwsContext on mock_aws where AWS's managed policies (the ones yunpipe uses) exist, as
    on AWS (the doctor's checks and fixes look for them)."""
    from moto import mock_aws

    from yunpipe_tui.aws import AwsContext, CallCounter

    with mock_aws():
        yield AwsContext(region="us-east-1", counter=CallCounter())


@pytest.fixture
def aws(mocked_aws: None) -> Any:
    """An AwsContext talking to mock_aws, with its own call counter."""
    from yunpipe_tui.aws import AwsContext, CallCounter

    return AwsContext(region="us-east-1", counter=CallCounter())


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Any]:
    """A running local sandbox (moto server on 127.0.0.1 + the local executor) with test timings,
    for one test; empty at start, stopped after. Use `sandbox.aws_context()` for clients, or the
    `sandbox_env` fixture to point this process's environment (AWS_ENDPOINT_URL...) at it."""
    from yunpipe_tui.sandbox import Sandbox, Timings

    with Sandbox(timings=Timings.fast(), workdir=tmp_path / "sandbox") as running:
        yield running


@pytest.fixture
def sandbox_env(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The `sandbox`, with AWS_ENDPOINT_URL, dummy credentials and region set in os.environ."""
    for name, value in sandbox.environ().items():
        monkeypatch.setenv(name, value)
    return sandbox


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run `yunpipe ARGS` in-process: (exit code, stdout, stderr)."""
    from yunpipe_tui.cli import main

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        else:  # pragma: no cover - main always exits
            code = 0
        out, err = capsys.readouterr()
        return code, out, err

    return run
