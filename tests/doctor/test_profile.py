"""A profile that exists nowhere: one failed check naming it and the ways forward, the checks
that depend on it skipped, and one line from every command (issue 14, point 5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from yunpipe_tui import doctor
from yunpipe_tui.aws import AwsContext


@pytest.fixture
def no_such_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    config = tmp_path / "aws-config"
    config.write_text("[profile other]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_PROFILE", "nope")
    return "nope"


def test_one_failure_names_the_profile_and_the_rest_are_skipped(no_such_profile: str) -> None:
    results = {r.id: r for r in doctor.run_checks(AwsContext())}
    creds = results["credentials"]
    assert creds.status == "fail"
    for way in ("aws configure --profile nope", "yunpipe creds set --profile nope", "AWS_PROFILE"):
        assert way in creds.detail
    assert [r.id for r in results.values() if r.status == "fail"] == ["credentials"]
    assert all(r.status == "skip" for k, r in results.items() if k != "credentials")
    assert not any("ProfileNotFound" in r.detail for r in results.values())


def test_cli_doctor_shows_skipped_and_json_says_skip(no_such_profile: str, capsys: Any) -> None:
    code, out, err = run_cli(["doctor"], capsys)
    assert code == 1
    assert out.count("[✗]") == 1 and out.count("[-]") == 14
    assert "Doctor found 1 issue. 14 checks skipped" in out
    assert "ProfileNotFound" not in out + err
    code, out, _ = run_cli(["doctor", "--json"], capsys)
    statuses = [c["status"] for c in json.loads(out)["checks"]]
    assert statuses.count("fail") == 1 and statuses.count("skip") == 14


def test_commands_say_one_line(no_such_profile: str, capsys: Any) -> None:
    code, _, err = run_cli(["--profile", "nope", "monitor", "demo", "--once"], capsys)
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "profile 'nope' not found" in lines[0], err
    assert "ProfileNotFound" not in err and "could not be found" not in err


def test_profile_labels(no_such_profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert AwsContext().profile_label() == "profile nope (not found)"
    assert AwsContext(profile="other").profile_label() == "profile other"
    monkeypatch.delenv("AWS_PROFILE")
    assert AwsContext().profile_label() == "no profile"


def test_events_role_named_as_aws_names_it(iam_aws: Any) -> None:
    """moto stores the role as AWSServiceRoleForevents; the doctor says AWS's name both times
    (issue 14, point 8)."""
    from yunpipe_tui.doctor.registry import CHECKS

    ctx = AwsContext(region="us-east-1")
    chosen = [c for c in CHECKS if c.id in ("credentials", "events-service-linked-role")]
    before = {r.id: r for r in doctor.run_checks(ctx, checks=chosen)}
    slr = before["events-service-linked-role"]
    assert slr.status == "fail" and "AWSServiceRoleForCloudWatchEvents does not exist" in slr.detail
    said = doctor.apply_fix(ctx, "events-service-linked-role")
    assert said == "created service-linked role AWSServiceRoleForCloudWatchEvents"
    after = {r.id: r for r in doctor.run_checks(ctx, checks=chosen)}
    assert after["events-service-linked-role"].detail == "AWSServiceRoleForCloudWatchEvents exists"
