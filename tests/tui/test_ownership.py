"""Issue 11, item 4 in the wizard: a pipeline name deployed from another workflow is shown as a
problem on the Deploy screen, and the Deploy button stays hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.deploy.helpers import plan_for, write_workflow
from tests.tui.test_deploy_screen import app_for, deploy_screen, wait_for
from yunpipe_tui.deploy import deploy
from yunpipe_tui.screens.deploy import PLANNED, DeployScreen


async def test_a_name_taken_by_another_workflow_is_a_problem_on_the_deploy_screen(
    prereqs: Any, catalog: Any, code: Any, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    team_a = write_workflow(tmp_path / "a", input_s3_name="team-a-in")
    deploy(plan_for(prereqs, team_a, catalog), prereqs, code=code, sleep=lambda s: None)
    team_b = write_workflow(tmp_path / "b", input_s3_name="team-b-in")
    app = app_for(prereqs, team_b)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        screen = deploy_screen(app)
        await wait_for(pilot, lambda: screen.phase == PLANNED)
        refusal = [p for p in screen.problems if "already deployed from another workflow" in p]
        assert refusal and "input bucket team-a-in" in refusal[0]
        assert not screen.query_one("#deploy-button").display
