"""`yunpipe demo` without --plain: the wizard (make_app) on the sandbox, marked LOCAL SANDBOX,
with the demo's algorithms in a private catalog and this process pointed at the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.pilot import wait_workers
from yunpipe_tui.sandbox import Timings
from yunpipe_tui.sandbox.demo import demo_environment


async def test_demo_opens_the_wizard_on_the_sandbox(isolated_home: Path) -> None:
    pytest.importorskip("textual")
    from yunpipe_tui.app import make_app

    user_home = os.environ["YUNPIPE_HOME"]
    with demo_environment(Timings.fast()) as env:
        assert os.environ["AWS_ENDPOINT_URL"] == env.sandbox.endpoint
        assert os.environ["YUNPIPE_HOME"] == str(env.home) != user_home
        assert env.catalog.names() == ["demo-number", "demo-upper"]
        app = make_app(env.sandbox.aws_context(), sandbox=True)
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.pause()
            banner = app.screen.query_one("#sandbox-banner")
            assert "LOCAL SANDBOX" in str(banner.render())
            await wait_workers(app)
    # Everything undone: the user's environment and catalog are as before.
    assert os.environ["YUNPIPE_HOME"] == user_home
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert not (Path(user_home) / "data" / "algorithms").exists()
