"""`yunpipe monitor`: which pipeline, `--once --json`, `--plain` lines, and the one-line error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.monitor.helpers import INPUT, PIPELINE, build_pipeline, write_journal
from yunpipe_tui import resource_names as names
from yunpipe_tui.monitor import resolve_target


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from yunpipe_tui.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["monitor", *args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_no_pipeline_deployed_is_one_line_exit_1(mocked_aws: None, capsys) -> None:
    code, out, err = run_cli(capsys, "--once", "--json")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: no pipeline deployed")


def test_once_json_shape(aws: Any, capsys) -> None:
    built = build_pipeline(aws)
    write_journal(built)
    aws.client("sqs").send_message(
        QueueUrl=built.urls[names.queue(PIPELINE, "s2")], MessageBody="x"
    )
    code, out, err = run_cli(capsys, "--once", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["pipeline"] == PIPELINE and data["input_bucket"] == INPUT
    assert {"pipeline", "taken_at", "queues", "instances", "tasks", "errors"} <= set(data)
    assert [(q["step"], q["visible"]) for q in data["queues"]] == [("s1", 0), ("s2", 1)]
    for q in data["queues"]:
        assert {"step", "name", "visible", "in_flight", "delayed", "dead_letter"} <= set(q)
    assert data["errors"] == []
    assert data["api_calls"] <= 2 * 2 + 5  # journal URLs: no lookups even on the first poll


def test_named_pipeline_without_journal_is_found_by_queue_names(aws: Any, capsys) -> None:
    build_pipeline(aws, pipeline="other", steps=3)
    target = resolve_target("other", aws)
    assert [s.step for s in target.steps] == ["s1", "s2", "s3"]
    assert target.steps[0].queue_url and target.input_bucket is None
    code, out, _ = run_cli(capsys, "other", "--once", "--json")
    assert code == 0 and len(json.loads(out)["queues"]) == 3
    code, _, err = run_cli(capsys, "nothing-here", "--once")
    assert code == 1 and "no pipeline named 'nothing-here'" in err


def test_plain_lines_when_not_a_terminal(aws: Any, capsys) -> None:
    built = build_pipeline(aws)
    write_journal(built)
    code, out, _ = run_cli(capsys, "--plain", "--interval", "1", "--polls", "1")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1
    assert f" {PIPELINE} s1:visible=0,in_flight=0,delayed=0,dead_letter=0 " in lines[0]
    # Without a terminal the full-screen view is not attempted: the same plain lines.
    code, out, _ = run_cli(capsys, "--interval", "1", "--polls", "1")
    assert code == 0 and len(out.splitlines()) == 1 and " s2:visible=0," in out


def test_json_needs_once(mocked_aws: None, capsys) -> None:
    code, _, err = run_cli(capsys, "--json")
    assert code == 2 and "--json needs --once" in err


def test_rich_view_renders(aws: Any) -> None:
    from rich.console import Console

    from yunpipe_tui.monitor import Monitor, append_history
    from yunpipe_tui.monitor_render import render, sparkline

    built = build_pipeline(aws)
    aws.client("sqs").send_message(
        QueueUrl=built.urls[names.queue(PIPELINE, "s1")], MessageBody="x"
    )
    with Monitor(aws, built.target) as mon:
        snap = mon.poll()
    console = Console(width=120, record=True, color_system=None)
    console.print(render(snap, append_history({}, snap)))
    text = console.export_text()
    assert names.queue(PIPELINE, "s1") in text and "Instances" in text and "(none)" in text
    assert sparkline([0, 4, 8]) == "▁▅█" and sparkline([0, 0]) == "▁▁" and sparkline([]) == ""


def test_needs_no_keyring_with_env_credentials(aws: Any, capsys, monkeypatch) -> None:
    """Over SSH: credentials from the environment, and any keyring use would fail loudly."""
    import keyring

    def no_keyring(*_: Any, **__: Any) -> None:
        raise AssertionError("the monitor touched the keyring")

    for name in ("get_keyring", "get_password", "get_credential", "set_password"):
        monkeypatch.setattr(keyring, name, no_keyring)
    built = build_pipeline(aws)
    write_journal(built)
    code, out, err = run_cli(capsys, "--once", "--json")
    assert code == 0, err
    assert json.loads(out)["pipeline"] == PIPELINE


def test_torn_down_pipeline_is_named_as_such(aws: Any, capsys) -> None:
    built = build_pipeline(aws)
    write_journal(built, status="torn-down")
    code, _, err = run_cli(capsys, PIPELINE, "--once")
    assert code == 1 and "was torn down" in err
    code, _, err = run_cli(capsys, "--once")  # not the most recent deployed one either
    assert code == 1 and "no pipeline deployed" in err
