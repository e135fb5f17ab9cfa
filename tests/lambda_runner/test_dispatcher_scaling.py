"""The reconcile scales a step to its backlog: every task that fits starts, the rest get their
instances in one RunInstances (on Spot when asked, on demand when Spot has no capacity)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_runner.conftest import Step
from tests.lambda_runner.test_dispatcher import ENV, SCHEDULED, alarms, tasks_of_step
from yunpipe_tui.lambda_functions import dispatcher as d


def backlog(step: Step, count: int) -> None:
    sqs = step.clients["sqs"]
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=step.config.queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, min(count, start + 10))
            ],
        )


def run_instances_calls(step: Step) -> list[dict[str, Any]]:
    """Every RunInstances request as the dispatcher made it. moto launches MinCount instances,
    EC2 up to MaxCount when it has the capacity: the request moto sees asks for MaxCount."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))
        params["MinCount"] = params["MaxCount"]

    step.clients["ec2"].meta.events.register("provide-client-params.ec2.RunInstances", record)
    return seen


def test_a_backlog_of_36_launches_every_instance_12_tasks_need_in_one_call(step: Step) -> None:
    backlog(step, 36)
    config = step.with_config(max_tasks=12, tasks_per_instance=3).config
    launches = run_instances_calls(step)
    step.calls.reset()
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)

    assert step.calls.names.count("ec2.RunInstances") == 1
    assert [(c["MinCount"], c["MaxCount"]) for c in launches] == [(1, 4)]
    assert summary["launched"] == 4 and summary["started"] == 0
    instances = step.step_instances()
    assert len(instances) == 4
    assert {a["Dimensions"][0]["Value"] for a in alarms(step)} == {
        i["InstanceId"] for i in instances
    }
    assert "InstanceMarketOptions" not in launches[0]

    # While they boot, the next reconcile launches nothing more.
    step.calls.reset()
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)
    assert summary["launched"] == 0 and "ec2.RunInstances" not in step.calls.names

    # Once they have joined the cluster, one reconcile starts the 12 tasks, never more.
    ecs = step.clients["ecs"]
    import json

    for instance in instances:
        ecs.register_container_instance(
            cluster=config.cluster,
            instanceIdentityDocument=json.dumps(
                {"instanceId": instance["InstanceId"], "region": config.region}
            ),
        )
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)
    assert summary["started"] == 12 and summary["launched"] == 0
    assert len(tasks_of_step(step)) == 12
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)
    assert summary["started"] == 0 and len(tasks_of_step(step)) == 12


def test_tasks_that_fit_start_and_only_the_rest_get_instances(step: Step) -> None:
    step.register_instance()  # moto's instance holds plenty of 512 MiB tasks
    backlog(step, 30)
    config = step.with_config(max_tasks=5, task_memory=3000, tasks_per_instance=2).config
    launches = run_instances_calls(step)
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)
    # 7482 MiB hold two 3000 MiB tasks; the three others need two instances.
    assert summary["started"] == 2 and summary["launched"] == 2
    assert [c["MaxCount"] for c in launches] == [2]


def test_booting_instances_count_against_what_is_launched(step: Step) -> None:
    backlog(step, 20)
    launches = run_instances_calls(step)
    first = step.with_config(max_tasks=4, tasks_per_instance=2).config
    d.dispatch(SCHEDULED, first, clients=step.clients)
    assert len(step.step_instances()) == 2
    summary = d.dispatch(
        SCHEDULED, step.with_config(max_tasks=10, tasks_per_instance=2).config, clients=step.clients
    )
    # 10 tasks want 5 instances; 2 are booting.
    assert [c["MaxCount"] for c in launches] == [2, 3]
    assert summary["launched"] == 3


def test_spot_is_asked_for_when_configured(step: Step) -> None:
    backlog(step, 3)
    launches = run_instances_calls(step)
    config = step.with_config(spot=True, tasks_per_instance=1).config
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)
    assert summary["launched"] == 3
    (call,) = launches
    assert call["InstanceMarketOptions"]["MarketType"] == "spot"


@pytest.mark.parametrize(
    "code",
    [
        "InsufficientInstanceCapacity",
        "SpotMaxPriceTooLow",
        "MaxSpotInstanceCountExceeded",
        "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
    ],
)
def test_spot_without_capacity_falls_back_to_on_demand(step: Step, code: str) -> None:
    backlog(step, 2)
    launches = run_instances_calls(step)

    def no_spot(params: dict[str, Any], **_: Any) -> None:
        if "InstanceMarketOptions" in params:
            raise ClientError({"Error": {"Code": code, "Message": "no spot"}}, "RunInstances")

    step.clients["ec2"].meta.events.register("provide-client-params.ec2.RunInstances", no_spot)
    config = step.with_config(spot=True, tasks_per_instance=1).config
    step.calls.reset()
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)
    assert summary["launched"] == 2 and not summary["errors"]
    assert [("InstanceMarketOptions" in c) for c in launches] == [True, False]
    assert launches[0]["ClientToken"] != launches[1]["ClientToken"]
    assert len(step.step_instances()) == 2 and len(alarms(step)) == 2


def test_other_launch_errors_are_not_retried_on_demand(step: Step) -> None:
    backlog(step, 1)
    launches = run_instances_calls(step)

    def denied(params: dict[str, Any], **_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "RunInstances"
        )

    step.clients["ec2"].meta.events.register("provide-client-params.ec2.RunInstances", denied)
    summary = d.dispatch(SCHEDULED, step.with_config(spot=True).config, clients=step.clients)
    assert summary["launched"] == 0 and len(launches) == 1
    assert any("UnauthorizedOperation" in e for e in summary["errors"])


def test_an_s3_event_still_launches_one_instance(step: Step) -> None:
    from tests.lambda_runner.conftest import s3_event

    backlog(step, 30)
    launches = run_instances_calls(step)
    config = step.with_config(max_tasks=12, tasks_per_instance=1).config
    step.calls.reset()
    d.dispatch(s3_event("in-bucket", "x.txt"), config, clients=step.clients)
    assert [c["MaxCount"] for c in launches] == [1]
    assert len(step.calls.names) == 6


def test_config_reads_spot_and_sizes() -> None:
    env = {
        "YUNPIPE_PIPELINE": "p",
        "YUNPIPE_STEP": "s1",
        "YUNPIPE_QUEUE_URL": "q",
        "YUNPIPE_CLUSTER": "c",
        "YUNPIPE_TASK_DEFINITION": "t",
        "YUNPIPE_INSTANCE_TYPE": "g4dn.xlarge",
        "YUNPIPE_AMI_ID": "ami-1",
        "YUNPIPE_MAX_TASKS": "12",
        "YUNPIPE_SPOT": "true",
        "YUNPIPE_TASKS_PER_INSTANCE": "3",
        "YUNPIPE_TASK_GPU": "1",
    }
    config = d.DispatcherConfig.from_env(env)
    assert (config.max_tasks, config.spot, config.tasks_per_instance, config.task_gpu) == (
        12,
        True,
        3,
        1,
    )
    assert not d.DispatcherConfig.from_env({**env, "YUNPIPE_SPOT": "false"}).spot


def test_a_gpu_step_holds_only_its_tasks_per_instance(step: Step) -> None:
    """ECS counts GPUs as ids, not in remainingResources: the dispatcher bounds a GPU step's
    tasks on an instance itself (AWS would refuse the extra starts with RESOURCE:GPU)."""
    step.register_instance()
    backlog(step, 3)
    launches = run_instances_calls(step)
    config = step.with_config(task_gpu=1, tasks_per_instance=1, max_tasks=3).config
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)
    assert summary["started"] == 1 and summary["launched"] == 2
    assert [c["MaxCount"] for c in launches] == [2]
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)
    assert summary["started"] == 0 and len(tasks_of_step(step)) == 1


def test_the_old_rule_launches_one_instance_and_none_while_it_boots(step: Step) -> None:
    """YUNPIPE_LAUNCH_RULE=one-per-reconcile: the rule before issue 13, kept for the benchmark."""
    backlog(step, 20)
    launches = run_instances_calls(step)
    config = step.with_config(
        max_tasks=20, tasks_per_instance=1, launch_rule=d.LAUNCH_ONE_PER_RECONCILE
    ).config
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)
    assert summary["launched"] == 1 and [c["MaxCount"] for c in launches] == [1]
    summary = d.dispatch(SCHEDULED, config, clients=step.clients)  # it is still booting
    assert summary["launched"] == 0 and len(launches) == 1


def test_the_launch_rule_comes_from_the_environment() -> None:
    assert d.DispatcherConfig.from_env(ENV).launch_rule == d.LAUNCH_BACKLOG
    old = {**ENV, "YUNPIPE_LAUNCH_RULE": "one-per-reconcile"}
    assert d.DispatcherConfig.from_env(old).launch_rule == d.LAUNCH_ONE_PER_RECONCILE
    with pytest.raises(d.ConfigError, match="YUNPIPE_LAUNCH_RULE"):
        d.DispatcherConfig.from_env({**ENV, "YUNPIPE_LAUNCH_RULE": "sometimes"})
