"""The Deploy screen under Pilot with the real engine on mock_aws: plan → confirm → ✓ on every
node and the seed's two lines; the failure path shows the reason under the failed node; retry;
tear down what the run created; cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from textual.widgets import Static

from tests.pilot import wait_workers
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy import journal
from yunpipe_tui.screens.deploy import DONE, FAILED, PLANNED, ROLLED_BACK, DeployScreen


async def wait_for(pilot: Any, condition: Any, tries: int = 300) -> None:
    for _ in range(tries):
        await wait_workers(pilot.app)
        await pilot.pause()
        if condition():
            return
    raise AssertionError("condition not reached")


def app_for(aws: Any, path: Path) -> Any:
    from yunpipe_tui.app import make_app

    return make_app(aws, initial="deploy", workflow_path=str(path))


def deploy_screen(app: Any) -> DeployScreen:
    assert isinstance(app.screen, DeployScreen), app.screen
    return app.screen


def summary(screen: DeployScreen) -> str:
    return str(screen.query_one("#deploy-summary", Static).render())


async def test_deploy_reaches_check_on_every_node(
    prereqs: Any, catalog: Any, code: Any, workflow_file: Path
) -> None:
    app = app_for(prereqs, workflow_file)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        screen = deploy_screen(app)
        await wait_for(pilot, lambda: screen.phase == PLANNED)
        assert screen.problems == []
        assert set(screen.actions.values()) <= {"create", "keep"}
        assert "to create" in summary(screen)
        assert str(screen.nodes["s1/queue"].label).startswith("+ ")
        await pilot.press("ctrl+d")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: screen.phase == DONE)
        assert screen.states and all(s.status in (ev.DONE, ev.KEPT) for s in screen.states.values())
        for key, node in screen.nodes.items():
            assert str(node.label).startswith("✓ "), (key, str(node.label))
        assert all(str(n.label).startswith("✓ ") for n in screen.group_nodes.values())
        assert str(screen.query_one("#deploy-tree").root.label).startswith("✓ ")
        text = summary(screen)
        assert "You can start upload files at demo-input-bucket" in text
        assert "You will get your result at demo-output-bucket" in text
        assert journal.load("demo").status == journal.DEPLOYED
        await pilot.press("m")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MonitorScreen")
        assert app.screen.pipeline == "demo"


async def test_failure_shows_the_reason_then_retry(
    prereqs: Any, catalog: Any, code: Any, workflow_file: Path
) -> None:
    failing = {"on": True}

    def refuse(**_: Any) -> None:
        if failing["on"]:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "no sqs:CreateQueue for you"}},
                "CreateQueue",
            )

    prereqs.add_hook("before-call.sqs.CreateQueue", refuse)
    app = app_for(prereqs, workflow_file)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        screen = deploy_screen(app)
        await wait_for(pilot, lambda: screen.phase == PLANNED)
        await pilot.press("ctrl+d")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: screen.phase == FAILED)
        failed = [k for k, s in screen.states.items() if s.status == ev.FAILED]
        assert failed == ["s1/dlq"]
        node = screen.nodes["s1/dlq"]
        assert str(node.label).startswith("✗ ")
        reasons = [str(child.label) for child in node.children]
        assert reasons and "no sqs:CreateQueue for you" in reasons[0]
        assert "✗ Deploy failed" in summary(screen)
        assert screen.created  # buckets, cluster… were made before the failure
        assert str(screen.group_nodes["s1"].label).startswith("✗ ")
        # Retry once the cause is gone: converges to ✓ everywhere, the reason node goes away.
        failing["on"] = False
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.phase == DONE)
        assert not node.children
        assert all(str(n.label).startswith("✓ ") for n in screen.nodes.values())


async def test_failure_then_tear_down_this_run(
    prereqs: Any, catalog: Any, code: Any, workflow_file: Path
) -> None:
    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "CreateQueue")

    prereqs.add_hook("before-call.sqs.CreateQueue", refuse)
    app = app_for(prereqs, workflow_file)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        screen = deploy_screen(app)
        await wait_for(pilot, lambda: screen.phase == PLANNED)
        await pilot.press("ctrl+d")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: screen.phase == FAILED)
        created = list(screen.created)
        await pilot.press("x")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: screen.phase == ROLLED_BACK)
        assert "Torn down" in summary(screen)
        clusters = prereqs.client("ecs").describe_clusters(clusters=["yunpipe-demo"])["clusters"]
        assert all(c["status"] != "ACTIVE" for c in clusters)
        assert "shared/cluster" in created
        buckets = {b["Name"] for b in prereqs.client("s3").list_buckets()["Buckets"]}
        assert "demo-input-bucket" not in buckets  # created by this run and empty: removed


async def test_bad_workflow_and_missing_prerequisites(
    aws: Any, catalog: Any, code: Any, tmp_path: Path, workflow_file: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    app = app_for(aws, bad)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        screen = deploy_screen(app)
        await wait_for(pilot, lambda: "✗" in summary(screen))
        assert screen.phase == "choose" and "bad.json" in summary(screen)
        # A valid file, but the doctor's roles are missing: the plan shows why, no Deploy.
        field = screen.query_one("#workflow-path")
        field.value = str(workflow_file)
        await pilot.click("#plan")
        await wait_for(pilot, lambda: screen.phase == PLANNED)
        assert any("lambda_exec_role" in p for p in screen.problems)
        assert not screen.query_one("#deploy-button").display
        await pilot.press("ctrl+d")
        assert len(app.screen_stack) and isinstance(app.screen, DeployScreen)


async def test_safe_cancel(prereqs: Any, catalog: Any, code: Any, workflow_file: Path) -> None:
    import threading

    entered, release = threading.Event(), threading.Event()

    def hold(**_: Any) -> None:  # the cluster is "in flight" until the test releases it
        entered.set()
        release.wait(10)

    prereqs.add_hook("before-call.ecs.CreateCluster", hold)
    app = app_for(prereqs, workflow_file)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        screen = deploy_screen(app)
        await wait_for(pilot, lambda: screen.phase == PLANNED)
        await pilot.press("ctrl+d")
        await pilot.click("#confirm")
        for _ in range(200):
            await pilot.pause()
            if entered.is_set():
                break
        assert entered.is_set() and screen.phase == "deploying"
        await pilot.press("escape")  # leaving is refused while deploying
        assert app.screen is screen
        await pilot.press("c")
        assert "Cancelling" in summary(screen)
        release.set()
        await wait_for(pilot, lambda: screen.phase == "cancelled")
        assert screen.states["shared/cluster"].status == ev.DONE  # in flight: finished
        skipped = [s for s in screen.states.values() if s.status == ev.SKIPPED]
        assert skipped and all(s.message == "cancelled" for s in skipped)
        record = journal.load("demo")
        assert record.status == journal.FAILED
        assert not [k for k, v in record.resources.items() if v.get("status") == journal.INTENT]
        assert "cancelled" in summary(screen)
