"""The moto version the sandbox is built for, and its hooks' lifecycle (own sandboxes here)."""

from __future__ import annotations

from typing import Any

import pytest

from yunpipe_tui.sandbox import MOTO_VERSION, Sandbox, patches


def test_moto_is_the_pinned_version_with_every_hook() -> None:
    assert patches.installed_moto_version() == MOTO_VERSION
    assert patches.check_hooks() == []


def test_hooks_are_installed_only_while_a_sandbox_runs(tmp_path: Any) -> None:
    import moto.iam.models as iam_models
    import moto.s3.notifications as notifications
    from moto.batch.models import BatchBackend, Job
    from moto.ecs.models import EC2ContainerServiceBackend

    original = notifications._invoke_awslambda
    original_run_task = EC2ContainerServiceBackend.run_task
    original_start, original_submit = Job.start, BatchBackend.submit_job
    names = iam_models.SERVICE_NAME_CONVERSION
    with Sandbox(workdir=tmp_path / "sb", executor=False):
        assert patches.is_installed()
        assert notifications._invoke_awslambda is not original
        assert Job.start is not original_start  # a submitted job is only recorded
        assert iam_models.SERVICE_NAME_CONVERSION["batch"] == "Batch"
        with pytest.raises(RuntimeError, match="already running"):
            Sandbox(workdir=tmp_path / "sb2", executor=False).start()
    assert not patches.is_installed()
    assert notifications._invoke_awslambda is original
    assert EC2ContainerServiceBackend.run_task is original_run_task
    assert (Job.start, BatchBackend.submit_job) == (original_start, original_submit)
    assert iam_models.SERVICE_NAME_CONVERSION is names


def test_a_sandbox_starts_empty_and_reset_empties_it(tmp_path: Any) -> None:
    with Sandbox(workdir=tmp_path / "one", executor=False) as sandbox:
        ctx = sandbox.aws_context()
        ctx.client("s3").create_bucket(Bucket="left-behind")
    with Sandbox(workdir=tmp_path / "two", executor=False) as sandbox:
        s3 = sandbox.aws_context().client("s3")
        assert s3.list_buckets()["Buckets"] == []  # moto's state is per process: reset at start
        s3.create_bucket(Bucket="during-test")
        sandbox.reset()
        assert s3.list_buckets()["Buckets"] == []
        # The manual ECS task transitions survive the reset.
        from moto.moto_api import state_manager

        assert state_manager.get_transition("ecs::task")["times"] == 1_000_000_000
        assert state_manager.get_transition("batch::job")["times"] == 1_000_000_000
        env = sandbox.environ()
        assert env["AWS_ENDPOINT_URL"] == sandbox.endpoint
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    from moto.moto_api import state_manager

    assert state_manager.get_transition("ecs::task")["times"] == 1  # moto's own default again


def test_a_middleware_sees_every_request_and_can_answer_instead_of_moto(tmp_path: Any) -> None:
    """The hook the fault-injection tests use: here, S3's SlowDown for the first two calls."""
    seen: list[str] = []

    def slow_down(app: Any) -> Any:
        def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
            seen.append(environ["REQUEST_METHOD"])
            if len(seen) <= 2:
                body = b"<Error><Code>SlowDown</Code><Message>Please reduce</Message></Error>"
                start_response("503 Slow Down", [("Content-Type", "application/xml")])
                return [body]
            return app(environ, start_response)

        return wrapped

    with Sandbox(workdir=tmp_path / "sb", executor=False, middleware=slow_down) as sandbox:
        s3 = sandbox.aws_context().client("s3")  # botocore's standard retries absorb SlowDown
        assert s3.list_buckets()["Buckets"] == []
    assert len(seen) >= 3
