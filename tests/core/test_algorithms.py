"""Algorithm descriptions and the local catalog: the seed's files load, bad ones are explained."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli, write
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.errors import InputError
from yunpipe_tui.instance_types import smallest_fitting


def seed_alg(seed_dir: Path) -> dict[str, Any]:
    return json.loads((seed_dir / "change123.json").read_text())


def test_seed_example_loads_unchanged(seed_dir: Path) -> None:
    alg = load_algorithm_file(seed_dir / "change123.json")
    assert alg.name == "change123-s3"
    assert alg.container_name == "wangyx2005/change123"
    assert alg.memory_minimal == 50 and alg.memory_suggested == 128
    assert [(v.name, v.required) for v in alg.variables] == [("TEST_ENV", True)]
    assert [(p.port, p.protocol) for p in alg.ports] == [(9090, "tcp")]
    # instance_type "" picks the cheapest type that fits, not the seed's fixed t2.micro
    assert alg.resolved_instance_type() == "t3.micro"


def test_seed_quirks_are_tolerated(tmp_path: Path, seed_dir: Path) -> None:
    data = seed_alg(seed_dir)
    data["CPU"] = {}  # an older seed example had an empty CPU object
    data["memory"] = {"minimal": 50, "suggensted": 3000}  # and a typo'd key
    alg = load_algorithm_file(write(tmp_path / "a.json", data))
    assert alg.cpu is None
    assert alg.memory_suggested == 3000
    assert alg.resolved_instance_type() == "t3.medium"


@pytest.mark.parametrize(
    ("memory", "cpus", "expected"),
    [(128, 1, "t3.micro"), (1500, 1, "t3.small"), (7000, 2, "t3.large"), (6000, 4, "c6i.xlarge")],
)
def test_instance_type_choice(memory: int, cpus: int, expected: str) -> None:
    assert smallest_fitting(memory, cpus).name == expected


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"run_command": "sh /run.sh $output"}, "run_command: must contain $input"),
        ({"name": "Change_123"}, "name: 'Change_123' does not match"),
        ({"port": [{"port": 0, "protocol": "tcp"}]}, "port[0].port: 0 is too small"),
        ({"port": [{"port": 80, "protocol": "sctp"}]}, "port[0].protocol: 'sctp' is not one of"),
        ({"port": [{"port": 80}, {"port": 80}]}, "port[1].port: port 80 is listed twice"),
        ({"memory": {"minimal": 500, "suggested": 100}}, "minimal memory (500 MiB) is more than"),
        ({"container_name": ""}, "container_name: must not be empty"),
        ({"CPU": -1}, "CPU: -1 has the wrong form"),
        (
            {"user_specified_environment_variables": [{"name": "1BAD"}]},
            "user_specified_environment_variables[0].name: '1BAD' does not match",
        ),
    ],
)
def test_bad_algorithm_files(
    tmp_path: Path, seed_dir: Path, capsys: Any, change: dict[str, Any], expected: str
) -> None:
    data = seed_alg(seed_dir)
    data.update(change)
    path = write(tmp_path / "alg.json", data)
    code, _, err = run_cli(["wrap", "--no-build", "-f", str(path)], capsys)
    assert code == 2
    assert expected in err, err
    assert err.startswith(f"{path}:")
    assert Catalog().names() == []  # nothing registered from a bad file


def test_missing_required_field(tmp_path: Path, seed_dir: Path) -> None:
    data = seed_alg(seed_dir)
    del data["run_command"]
    with pytest.raises(InputError, match="missing required field 'run_command'"):
        load_algorithm_file(write(tmp_path / "alg.json", data))


def test_catalog_round_trip(seed_dir: Path) -> None:
    catalog = Catalog()
    original = load_algorithm_file(seed_dir / "change123.json")
    path = catalog.add(original)
    assert path.parent == catalog.folder and path.name == "change123-s3.json"
    assert catalog.names() == ["change123-s3"]
    assert catalog.get("change123-s3") == original
    assert catalog.get("nope") is None
    assert catalog.remove("change123-s3") and catalog.names() == []


def test_legacy_catalogs_are_imported(isolated_home: Path, seed_dir: Path) -> None:
    # The seed's `wrap` stored `<image>_info.json` with its runner's variables appended,
    # AWS keys among them; those must not become "required" variables here.
    info = seed_alg(seed_dir)
    info["container_name"] = "wangyx2005/change123-s3"
    info["instance_type"] = "t2.micro"
    info["user_specified_environment_variables"] += [
        {"name": n, "required": True}
        for n in ("output_s3_name", "sqs", "NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    ]
    old = isolated_home / ".cloud_pipe" / "algorithms"
    old.mkdir(parents=True)
    write(old / "change123-s3_info.json", info)
    newer = isolated_home / ".yunpipe" / "algorithms"
    newer.mkdir(parents=True)
    other = dict(seed_alg(seed_dir), name="other-alg")
    write(newer / "other-alg.json", other)
    write(newer / "broken.json", "{not json")

    catalog = Catalog()
    assert catalog.import_legacy() == ["change123-s3", "other-alg"]
    alg = catalog.get("change123-s3")
    assert alg is not None
    assert [v.name for v in alg.variables] == ["TEST_ENV"]
    assert alg.instance_type == "t2.micro"
    assert catalog.import_legacy() == []  # idempotent


def test_wrap_and_algorithms_commands(seed_dir: Path, tmp_path: Path, capsys: Any) -> None:
    src = shutil.copy(seed_dir / "change123.json", tmp_path / "alg.json")
    code, out, _ = run_cli(["wrap", "--no-build", "-f", str(src)], capsys)
    assert code == 0 and "registered change123-s3" in out
    code, out, _ = run_cli(["algorithms", "--json"], capsys)
    assert code == 0
    assert [a["name"] for a in json.loads(out)] == ["change123-s3"]
    code, _, err = run_cli(["wrap"], capsys)
    assert code == 2 and "use either -f FILE... or --describe" in err
