"""The workflow's optional `compute` section and the algorithm's `GPU`: defaults keep the seed's
behaviour, every bad value gets a message naming its field, and files round-trip."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.core.test_workflow_files import GOOD
from yunpipe_tui.catalog import Catalog, algorithm_from_json, load_algorithm_file
from yunpipe_tui.errors import InputError
from yunpipe_tui.instance_types import lookup, smallest_fitting, tasks_per_instance
from yunpipe_tui.workflow import Compute, load_workflow


@pytest.fixture
def catalog(seed_dir: Path) -> Catalog:
    cat = Catalog()
    cat.add(load_algorithm_file(seed_dir / "change123.json"))
    return cat


def _file(tmp_path: Path, compute: Any) -> Path:
    data = copy.deepcopy(GOOD)
    data["compute"] = compute
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.mark.parametrize("name", ["user_request.json"])
def test_seed_files_get_todays_compute(seed_dir: Path, name: str) -> None:
    workflow = load_workflow(seed_dir / name)  # no catalog: the file's own rules only
    assert workflow.compute == Compute("ecs", 10, 256, False)
    assert "compute" not in workflow.to_json()


def test_a_full_section_loads_and_saves_back(tmp_path: Path, catalog: Catalog) -> None:
    section = {"backend": "batch", "max_tasks": 12, "max_vcpus": 16, "spot": True}
    workflow = load_workflow(_file(tmp_path, section), catalog)
    assert workflow.compute == Compute("batch", 12, 16, True)
    out = tmp_path / "saved.json"
    workflow.save(out)
    assert json.loads(out.read_text())["compute"] == section
    assert load_workflow(out, catalog).compute == workflow.compute


def test_a_whole_float_is_a_whole_number(tmp_path: Path, catalog: Catalog) -> None:
    assert load_workflow(_file(tmp_path, {"max_tasks": 12.0}), catalog).compute.max_tasks == 12


def test_a_partial_section_takes_the_defaults(tmp_path: Path, catalog: Catalog) -> None:
    workflow = load_workflow(_file(tmp_path, {"spot": True}), catalog)
    assert workflow.compute == Compute("ecs", 10, 256, True)
    assert load_workflow(_file(tmp_path, {}), catalog).compute.is_default


@pytest.mark.parametrize(
    ("compute", "field", "says"),
    [
        ({"backend": "lambda"}, "compute.backend", "backend 'lambda' is not one of 'ecs', 'batch'"),
        ({"backend": 3}, "compute.backend", "backend 3 is not one of"),
        ({"max_tasks": 0}, "compute.max_tasks", "max_tasks must be a whole number from 1 to 1000"),
        ({"max_tasks": 1001}, "compute.max_tasks", "from 1 to 1000 (tasks per step at once"),
        ({"max_tasks": "12"}, "compute.max_tasks", "max_tasks must be a whole number"),
        ({"max_tasks": 2.5}, "compute.max_tasks", "not 2.5"),
        ({"max_tasks": True}, "compute.max_tasks", "max_tasks must be a whole number"),
        ({"max_vcpus": 0}, "compute.max_vcpus", "max_vcpus must be a whole number from 1 to"),
        ({"max_vcpus": 100001}, "compute.max_vcpus", "from 1 to 100000 (vCPUs of the Batch"),
        ({"spot": "yes"}, "compute.spot", "spot must be true or false, not 'yes'"),
        ({"spot": 1}, "compute.spot", "spot must be true or false, not 1"),
        ({"gpu": 1}, "compute", "unknown field 'gpu'"),
        ("ecs", "compute", "should be of type object"),
    ],
)
def test_each_bad_value_gets_its_message(
    tmp_path: Path, catalog: Catalog, compute: Any, field: str, says: str
) -> None:
    with pytest.raises(InputError) as info:
        load_workflow(_file(tmp_path, compute), catalog)
    (problem,) = info.value.problems
    assert problem.path == field
    assert says in problem.message
    assert "\n" not in str(problem) and field in str(problem)


def _algorithm(**over: Any) -> dict[str, Any]:
    data = {
        "name": "gpu-alg",
        "container_name": "me/gpu",
        "input_file_path": "/in",
        "output_file_path": "/out",
        "run_command": "run $input",
        "memory": {"minimal": 2048, "suggested": 4096},
        "CPU": 2,
    }
    data.update(over)
    return data


def test_an_algorithm_may_declare_gpus(tmp_path: Path) -> None:
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(_algorithm(GPU=1)))
    algorithm = load_algorithm_file(path)
    assert algorithm.gpu == 1
    assert algorithm.to_json()["GPU"] == 1
    assert algorithm.resolved_instance_type() == "g4dn.xlarge"
    assert "GPU" not in algorithm_from_json(_algorithm()).to_json()
    assert algorithm_from_json(_algorithm()).resolved_instance_type().split(".")[0][0] != "g"


@pytest.mark.parametrize(("gpu", "says"), [(-1, "too small"), (17, "too large"), ("1", "integer")])
def test_bad_gpu_counts_are_refused(tmp_path: Path, gpu: Any, says: str) -> None:
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(_algorithm(GPU=gpu)))
    with pytest.raises(InputError) as info:
        load_algorithm_file(path)
    (problem,) = info.value.problems
    assert problem.path == "GPU" and says in problem.message


def test_gpu_types_are_picked_only_for_gpu_algorithms() -> None:
    assert smallest_fitting(1024, 1).gpu == 0
    assert smallest_fitting(100_000, 8).gpu == 0  # a big CPU job never lands on a GPU type
    assert smallest_fitting(1024, 1, gpus=1).name == "g4dn.xlarge"
    assert smallest_fitting(1024, 1, gpus=4).gpu == 4
    assert smallest_fitting(1024, 1, gpus=8).gpu == 8


def test_tasks_per_instance() -> None:
    small = lookup("t3.small")
    assert small is not None
    assert tasks_per_instance(small, 512, 256) == 3  # 1792 usable MiB
    assert tasks_per_instance(small, 512, 1024) == 2  # 2 vCPUs
    assert tasks_per_instance(small, 4096, 0) == 1  # never 0
    gpu = lookup("g4dn.12xlarge")
    assert gpu is not None and tasks_per_instance(gpu, 1024, 1024, 1) == 4
