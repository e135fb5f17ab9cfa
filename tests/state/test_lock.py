"""One writer per pipeline: the local flock across processes, the account marker across
machines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from yunpipe_tui.errors import YunpipeError
from yunpipe_tui.state import lock
from yunpipe_tui.state.target import Target

TARGET = Target("123456789012", "us-east-1", "")

HOLDER = """
import sys, time
from yunpipe_tui.state import lock
from yunpipe_tui.state.target import Target
with lock.pipeline_lock(None, "demo", "teardown", target=Target("123456789012", "us-east-1", "")):
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


def _holder() -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_process_is_refused_with_the_holders_pid_and_command() -> None:
    child = _holder()
    try:
        with pytest.raises(lock.LockBusy) as caught:
            lock.acquire(None, "demo", "deploy", target=TARGET)
        message = str(caught.value)
        assert message.startswith("pipeline demo is being torn down by ")
        assert f"(pid {child.pid})" in message and "python" in message
        assert "on this machine" in message and message.endswith("wait or retry later")
        assert isinstance(caught.value, YunpipeError)
        # another pipeline, or the same name in another account, is not blocked
        lock.acquire(None, "other", target=TARGET).release()
        lock.acquire(None, "demo", target=Target("999999999999", "us-east-1", "")).release()
    finally:
        child.communicate("\n", timeout=30)


def test_waiting_gets_the_lock_once_the_holder_releases() -> None:
    child = _holder()
    assert child.stdin is not None
    started = time.monotonic()
    child.stdin.write("\n")
    child.stdin.flush()
    with lock.pipeline_lock(None, "demo", "deploy", wait=30, target=TARGET) as held:
        assert held.local.holder()["pid"] == os.getpid()
        assert held.local.holder()["operation"] == "deploy"
    assert time.monotonic() - started < 30
    child.wait(timeout=30)


def test_the_lock_dies_with_its_process() -> None:
    child = _holder()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    with lock.pipeline_lock(None, "demo", target=TARGET):
        pass


def test_a_bounded_wait_ends_in_lock_busy() -> None:
    child = _holder()
    try:
        started = time.monotonic()
        with pytest.raises(lock.LockBusy):
            lock.acquire(None, "demo", wait=0.6, target=TARGET)
        assert 0.5 < time.monotonic() - started < 10
    finally:
        child.communicate("\n", timeout=30)


def test_busy_message_caps_every_value() -> None:
    huge = "x" * 50_000_000
    message = lock.busy_message("p", {"owner": huge, "command": huge, "operation": "deploy"})
    assert len(message) < 400 and "…" in message


def test_lock_file_name_is_safe_for_any_pipeline_name() -> None:
    path = lock.lock_path(TARGET, "../../etc/passwd")
    assert path.parent.name == "locks" and ".." not in path.name


# --------------------------------------------------------------------------- account marker


def _marker(aws: Any, settle: float = 0.0) -> lock.AccountMarker:
    return lock.AccountMarker(aws, "demo", settle=settle)


def _holder_data(operation: str = "deploy", ttl: float = 600) -> dict[str, Any]:
    return lock._holder(operation, ttl)


def test_account_marker_one_holder_at_a_time(aws: Any) -> None:
    first, second = _marker(aws), _marker(aws)
    mine = _holder_data()
    assert first.try_acquire(mine) is None
    current = second.try_acquire(_holder_data())
    assert current is not None and current["token"] == mine["token"]
    tags = aws.client("ssm").list_tags_for_resource(
        ResourceType="Parameter", ResourceId="/yunpipe/locks/demo"
    )["TagList"]
    assert {"Key": "yunpipe:pipeline", "Value": "demo"} in tags
    second.release()  # not ours: leaves the marker alone
    assert first.read()[0]["token"] == mine["token"]  # type: ignore[index]
    first.release()
    assert first.read() == (None, 0)
    assert second.try_acquire(_holder_data()) is None


def test_an_expired_marker_is_taken_over(aws: Any) -> None:
    dead = _marker(aws)
    assert dead.try_acquire(_holder_data(ttl=-1)) is None  # its holder died long ago
    taker = _marker(aws)
    fresh = _holder_data()
    assert taker.try_acquire(fresh) is None
    assert taker.read()[0]["token"] == fresh["token"]  # type: ignore[index]
    dead.release()  # the dead holder coming back must not remove the new marker
    assert taker.read()[0] is not None


def test_a_damaged_marker_cannot_block_forever(aws: Any) -> None:
    aws.client("ssm").put_parameter(Name="/yunpipe/locks/demo", Value="{nope", Type="String")
    assert _marker(aws).try_acquire(_holder_data()) is None


def test_a_takeover_race_has_one_winner(aws: Any) -> None:
    """Two machines see the same expired marker; the one whose marker is replaced backs off."""
    assert _marker(aws).try_acquire(_holder_data(ttl=-1)) is None
    rival = _marker(aws)
    rival_holder = _holder_data()

    class Racing(lock.AccountMarker):
        def _create(self, holder: dict[str, Any]) -> bool:
            created = super()._create(holder)
            if created:  # the rival's delete + create lands right after ours
                rival._delete()
                assert rival._create(rival_holder)
            return created

    loser = Racing(aws, "demo", settle=0.0)
    current = loser.try_acquire(_holder_data())
    assert current is not None and current["token"] == rival_holder["token"]
    assert loser.token == ""


def test_a_fresh_marker_is_not_taken_over_even_if_it_changed_while_judged(aws: Any) -> None:
    assert _marker(aws).try_acquire(_holder_data(ttl=-1)) is None
    replacement = _holder_data()

    class Changing(lock.AccountMarker):
        reads = 0

        def read(self) -> tuple[dict[str, Any] | None, int]:
            self.reads += 1
            if self.reads == 2:  # between judging it expired and deleting it, someone took it
                ssm = self.ctx.client("ssm")
                ssm.put_parameter(Name=self.name, Value=json.dumps(replacement), Overwrite=True)
            return super().read()

    current = Changing(aws, "demo", settle=0.0).try_acquire(_holder_data())
    assert current is not None and current["token"] == replacement["token"]


def test_pipeline_lock_holds_both_layers_and_names_the_account_holder(aws: Any) -> None:
    other_machine = _marker(aws)
    theirs = {**_holder_data(), "owner": "ana@build-7", "pid": 123, "started": 0.0}
    assert other_machine.try_acquire(theirs) is None
    with pytest.raises(lock.LockBusy) as caught:
        lock.acquire(aws, "demo", "deploy", target=TARGET, settle=0)
    message = str(caught.value)
    assert "pipeline demo is being deployed by ana@build-7 (pid 123)" in message
    assert "marker /yunpipe/locks/demo in the account" in message
    # the local layer was released on the way out: only the account blocks
    lock.acquire(None, "demo", target=TARGET).release()
    other_machine.release()
    with lock.pipeline_lock(aws, "demo", "teardown", target=TARGET, settle=0) as held:
        marker, _ = _marker(aws).read()
        assert marker is not None and marker["operation"] == "teardown"
        held.refresh()
        again, version = _marker(aws).read()
        assert again is not None and again["expires"] >= marker["expires"] and version == 2
    assert _marker(aws).read() == (None, 0)


def test_target_defaults_to_the_contexts_identity(aws: Any) -> None:
    with lock.pipeline_lock(aws, "demo", settle=0) as held:
        assert held.local.path.name == f"{TARGET.key()}-demo.lock"


def test_a_planted_symlink_as_lock_file_gives_a_clear_error(tmp_path: Any) -> None:
    path = lock.lock_path(TARGET, "demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(tmp_path / "victim")
    with pytest.raises(YunpipeError, match=r"cannot open the lock file .* remove it and retry"):
        lock.acquire(None, "demo", target=TARGET)
    assert not (tmp_path / "victim").exists()


def test_no_ssm_permission_names_what_is_needed() -> None:
    from botocore.exceptions import ClientError

    class DeniedSsm:
        def put_parameter(self, **_: Any) -> None:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
            raise ClientError(error, "PutParameter")  # type: ignore[arg-type]

    class Ctx:
        def client(self, service: str) -> Any:
            assert service == "ssm"
            return DeniedSsm()

    with pytest.raises(YunpipeError, match="ssm:PutParameter") as caught:
        lock.acquire(Ctx(), "demo", target=TARGET)
    assert "PutParameter failed: AccessDeniedException: not allowed" in str(caught.value)
    lock.acquire(None, "demo", target=TARGET).release()  # the local layer was let go
