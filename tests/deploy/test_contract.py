"""The plan's configuration meets the dispatcher's and the runner's own parsers (the shared
contract in BRIEF.md), so part A and part B cannot drift apart silently."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import plan_for, write_workflow
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import deploy
from yunpipe_tui.deploy.plan import resolve


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        pytest.skip(f"{name} not written yet")


def test_dispatcher_reads_the_lambda_environment(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    dispatcher = _module("yunpipe_tui.lambda_functions.dispatcher")
    ctx = prereqs
    plan = plan_for(ctx, write_workflow(tmp_path, key_pair=""), catalog)
    deploy(plan, ctx, code=code)
    for step in plan.steps:
        fn = ctx.client("lambda").get_function(FunctionName=step.dispatcher)["Configuration"]
        env = fn["Environment"]["Variables"]
        config = dispatcher.DispatcherConfig.from_env(env)
        assert config.queue_url.endswith(step.queue)
        assert config.task_definition == step.task_family
        assert config.task_memory == step.memory and config.task_cpu == step.cpu_units
        assert config.instance_type == step.instance_type
        assert fn["Handler"] == "dispatcher.handler" and fn["Runtime"] == "python3.12"
        assert fn["Role"].endswith(":role/lambda_exec_role")


def test_runner_reads_the_task_environment(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    runner = _module("yunpipe_tui.assets.runner")
    ctx = prereqs
    plan = plan_for(ctx, write_workflow(tmp_path, sequence=True), catalog)
    result = deploy(plan, ctx, code=code)
    for step in plan.steps:
        td = ctx.client("ecs").describe_task_definition(taskDefinition=step.task_family)
        (container,) = td["taskDefinition"]["containerDefinitions"]
        assert container["name"] == "algorithm"
        env = {e["name"]: e["value"] for e in container["environment"]}
        config = runner.RunnerConfig.from_env(env)
        assert config.queue_url == result.outputs[f"{step.id}/queue"]["url"]
        assert config.output_bucket == step.output_bucket
        assert config.algorithm == step.algorithm
    assert resolve("${s1/queue:url}", result.outputs).endswith("yunpipe-demo-s1-queue")
