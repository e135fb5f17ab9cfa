"""`yunpipe demo` and `yunpipe sandbox` as a user runs them: real subprocesses, a private HOME."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from yunpipe_tui.sandbox.server import INSTALL_HINT

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "YUNPIPE_"))}
    env["HOME"] = str(home)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env.pop(var, None)
    return env


def test_demo_plain_runs_the_whole_story_and_exits_0(tmp_path: Path) -> None:
    home = tmp_path / "user-home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "yunpipe_tui", "demo", "--plain"],
        env=_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "LOCAL SANDBOX" in lines[0]
    assert any("fixed: lambda_exec_role" in line for line in lines)
    assert "created  dispatcher Lambda yunpipe-demo-s1-dispatch" in done.stdout
    assert sum(line.endswith("correct") for line in lines) == 3
    assert any("1: HELLO, WORLD" in line for line in lines)
    assert any(line.startswith("deleted  dispatcher Lambda") for line in lines)
    # The input that fails on purpose failed, with the algorithm's own words, and that is a pass.
    assert any("(not text: the demo algorithm refuses it, on purpose)" in line for line in lines)
    assert any(line.startswith("  failed, as intended: ") for line in lines)
    assert lines[-1] == (
        "demo finished: 3 of 3 results arrived and are correct; "
        "scans/not-text.bin failed as intended."
    )
    assert done.stderr == ""  # nothing from moto, werkzeug, the dispatcher or the runner
    # The user's own catalog and journals were never touched.
    assert not any(p.name == "journals" for p in home.rglob("*"))
    assert not any(p.name == "algorithms" for p in home.rglob("*"))


def test_sandbox_command_prints_the_exports_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "user-home"
    home.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "yunpipe_tui", "sandbox", "--port", "0"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exports: dict[str, str] = {}
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while "AWS_DEFAULT_REGION" not in exports and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value
        assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert exports["AWS_ACCESS_KEY_ID"] == "testing"
        assert exports["AWS_REGION"] == "us-east-1"

        # Any AWS client pointed there works: here the yunpipe doctor in a third process.
        env = {**_env(home), **exports}
        checked = subprocess.run(
            [sys.executable, "-m", "yunpipe_tui", "doctor", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert '"lambda-exec-role"' in checked.stdout, checked.stderr
        assert "does not exist" in checked.stdout
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.rstrip().endswith("# sandbox stopped")
    assert err == ""


def test_demo_without_the_sandbox_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import yunpipe_tui.sandbox.server as server
    from yunpipe_tui.cli import main

    monkeypatch.setattr(server, "moto_available", lambda: False)
    for argv in (["demo"], ["demo", "--plain"], ["sandbox"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
        assert INSTALL_HINT in capsys.readouterr().err


def test_the_sandbox_package_does_not_import_moto_until_started() -> None:
    code = (
        "import sys, yunpipe_tui.sandbox, yunpipe_tui.commands.demo, "
        "yunpipe_tui.commands.sandbox; print('moto' in sys.modules, 'flask' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"
