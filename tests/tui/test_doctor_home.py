"""Doctor and Home screens against mock_aws: the fix flow turns ✗ into ✓ after a confirmation
that shows the policy; Home shows the identity, the sandbox label and the doctor's line."""

from __future__ import annotations

from textual.widgets import Static

from tests.pilot import wait_workers
from yunpipe_tui.app import make_app
from yunpipe_tui.aws import AwsContext
from yunpipe_tui.screens.doctor import DoctorScreen
from yunpipe_tui.screens.help import HelpScreen
from yunpipe_tui.screens.home import HomeScreen
from yunpipe_tui.screens.widgets import ConfirmModal, status_of

SIZE = (100, 32)
ROLE_CHECKS = ("lambda-exec-role", "ecs-instance-role", "ec2-actions-role")


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await wait_workers(pilot.app)
    await pilot.pause()


def statuses(screen: DoctorScreen) -> dict[str, str]:
    return {c.id: status_of(c) for c in screen.checks}


async def test_fix_one_after_confirmation_turns_fail_into_ok(iam_aws):
    app = make_app(iam_aws, initial="doctor")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DoctorScreen)
        before = statuses(screen)
        assert all(before[c] == "fail" for c in ROLE_CHECKS)
        assert before["credentials"] == "ok"
        row = [c.id for c in screen.checks].index("lambda-exec-role")
        screen.query_one("#checks").move_cursor(row=row)
        await pilot.press("f")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ConfirmModal)
        # the confirmation shows the exact policy that will be applied
        assert '"PolicyDocument"' in modal.detail
        assert "sqs:SendMessage" in modal.detail
        await pilot.click("#cancel")  # cancelling changes nothing
        await settle(pilot)
        assert statuses(screen)["lambda-exec-role"] == "fail"
        await pilot.press("f")
        await pilot.pause()
        await pilot.click("#confirm")
        await settle(pilot)
        after = statuses(screen)
        assert after["lambda-exec-role"] == "ok"
        assert after["ecs-instance-role"] == "fail"  # only the chosen fix was applied
        assert app.failures == []


async def test_fix_all_then_home_summary_updates(iam_aws):
    app = make_app(iam_aws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert "failing" in str(home.query_one("#doctor-line", Static).render())
        await pilot.press("d")
        await settle(pilot)
        doctor = app.screen
        assert isinstance(doctor, DoctorScreen)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#confirm")
        await settle(pilot)
        assert all(statuses(doctor)[c] == "ok" for c in ROLE_CHECKS)
        assert not any(s == "fail" for s in statuses(doctor).values())
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is home
        line = str(home.query_one("#doctor-line", Static).render())
        assert "failing" not in line and "ok" in line


async def test_home_shows_identity(aws):
    app = make_app(aws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = str(app.screen.query_one("#identity", Static).render())
        assert "123456789012" in text
        assert ":123456789012:user/moto" in text  # the full ARN
        assert app.identity is not None and app.identity.account == "123456789012"
        assert "LOCAL SANDBOX" not in app.export_screenshot()


async def test_home_shows_the_sandbox_label(aws):
    app = make_app(aws, sandbox=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#sandbox-banner").display
        assert "LOCAL SANDBOX" in app.sub_title
        assert "LOCAL SANDBOX" in str(app.screen.query_one("#identity", Static).render())


async def test_unreachable_aws_is_reported_not_fatal(monkeypatch):
    # nothing listens on port 9: every call fails; the app reports it and stays usable
    ctx = AwsContext(region="us-east-1", endpoint_url="http://127.0.0.1:9", max_attempts=1)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = str(app.screen.query_one("#identity", Static).render())
        assert "cannot reach AWS" in text
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_help_lists_the_keys_of_the_current_screen(aws):
    app = make_app(aws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = str(help_screen.query_one("#help-keys", Static).render())
        for description in ("Doctor", "Credentials", "Workflow", "Deploy", "Monitor", "Quit"):
            assert description in keys
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def test_doctor_checks_the_last_saved_workflow_too(iam_aws, catalog, tmp_path):
    import json

    path = tmp_path / "wf.json"
    path.write_text(
        json.dumps(
            {
                "input_s3_name": "doctor-input",
                "output_s3_name": "doctor-output",
                "key_pair": "no-such-key",
                "process": {
                    "type": "single_run",
                    "algorithms": [{"name": "change123-s3", "variables": {"TEST_ENV": "x"}}],
                },
            }
        )
    )
    app = make_app(iam_aws, initial="doctor", workflow_path=str(path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        found = statuses(app.screen)
        assert found["workflow-key-pair"] == "fail"
        assert found["workflow-buckets"] == "ok"
        assert str(path) in str(app.screen.query_one("#doctor-summary", Static).render())
