"""`yunpipe deploy --replace` and `setup-pipe --replace` (issue 11, item 4): `--yes` alone never
takes a pipeline name over from another workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from tests.deploy.helpers import make_prerequisites, write_workflow
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.state import registry


@pytest.fixture
def cli_env(aws: Any, catalog: Catalog, code: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import yunpipe_tui.deploy as engine

    make_prerequisites(aws)
    monkeypatch.setattr(engine, "dispatcher_zip", code)
    monkeypatch.setattr(engine.time, "sleep", lambda s: None)
    return aws


def _entries(ctx: Any, bucket: str) -> set[str]:
    got = ctx.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    return {e["Id"] for e in got.get("LambdaFunctionConfigurations", [])}


@pytest.mark.parametrize("command", ["deploy", "setup-pipe"])
def test_yes_alone_is_refused_and_replace_takes_the_name_over(
    cli_env: Any, tmp_path: Path, capsys: Any, command: str
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    team_a = write_workflow(tmp_path / "a", input_s3_name="team-a-in")
    team_b = write_workflow(tmp_path / "b", input_s3_name="team-b-in")
    code, _, err = run_cli(["deploy", "-f", str(team_a), "--yes"], capsys)
    assert code == 0, err
    yes = ["--yes"] if command == "deploy" else []

    code, out, err = run_cli([command, "-f", str(team_b), *yes], capsys)
    assert code == 1
    assert "error: pipeline demo is already deployed from another workflow" in err
    assert "input bucket team-a-in" in err and "--replace" in err
    assert _entries(cli_env, "team-a-in") == {"yunpipe-demo-s1"}

    code, out, err = run_cli([command, "-f", str(team_b), *yes, "--replace"], capsys)
    assert code == 0, err
    assert "taken over from another workflow (input bucket team-a-in" in out
    assert "moved off bucket team-a-in" in out
    assert _entries(cli_env, "team-a-in") == set()
    assert _entries(cli_env, "team-b-in") == {"yunpipe-demo-s1"}
    record = registry.read(cli_env, "demo")
    assert record is not None and record.input_bucket == "team-b-in"
