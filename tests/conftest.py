"""Every test runs in a private HOME with dummy AWS credentials: nothing can reach a real
account, and nothing is written outside the test's temporary folder. That, moto's per-process
state and free ports are what make the suite safe to spread over pytest-xdist workers."""

from __future__ import annotations

import io
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
