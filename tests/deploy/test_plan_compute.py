"""The `compute` section and GPU algorithms in the plan: the dispatcher's ceiling, Spot and
instance sizing come from the workflow; a GPU step gets a GPU type, the GPU AMI and a GPU
requirement. The Batch backend's plan is in test_batch.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import write_workflow
from tests.deploy.test_plan import FACTS
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import preflight
from yunpipe_tui.deploy.plan import build_plan
from yunpipe_tui.deploy.prepare import prepare
from yunpipe_tui.errors import InputError
from yunpipe_tui.workflow import load_workflow

GPU_FACTS = replace(FACTS, gpu_ami_id="ami-gpu")


def _plan(tmp_path: Path, catalog: Catalog, facts: Any = FACTS, **kw: Any) -> Any:
    workflow = load_workflow(write_workflow(tmp_path, **kw), catalog)
    return build_plan(workflow, {a.name: a for a in catalog.all()}, facts)


def _gpu_catalog(catalog: Catalog, gpus: int) -> Catalog:
    algorithm = catalog.get("change123-s3")
    assert algorithm is not None
    catalog.add(replace(algorithm, gpu=gpus, instance_type=""))
    return catalog


def test_without_compute_the_dispatcher_keeps_todays_ceiling(tmp_path: Path, catalog: Catalog):
    env = _plan(tmp_path, catalog).get("s1/dispatcher").config["environment"]
    assert env["YUNPIPE_MAX_TASKS"] == "10" and env["YUNPIPE_SPOT"] == "false"
    assert env["YUNPIPE_TASK_GPU"] == "0" and int(env["YUNPIPE_TASKS_PER_INSTANCE"]) >= 1


def test_compute_reaches_every_dispatcher(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, catalog, sequence=True, compute={"max_tasks": 12, "spot": True})
    for key in ("s1/dispatcher", "s2/dispatcher"):
        env = plan.get(key).config["environment"]
        assert env["YUNPIPE_MAX_TASKS"] == "12" and env["YUNPIPE_SPOT"] == "true"


def test_a_gpu_step_gets_a_gpu_type_ami_and_requirement(tmp_path: Path, catalog: Catalog) -> None:
    plan = _plan(tmp_path, _gpu_catalog(catalog, 1), GPU_FACTS)
    env = plan.get("s1/dispatcher").config["environment"]
    assert env["YUNPIPE_INSTANCE_TYPE"] == "g4dn.xlarge"
    assert env["YUNPIPE_AMI_ID"] == "ami-gpu" and env["YUNPIPE_TASK_GPU"] == "1"
    assert env["YUNPIPE_TASKS_PER_INSTANCE"] == "1"  # one GPU, one task
    (container,) = plan.get("s1/task-definition").config["containerDefinitions"]
    assert container["resourceRequirements"] == [{"type": "GPU", "value": "1"}]


def test_a_cpu_step_has_no_gpu_requirement(tmp_path: Path, catalog: Catalog) -> None:
    (container,) = _plan(tmp_path, catalog).get("s1/task-definition").config["containerDefinitions"]
    assert "resourceRequirements" not in container


def test_more_gpus_than_any_type_has_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    with pytest.raises(InputError) as info:
        _plan(tmp_path, _gpu_catalog(catalog, 12), GPU_FACTS)
    (problem,) = info.value.problems
    assert "needs 12 GPUs" in problem.message and problem.path == "process.algorithms[0].name"


def test_the_gpu_ami_is_read_only_for_gpu_steps(prereqs: Any, tmp_path: Path, catalog: Catalog):
    workflow = load_workflow(write_workflow(tmp_path), catalog)
    assert preflight.account_facts(prereqs, workflow).gpu_ami_id == ""
    gpu = preflight.account_facts(prereqs, workflow, gpu=True).gpu_ami_id
    assert gpu.startswith("ami-")
    prepared = prepare(write_workflow(tmp_path), prereqs, _gpu_catalog(catalog, 1))
    assert prepared.facts.gpu_ami_id == gpu
    env = prepared.plan.get("s1/dispatcher").config["environment"]
    assert env["YUNPIPE_AMI_ID"] == gpu != prepared.facts.ami_id
