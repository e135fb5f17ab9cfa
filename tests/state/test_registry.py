"""The account's record of deployed pipelines: ownership, loops, shared inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from yunpipe_tui.state import registry
from yunpipe_tui.state.registry import Deployed


def _rec(name: str, *buckets: str, wid: str = "wf-a", at: float = 1_700_000_000.0) -> Deployed:
    return Deployed(
        pipeline=name,
        input_bucket=buckets[0],
        output_bucket=buckets[-1],
        buckets=tuple(buckets),
        workflow_id=wid,
        deployed_at=at,
        deployed_by="ana@laptop",
        region="us-east-1",
        steps=tuple(f"alg{i}" for i in range(len(buckets) - 1)),
    )


# --------------------------------------------------------------------------- SSM


def test_write_read_list_delete(aws: Any) -> None:
    first = Deployed.new("one", ["in-a", "mid", "out-a"], "wf-1", "us-east-1", ["x", "y"])
    assert first.input_bucket == "in-a" and first.output_bucket == "out-a"
    assert "@" in first.deployed_by and first.deployed_at > 0
    registry.write(aws, first)
    assert registry.read(aws, "one") == first
    moved = _rec("one", "in-b", "out-a", wid="wf-1")
    registry.write(aws, moved)  # overwrite keeps the tag, replaces the value
    assert registry.read(aws, "one") == moved
    tags = aws.client("ssm").list_tags_for_resource(
        ResourceType="Parameter", ResourceId="/yunpipe/pipelines/one"
    )["TagList"]
    assert tags == [{"Key": "yunpipe:pipeline", "Value": "one"}]
    for i in range(12):  # more than one page of GetParametersByPath (10 per page)
        registry.write(aws, _rec(f"p{i:02d}", f"in-{i}", f"out-{i}"))
    listing = registry.list_all(aws)
    assert len(listing.records) == 13 and listing.warnings == []
    assert registry.delete(aws, "one") is True
    assert registry.delete(aws, "one") is False
    assert registry.read(aws, "one") is None


def test_a_large_record_still_fits(aws: Any) -> None:
    chain = [f"yunpipe-long-pipeline-s{i}-out-123456789012" for i in range(1, 80)]
    record = _rec("long", "in", *chain, "out")
    registry.write(aws, record)
    assert registry.read(aws, "long") == record
    (described,) = aws.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": ["/yunpipe/pipelines/long"]}]
    )["Parameters"]
    # over 4 KiB: asked for intelligent tiering (AWS reports the Advanced tier it picks)
    assert described["Tier"] in ("Intelligent-Tiering", "Advanced")


def test_damaged_entries_are_reported_not_raised(aws: Any) -> None:
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/yunpipe/pipelines/bad", Value="[1]", Type="String")
    ssm.put_parameter(Name="/yunpipe/pipelines/worse", Value="{nope", Type="String")
    registry.write(aws, _rec("good", "a", "b"))
    listing = registry.list_all(aws)
    assert [r.pipeline for r in listing.records] == ["good"]
    assert len(listing.warnings) == 2
    assert all("is damaged" in w and "left out" in w for w in listing.warnings)
    with pytest.raises(ValueError, match="/yunpipe/pipelines/bad is damaged"):
        registry.read(aws, "bad")


@pytest.mark.parametrize(
    "data",
    [
        {"pipeline": "p", "input_bucket": "a", "output_bucket": "b"},  # no workflow id
        {"pipeline": "p", "input_bucket": 1, "output_bucket": "b", "workflow_id": "w"},
        {**_rec("p", "a", "b").to_json(), "buckets": "a,b"},
        {**_rec("p", "a", "b").to_json(), "deployed_at": "yesterday"},
    ],
)
def test_from_json_refuses_wrong_shapes(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Deployed.from_json(json.loads(json.dumps(data)))


def test_workflow_id_is_the_files_place_not_its_content(tmp_path: Path) -> None:
    path = tmp_path / "wf.json"
    path.write_text("{}")
    same = registry.workflow_id(path, "demo")
    path.write_text('{"edited": true}')
    assert registry.workflow_id(path, "demo") == same  # an edit: the same workflow
    assert registry.workflow_id(tmp_path / "." / "wf.json", "demo") == same
    link = tmp_path / "link.json"
    link.symlink_to(path)
    assert registry.workflow_id(link, "demo") == same
    assert registry.workflow_id(tmp_path / "copy.json", "demo") != same
    assert registry.workflow_id(path, "other") != same


# --------------------------------------------------------------------------- ownership


def test_a_new_name_is_free() -> None:
    verdict = registry.check_ownership(None, _rec("p", "a", "b"), replace=False)
    assert verdict.allowed and verdict.moves_from is None and not verdict.takes_over


def test_the_same_workflow_redeploys_and_a_new_input_bucket_moves_the_notification() -> None:
    old = _rec("p", "a", "b")
    assert registry.check_ownership(old, _rec("p", "a", "c"), replace=False).allowed
    verdict = registry.check_ownership(old, _rec("p", "z", "b"), replace=False)
    assert verdict.allowed and verdict.moves_from == "a" and not verdict.takes_over


def test_another_workflow_is_refused_naming_the_current_input_and_date() -> None:
    old = _rec("p", "team-a-in", "team-a-out", wid="team-a")
    new = _rec("p", "team-b-in", "team-b-out", wid="team-b")
    problem = registry.ownership_problem(old, new, replace=False)
    assert problem is not None
    assert "pipeline p is already deployed from another workflow by ana@laptop" in problem
    assert "input bucket team-a-in" in problem and "2023-11-14 22:13 UTC" in problem
    assert "--replace" in problem
    # the same input bucket from another workflow is still a takeover
    assert registry.ownership_problem(old, _rec("p", "team-a-in", "x", wid="team-b"), False)


def test_replace_takes_over_and_moves_the_notification_off_the_old_bucket() -> None:
    old = _rec("p", "team-a-in", "team-a-out", wid="team-a")
    verdict = registry.check_ownership(old, _rec("p", "team-b-in", "o", wid="team-b"), True)
    assert verdict.allowed and verdict.takes_over and verdict.moves_from == "team-a-in"


def test_ownership_message_caps_hostile_values() -> None:
    old = _rec("p", "x" * 100_000, "b", wid="one")
    problem = registry.ownership_problem(old, _rec("p", "a", "b", wid="two"), False)
    assert problem is not None and len(problem) < 400


# --------------------------------------------------------------------------- loops


def test_a_pipeline_whose_output_is_its_input_is_a_loop_of_one() -> None:
    problem = registry.loop_problem([], _rec("p", "x", "x"))
    assert problem is not None and "x → [p] → x" in problem


def test_a_sequence_feeding_back_into_its_own_input_is_a_loop_of_one() -> None:
    problem = registry.loop_problem([], _rec("p", "x", "mid", "x"))
    assert problem is not None and "x → [p] → x" in problem


def test_two_pipelines_feeding_each_other() -> None:
    records = [_rec("p1", "x", "y")]
    problem = registry.loop_problem(records, _rec("p2", "y", "x"))
    assert problem is not None and "y → [p2] → x → [p1] → y" in problem


def test_a_loop_of_three() -> None:
    records = [_rec("a", "x", "y"), _rec("b", "y", "z"), _rec("unrelated", "q", "r")]
    problem = registry.loop_problem(records, _rec("c", "z", "x"))
    assert problem is not None
    assert "z → [c] → x → [a] → y → [b] → z" in problem
    assert "unrelated" not in problem


def test_a_loop_through_an_intermediate_bucket() -> None:
    records = [_rec("other", "mid", "x")]
    problem = registry.loop_problem(records, _rec("p", "x", "mid", "out"))
    assert problem is not None and "x → [p] → mid → [other] → x" in problem


def test_a_chain_without_a_loop_is_fine() -> None:
    records = [_rec("a", "x", "y"), _rec("b", "y", "z")]
    assert registry.loop_problem(records, _rec("c", "z", "w")) is None
    assert registry.loop_problem(records, _rec("d", "x", "q")) is None


def test_redeploying_a_pipeline_replaces_its_old_record_in_the_graph() -> None:
    records = [_rec("a", "x", "y"), _rec("b", "y", "x-old")]
    # b used to close nothing; moving b's output to x would, moving it elsewhere does not
    assert registry.loop_problem(records, _rec("b", "y", "x")) is not None
    assert registry.loop_problem([*records, _rec("b", "y", "x")], _rec("b", "y", "w")) is None


def test_shared_input_warning() -> None:
    records = [_rec("a", "shared", "o1"), _rec("b", "m", "shared-mid", "o2")]
    warning = registry.shared_input_warning(records, _rec("c", "shared", "o3"))
    assert warning is not None and "shared already feeds pipeline(s) a" in warning
    warning = registry.shared_input_warning(records, _rec("c", "shared-mid", "o3"))
    assert warning is not None and "pipeline(s) b" in warning
    assert registry.shared_input_warning(records, _rec("a", "shared", "o1")) is None
    assert registry.shared_input_warning(records, _rec("c", "o1", "o4")) is None  # a chain
