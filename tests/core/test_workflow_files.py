"""Workflow files: the seed's format loads unchanged; every bad input gets a located message."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli, write
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.errors import InputError
from yunpipe_tui.workflow import load_workflow, workflow_from_json

GOOD: dict[str, Any] = {
    "input_s3_name": "container-clouds-input",
    "output_s3_name": "container-clouds-output",
    "key_pair": "wyx-cci",
    "account_id": "183351756044",
    "region": "us-east-1",
    "process": {
        "type": "single_run",
        "algorithms": [{"name": "change123-s3", "port": [], "variables": {"TEST_ENV": "x"}}],
    },
}


@pytest.fixture
def catalog(seed_dir: Path) -> Catalog:
    cat = Catalog()
    cat.add(load_algorithm_file(seed_dir / "change123.json"))
    return cat


def problems_of(path: Path, catalog: Catalog | None) -> list[str]:
    with pytest.raises(InputError) as info:
        load_workflow(path, catalog)
    return [str(p) for p in info.value.problems]


def test_seed_sample_loads_unchanged(seed_dir: Path, catalog: Catalog) -> None:
    wf = load_workflow(seed_dir / "user_request.json", catalog)
    assert wf.input_bucket == "container-clouds-input"
    assert wf.output_bucket == "container-clouds-output"
    assert wf.type == "single_run"
    assert wf.steps[0].algorithm == "change123-s3"
    assert wf.steps[0].variables == {"TEST_ENV": "blah blah blah"}
    assert wf.name == "user-request"  # the file's stem, normalised


def test_guide_placeholder_account_id_is_named(seed_dir: Path, catalog: Catalog) -> None:
    msgs = problems_of(seed_dir / "work-flow.json", catalog)
    assert len(msgs) == 1
    assert msgs[0].startswith(f"{seed_dir / 'work-flow.json'}:5: account_id: ")
    assert "12-digit" in msgs[0]


def test_enum_message_names_file_line_and_path(tmp_path: Path, catalog: Catalog) -> None:
    text = (Path(__file__).parents[1] / "data" / "seed" / "user_request.json").read_text()
    path = write(tmp_path / "workflow.json", text.replace('"single_run"', '"parallel_run"'))
    assert problems_of(path, catalog) == [
        f"{path}:9: process.type: 'parallel_run' is not one of 'single_run', 'sequence_run'"
    ]


def test_save_round_trip(tmp_path: Path, catalog: Catalog) -> None:
    wf = workflow_from_json(GOOD, source="x.json")
    wf.save(tmp_path / "out.json")
    again = load_workflow(tmp_path / "out.json", catalog)
    assert again.to_json() == wf.to_json()
    assert again.name == wf.name == "x"


def variant(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    for dotted, value in changes.items():
        target = data
        parts = dotted.split("__")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return data


CASES = [
    ({"input_s3_name": "ab"}, "input_s3_name: bucket name 'ab' must be 3 to 63 characters"),
    ({"input_s3_name": "a" * 64}, "must be 3 to 63 characters long (it has 64)"),
    ({"input_s3_name": "My_Bucket"}, "may hold only lowercase letters, digits, '.' and '-'"),
    ({"input_s3_name": "a..b"}, "must not contain '..'"),
    ({"input_s3_name": "192.168.5.4"}, "must not look like an IP address"),
    ({"input_s3_name": "xn--bucket"}, "must not start with the reserved 'xn--'"),
    ({"input_s3_name": "sthree-data"}, "must not start with the reserved 'sthree-'"),
    ({"input_s3_name": "data-s3alias"}, "must not end with the reserved '-s3alias'"),
    ({"input_s3_name": "-data"}, "must begin and end with a letter or digit"),
    ({"output_s3_name": "container-clouds-input"}, "output bucket must differ from the input"),
    ({"region": "moon-east-1"}, "region: unknown AWS region 'moon-east-1'"),
    ({"account_id": "12345"}, "account_id: '12345' is not a 12-digit AWS account id"),
    ({"process__type": "parallel_run"}, "'parallel_run' is not one of"),
    ({"process__algorithms": []}, "single_run takes exactly one algorithm (found 0)"),
    (
        {"process__algorithms": [GOOD["process"]["algorithms"][0]] * 2},
        "single_run takes exactly one algorithm (found 2)",
    ),
    (
        {"process__type": "sequence_run", "process__algorithms": []},
        "sequence_run needs at least one algorithm",
    ),
    ({"process__algorithms__0__name": "nope"}, "algorithm 'nope' is not in the catalog"),
    ({"process__algorithms__0__variables": {}}, "required variable 'TEST_ENV'"),
    (
        {"process__algorithms__0__variables": {"TEST_ENV": "x", "SEED": "1"}},
        "unknown variable 'SEED': 'change123-s3' declares TEST_ENV",
    ),
    (
        {"process__algorithms__0__port": [80]},
        "unknown port 80/tcp: 'change123-s3' exposes 9090/tcp",
    ),
    ({"process__algorithms__0__port": [70000]}, "has the wrong form"),
    ({"input_s3_name": KeyError}, "missing required field 'input_s3_name'"),
    ({"process": KeyError}, "missing required field 'process'"),
    ({"input_s3_name": 7}, "input_s3_name: 7 should be of type string"),
    ({"colour": "blue"}, "unknown field 'colour'"),
    ({"name": "Bad Name!"}, "name: 'Bad Name!' does not match"),
    ({"name": "genomics-s2"}, "name: pipeline name 'genomics-s2' must not contain '-s<number>'"),
]


@pytest.mark.parametrize(("changes", "expected"), CASES)
def test_each_bad_input_has_its_message_and_exit_code(
    tmp_path: Path, catalog: Catalog, capsys: Any, changes: dict[str, Any], expected: str
) -> None:
    path = write(tmp_path / "wf.json", variant(**changes))
    code, out, err = run_cli(["validate", "-f", str(path)], capsys)
    assert code == 2
    assert out == ""
    assert expected in err, err
    assert all(line.startswith(f"{path}:") for line in err.splitlines()), err
    assert "Traceback" not in err


def test_all_problems_are_reported_at_once(tmp_path: Path, catalog: Catalog) -> None:
    data = variant(input_s3_name="A..b", region="nowhere-1", account_id="x")
    data["process"]["algorithms"][0]["name"] = "missing-alg"
    msgs = problems_of(write(tmp_path / "wf.json", data), catalog)
    assert len(msgs) >= 5
    assert any("region" in m for m in msgs) and any("account_id" in m for m in msgs)
    assert any("missing-alg" in m for m in msgs) and any("'..'" in m for m in msgs)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the workflow file is empty"),
        (b"   \n", "the workflow file is empty"),
        (b'{"a": 1,\n  "b": }', ":2:8: malformed JSON: Expecting value"),
        (b"\x00\x01\x02binary", "looks binary"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        (b"[1, 2]", "a workflow file must hold a JSON object"),
    ],
)
def test_unreadable_files(tmp_path: Path, capsys: Any, content: bytes, expected: str) -> None:
    path = tmp_path / "wf.json"
    path.write_bytes(content)
    code, _, err = run_cli(["validate", "-f", str(path)], capsys)
    assert code == 2
    assert err.startswith(str(path)), err
    assert expected in err


def test_missing_file_and_folder(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(["validate", "-f", str(tmp_path / "nope.json"), str(tmp_path)], capsys)
    assert code == 2
    assert f"{tmp_path / 'nope.json'}: workflow file not found" in err
    assert f"{tmp_path}: is a folder, not a workflow file" in err


def test_a_fifo_named_like_a_workflow_is_refused_without_blocking(
    tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "wf.json"
    os.mkfifo(path)  # opening it to read would wait forever for a writer
    code, _, err = run_cli(["validate", "-f", str(path)], capsys)
    assert code == 2
    assert f"{path}: is a FIFO, not a workflow file" in err


def test_validate_ok_and_mixed(
    tmp_path: Path, seed_dir: Path, catalog: Catalog, capsys: Any
) -> None:
    good = shutil.copy(seed_dir / "user_request.json", tmp_path / "good.json")
    code, out, err = run_cli(["validate", "-f", str(good)], capsys)
    assert (code, out, err) == (0, f"{good}: ok\n", "")
    bad = write(tmp_path / "bad.json", "{")
    code, out, err = run_cli(["validate", "-f", str(good), str(bad)], capsys)
    assert code == 2
    assert f"{good}: ok" in out and str(bad) in err


def test_sequence_and_ports_parse(tmp_path: Path, catalog: Catalog) -> None:
    data = variant(process__type="sequence_run")
    step = {
        "name": "change123-s3",
        "port": [{"port": 9090, "protocol": "tcp"}],
        "variables": {"TEST_ENV": 1},
    }
    data["process"]["algorithms"] = [step, dict(step, port=[9090])]
    wf = load_workflow(write(tmp_path / "seq.json", data), catalog)
    assert [s.ports[0].port for s in wf.steps] == [9090, 9090]
    assert wf.steps[0].variables == {"TEST_ENV": "1"}
    assert json.loads(json.dumps(wf.to_json()))["process"]["type"] == "sequence_run"


def test_file_stem_names_never_look_like_steps() -> None:
    from yunpipe_tui.name_rules import normalise_pipeline_name, pipeline_name_problem

    assert normalise_pipeline_name("My Pipeline-S2") == "my-pipeline-step2"
    assert normalise_pipeline_name("s3-ingest") == "s3-ingest"  # a leading segment is fine
    assert pipeline_name_problem(normalise_pipeline_name("x-s12-y")) is None
