"""EC2 container instances the dispatchers launch (tagged `yunpipe:pipeline`). Never planned:
the teardown sweep terminates them (before the cluster goes) and the leftover scan lists any
that still run."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from yunpipe_tui import resource_names as names
from yunpipe_tui.deploy.kinds.base import Found, Kind, Scope, removed

LIVE_STATES = ["pending", "running", "stopping", "stopped"]


def _instances(scope: Scope) -> list[str]:
    out = scope.ctx.client("ec2").describe_instances(
        Filters=[
            {"Name": f"tag:{names.TAG_PIPELINE}", "Values": [scope.pipeline]},
            {"Name": "instance-state-name", "Values": LIVE_STATES},
        ]
    )
    return [i["InstanceId"] for res in out.get("Reservations", []) for i in res["Instances"]]


class Instance(Kind):
    name = "instance"
    label = "instance"
    in_plan = False
    sweep_rank = 50
    scan_rank = 90

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        ec2 = scope.ctx.client("ec2")
        for instance in _instances(scope):
            yield Found(
                f"instance/{instance}",
                self.name,
                instance,
                partial(removed, partial(ec2.terminate_instances, InstanceIds=[instance])),
                tagged=True,  # described by its yunpipe:pipeline tag
            )

    def leftovers(self, scope: Scope) -> list[str]:
        return [f"instance {i}" for i in _instances(scope)]
