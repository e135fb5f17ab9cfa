"""`yunpipe wrap`'s build context: the Dockerfile per system, the runner, printed commands, and a
fake `docker` on PATH standing in for a reachable engine."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli, write
from yunpipe_tui import build, locations
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.errors import InputError

RUNNER = Path(build.__file__).parent.parent / "assets" / "runner.py"


@pytest.fixture
def algorithm(seed_dir: Path):
    return load_algorithm_file(seed_dir / "change123.json")


@pytest.mark.parametrize(
    ("system", "expected", "absent"),
    [
        ("ubuntu", "apt-get install -y --no-install-recommends python3 python3-pip", "apk"),
        ("debian", "apt-get update", "yum"),
        ("Alpine", "apk add --no-cache python3 py3-pip", "apt-get"),
        ("amazonlinux", "dnf -y install python3 python3-pip || yum -y install", "apt-get"),
        ("centos", "yum -y install python3 python3-pip", "apk"),
    ],
)
def test_dockerfile_per_system(algorithm: Any, system: str, expected: str, absent: str) -> None:
    text = build.dockerfile(replace(algorithm, system=system))
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[0] == "FROM wangyx2005/change123"
    run = next(line for line in lines if line.startswith("RUN "))
    assert expected in run and absent not in run
    assert "pip install --no-cache-dir boto3" in run
    assert "COPY runner.py /yunpipe/runner.py" in lines
    assert lines[-1] == 'ENTRYPOINT ["python3", "/yunpipe/runner.py"]'
    assert "AWS_SECRET_ACCESS_KEY" not in text and "${" not in text


def test_unknown_system_names_the_field(algorithm: Any) -> None:
    with pytest.raises(InputError, match=r"system: 'plan9' is not a system"):
        build.write_context(replace(algorithm, system="plan9"))
    assert not locations.build_dir(algorithm.name).exists()


def test_context_holds_the_runner(algorithm: Any) -> None:
    folder = build.write_context(algorithm)
    assert folder == locations.build_dir("change123-s3")
    assert (folder / "runner.py").read_text() == RUNNER.read_text()
    assert (folder / "Dockerfile").read_text() == build.dockerfile(algorithm)


def test_names() -> None:
    assert build.repository_name("My Alg_v2") == "my-alg_v2"
    assert build.image_name("change123-s3", "me") == "me/change123-s3"
    assert build.image_name("A", "me", "123.dkr.ecr.us-east-1.amazonaws.com/") == (
        "123.dkr.ecr.us-east-1.amazonaws.com/me/a"
    )


def test_without_engine_prints_the_exact_commands(
    seed_dir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no docker at all
    code, out, _ = run_cli(["wrap", "-f", str(seed_dir / "change123.json"), "-u", "me"], capsys)
    assert code == 0
    context = locations.build_dir("change123-s3")
    assert f"  docker build -t change123-s3 {context}\n" in out
    assert "  docker tag change123-s3 me/change123-s3\n" in out
    assert "  docker push me/change123-s3\n" in out
    assert "no Docker engine is reachable" in out and "NOT built yet" in out
    alg = Catalog().get("change123-s3")
    assert alg is not None and alg.image == "me/change123-s3"
    assert (context / "Dockerfile").is_file() and (context / "runner.py").is_file()


def test_no_build_without_user_records_no_image(seed_dir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(["wrap", "--no-build", "-f", str(seed_dir / "change123.json")], capsys)
    assert code == 0
    assert "--no-build given" in out and "docker build -t change123-s3" in out
    assert "docker push" not in out and "add -u USER" in out
    assert "has no yunpipe runner" in out
    alg = Catalog().get("change123-s3")
    assert alg is not None and alg.image == "" and alg.run_image == "wangyx2005/change123"


def test_unknown_system_fails_wrap_before_registering(
    seed_dir: Path, tmp_path: Path, capsys: Any
) -> None:
    data = json.loads((seed_dir / "change123.json").read_text())
    data["system"] = "plan9"
    path = write(tmp_path / "alg.json", data)
    code, _, err = run_cli(["wrap", "--no-build", "-f", str(path)], capsys)
    assert code == 2 and "system: 'plan9'" in err
    assert Catalog().names() == []


def fake_docker(folder: Path, fail: str = "", info_sleep: float = 0) -> Path:
    """A `docker` executable that appends its argv (one JSON list a line) to calls.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "calls.jsonl"
    script = folder / "docker"
    script.write_text(
        f"#!{shutil.which('python3') or '/usr/bin/python3'}\n"
        "import json, sys, time\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"if sys.argv[1] == 'info': time.sleep({info_sleep})\n"
        f"sys.exit(1 if sys.argv[1] == {fail!r} else 0)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_with_engine_builds_tags_and_pushes(
    seed_dir: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_docker(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    registry = "registry.example.com:5000"
    code, out, _ = run_cli(
        ["wrap", "-f", str(seed_dir / "change123.json"), "-u", "me", "-r", registry], capsys
    )
    assert code == 0, out
    context = str(locations.build_dir("change123-s3"))
    remote = f"{registry}/me/change123-s3"
    assert calls(log) == [
        ["info"],
        ["build", "-t", "change123-s3", context],
        ["tag", "change123-s3", remote],
        ["push", remote],
    ]
    assert f"image {remote} built and pushed" in out
    alg = Catalog().get("change123-s3")
    assert alg is not None and alg.image == remote and alg.run_image == remote


def test_with_engine_and_no_build_never_runs_docker(
    seed_dir: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_docker(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    code, out, _ = run_cli(
        ["wrap", "--no-build", "-f", str(seed_dir / "change123.json"), "-u", "me"], capsys
    )
    assert code == 0 and calls(log) == []
    assert "NOT built yet" in out


def test_failed_push_is_one_clear_error(
    seed_dir: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_docker(tmp_path / "bin", fail="push")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    code, _, err = run_cli(["wrap", "-f", str(seed_dir / "change123.json"), "-u", "me"], capsys)
    assert code == 1
    assert "docker push for change123-s3 failed with exit code 1" in err
    assert "docker login" in err and "Traceback" not in err
    assert [c[0] for c in calls(log)] == ["info", "build", "tag", "push"]
    assert Catalog().names() == []


def test_engine_probe_has_a_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_docker(tmp_path / "bin", info_sleep=30)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    began = time.monotonic()
    assert build.engine_available(timeout=0.5) is False
    assert time.monotonic() - began < 5
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert build.engine_available() is False
