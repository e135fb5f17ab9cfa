"""The idle alarms the dispatchers put on the instances they launch (they terminate an idle
instance). Never planned: the teardown sweep deletes them in one call, the leftover scan lists
any that remain."""

from __future__ import annotations

import re
from collections.abc import Iterator

from yunpipe_tui import resource_names as names
from yunpipe_tui.deploy.kinds.base import Found, Kind, Scope, removed


def _idle(scope: Scope) -> re.Pattern[str]:
    return re.compile(re.escape(scope.base) + r"-s\d+-idle-")


class Alarm(Kind):
    name = "alarm"
    label = "alarm"
    in_plan = False
    sweep_rank = 60
    scan_rank = 100

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        cw = scope.ctx.client("cloudwatch")
        found: list[str] = []
        pages = cw.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=names.alarm_prefix(scope.pipeline)
        )
        for page in pages:
            found += [a["AlarmName"] for a in page.get("MetricAlarms", [])]
        alarms = [a for a in found if _idle(scope).match(a)]
        if alarms:
            yield Found(
                "alarms",
                self.name,
                f"{len(alarms)} idle alarm(s)",
                lambda: removed(lambda: cw.delete_alarms(AlarmNames=alarms)),
                tagged=True,  # named after an instance of this pipeline's step by its dispatcher
            )

    def leftovers(self, scope: Scope) -> list[str]:
        alarms = scope.ctx.client("cloudwatch").describe_alarms(
            AlarmNamePrefix=names.alarm_prefix(scope.pipeline)
        )
        return [
            f"alarm {a['AlarmName']}"
            for a in alarms.get("MetricAlarms", [])
            if _idle(scope).match(a["AlarmName"])
        ]
