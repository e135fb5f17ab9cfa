"""The executor's and agent's pure parts: path remapping, the runner's environment (the task's,
never this process's AWS secrets), the cluster named in user data, the demo transforms."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from yunpipe_tui.sandbox import Timings
from yunpipe_tui.sandbox.agent import cluster_from_user_data
from yunpipe_tui.sandbox.executor import Executor, process_environment, remap
from yunpipe_tui.sandbox.transform import apply, main


def test_container_paths_are_remapped_under_the_task_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert remap("/data/input/", root) == str(root / "data" / "input") + os.sep
    assert remap("/", root) == str(root) + os.sep
    assert remap("/out/result.txt", root) == str(root / "out" / "result.txt")


def _executor(tmp_path: Path) -> Executor:
    fake = SimpleNamespace(
        endpoint="http://127.0.0.1:5999",
        region="us-east-1",
        timings=Timings.fast(),
        workdir=tmp_path,
    )
    return Executor(fake)  # type: ignore[arg-type]


def test_task_environment_applies_overrides_and_the_sandbox_settings(tmp_path: Path) -> None:
    taskdef = {
        "containerDefinitions": [
            {
                "name": "algorithm",
                "environment": [
                    {"name": "YUNPIPE_QUEUE_URL", "value": "http://q"},
                    {"name": "YUNPIPE_INPUT_PATH", "value": "/data/input/"},
                    {"name": "YUNPIPE_OUTPUT_PATH", "value": "/data/output/"},
                    {"name": "YUNPIPE_IDLE_SECONDS", "value": "60"},
                    {"name": "YUNPIPE_ENDPOINT_URL", "value": ""},
                    {"name": "TEST_ENV", "value": "from the workflow"},
                ],
            }
        ]
    }
    task = {
        "overrides": {
            "containerOverrides": [
                {"name": "algorithm", "environment": [{"name": "TEST_ENV", "value": "override"}]}
            ]
        }
    }
    env = _executor(tmp_path).task_environment(taskdef, task, tmp_path / "root")
    assert env["TEST_ENV"] == "override"
    assert env["YUNPIPE_QUEUE_URL"] == "http://q"
    assert env["YUNPIPE_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5999"
    assert env["YUNPIPE_INPUT_PATH"] == str(tmp_path / "root" / "data" / "input") + os.sep
    assert env["YUNPIPE_IDLE_SECONDS"] == "1"  # Timings.fast().runner_idle, not AWS's 60
    assert env["YUNPIPE_RETRY_DELAY_SECONDS"] == "0"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"


def test_the_runner_never_inherits_this_process_s_aws_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret-never-passed")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token-never-passed")
    monkeypatch.setenv("AWS_PROFILE", "work")
    env = process_environment({"AWS_SECRET_ACCESS_KEY": "testing"}, tmp_path)
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "AWS_SESSION_TOKEN" not in env and "AWS_PROFILE" not in env
    assert "real-secret-never-passed" not in "".join(env.values())
    # `python3` in a run_command is this interpreter's (the one with yunpipe installed).
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


def test_the_cluster_comes_from_the_instance_s_user_data() -> None:
    data = "#!/bin/bash\necho ECS_CLUSTER=yunpipe-demo >> /etc/ecs/ecs.config\n"
    assert cluster_from_user_data(data) == "yunpipe-demo"
    assert cluster_from_user_data("#!/bin/bash\necho hello\n") is None


def test_demo_transforms(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("ab\ncd\n")
    assert apply(["upper", "number"], source.read_text()) == "1: AB\n2: CD\n"
    assert main(["reverse", str(source), str(tmp_path / "out.txt")]) == 0
    assert (tmp_path / "out.txt").read_text() == "ba\ndc\n"
    folder = tmp_path / "results"
    folder.mkdir()
    assert main(["upper", str(source), str(folder)]) == 0
    assert (folder / "in.txt").read_text() == "AB\nCD\n"
    assert main(["fail", str(source), str(folder)]) == 3
    assert main(["nope", str(source), str(folder)]) == 2


def test_an_instance_joins_only_after_the_boot_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timings.instance_boot: the agent registers a launched instance that long after it first
    saw it (a fake clock; no wall time), and forgets instances that went away meanwhile."""
    from yunpipe_tui.sandbox import agent as agent_module

    clock = [100.0]
    monkeypatch.setattr(agent_module.time, "monotonic", lambda: clock[0])
    fake = SimpleNamespace(timings=Timings(instance_boot=90.0))
    agent = agent_module.Agent(fake)  # type: ignore[arg-type]
    live = {"i-1": {"InstanceId": "i-1"}}
    registered: list[str] = []
    monkeypatch.setattr(agent, "_managed_instances", lambda: dict(live))
    monkeypatch.setattr(agent, "_register", lambda i: registered.append(i["InstanceId"]))
    monkeypatch.setattr(agent, "_retire_idle", lambda: None)

    agent.tick()
    clock[0] += 89.0
    agent.tick()
    assert registered == []
    clock[0] += 1.0
    agent.tick()
    assert registered == ["i-1"]

    live.clear()
    agent.tick()
    assert agent._seen == {}
