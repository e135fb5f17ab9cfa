"""Snapshots of the Deploy screen at 100×32 with fixed data: a pure plan (no AWS), then fixed
engine events (fixed elapsed times) for the failure state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.deploy.helpers import SEED, write_workflow
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy.plan import AccountFacts, algorithms_for, build_plan
from yunpipe_tui.workflow import load_workflow


def fixed_plan(tmp_path: Path) -> Any:
    catalog = Catalog()
    catalog.add(load_algorithm_file(SEED / "change123.json"))
    workflow = load_workflow(write_workflow(tmp_path, "demo"), catalog)
    facts = AccountFacts(account_id="123456789012", region="us-east-1", ami_id="ami-0123456789")
    return build_plan(workflow, algorithms_for(workflow, catalog), facts)


def make_app(plan: Any, actions: dict[str, str]) -> Any:
    from yunpipe_tui.app import YunpipeApp
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.screens.deploy import DeployScreen

    class SnapApp(YunpipeApp):
        def make_screen(self, name: str, **kwargs: Any) -> Any:
            return DeployScreen(plan=plan, actions=actions)

    return SnapApp(AwsContext(region="us-east-1"))


def actions_for(plan: Any) -> dict[str, str]:
    return {r.key: ("keep" if r.kind == "bucket" else "create") for r in plan.resources}


def test_deploy_plan_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    plan = fixed_plan(tmp_path)
    assert snap_compare(make_app(plan, actions_for(plan)), terminal_size=(100, 32))


def test_deploy_failure_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    from yunpipe_tui.screens.deploy import FAILED, DeployFinished

    plan = fixed_plan(tmp_path)
    failing = "s1/dlq"

    async def run_before(pilot: Any) -> None:
        screen = pilot.app.screen
        screen._set_phase("deploying")
        created = []
        for r in plan.resources:
            if r.key == failing:
                screen.apply_event(ev.Event(ev.STARTED, r.key, r.kind, r.name, r.group, at=0))
                screen.apply_event(
                    ev.Event(
                        ev.FAILED,
                        r.key,
                        r.kind,
                        r.name,
                        r.group,
                        message="CreateQueue failed: AccessDenied: no sqs:CreateQueue",
                        elapsed=0.4,
                        at=0,
                    )
                )
            elif failing in r.depends_on or (r.step == "s1" and r.kind not in ("task_role",)):
                screen.apply_event(
                    ev.Event(ev.SKIPPED, r.key, r.kind, r.name, r.group, message="not attempted")
                )
            else:
                status = ev.KEPT if r.kind == "bucket" else ev.DONE
                action = "keep" if r.kind == "bucket" else "create"
                screen.apply_event(
                    ev.Event(status, r.key, r.kind, r.name, r.group, action, elapsed=0.2, at=0)
                )
                if status == ev.DONE:
                    created.append(r.key)
        screen._deploy_finished(
            DeployFinished(FAILED, created=created, error="dead-letter queue failed: AccessDenied")
        )
        await pilot.pause()

    app = make_app(plan, actions_for(plan))
    assert snap_compare(app, terminal_size=(100, 32), run_before=run_before)
