"""The moto version the sandbox is built for, and its hooks' lifecycle (own sandboxes here)."""

from __future__ import annotations

from typing import Any

import pytest

from yunpipe_tui.sandbox import MOTO_VERSION, Sandbox, patches


def test_moto_is_the_pinned_version_with_every_hook() -> None:
    assert patches.installed_moto_version() == MOTO_VERSION
    assert patches.check_hooks() == []


def test_hooks_are_installed_only_while_a_sandbox_runs(tmp_path: Any) -> None:
    import moto.s3.notifications as notifications
    from moto.ecs.models import EC2ContainerServiceBackend

    original = notifications._invoke_awslambda
    original_run_task = EC2ContainerServiceBackend.run_task
    with Sandbox(workdir=tmp_path / "sb", executor=False):
        assert patches.is_installed()
        assert notifications._invoke_awslambda is not original
        with pytest.raises(RuntimeError, match="already running"):
            Sandbox(workdir=tmp_path / "sb2", executor=False).start()
    assert not patches.is_installed()
    assert notifications._invoke_awslambda is original
    assert EC2ContainerServiceBackend.run_task is original_run_task
