"""Moving the seed's plaintext task file and ~/.aws/credentials profiles into the keyring."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.credentials.conftest import ACCESS_KEY, SECRET, MemoryKeyring
from yunpipe_tui import credentials
from yunpipe_tui.aws import AwsContext

TASK_KEY = "AKIATASKTASKTASKTASK"
TASK_SECRET = "taskSECRETtaskSECRETtaskSECRET0123456789"
DEV_SECRET = "devSECRETdevSECRETdevSECRETdevSECRET0123"


def _seed_task_file(folder: Path) -> Path:
    """The seed wrote ~/.cloud_pipe/task (later ~/.yunpipe/task) with ConfigParser."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "task"
    path.write_text(
        "[default]\n"
        f"aws_access_key_id = {TASK_KEY}\n"
        f"aws_secret_access_key = {TASK_SECRET}\n"
        "region = us-west-1\n"
        "output = json\n\n"
    )
    return path


def test_migrate_the_seed_task_file(
    run_cli,
    memory_keyring: MemoryKeyring,
    isolated_home: Path,
) -> None:
    path = _seed_task_file(isolated_home / ".yunpipe")
    found = credentials.find_plaintext(aws_profiles=False)
    assert [(s.kind, s.path, s.access_key) for s in found] == [("task", path, "AKIA…TASK")]
    code, out, err = run_cli("creds", "migrate", "--yes")
    assert code == 0, err
    assert "(verified)" in out and "deleted the plaintext" in out
    assert TASK_SECRET not in out + err
    task = credentials.get_task_credentials()
    assert task is not None
    assert (task.access_key_id, task.secret_access_key, task.region) == (
        TASK_KEY,
        TASK_SECRET,
        "us-west-1",
    )
    assert memory_keyring.items[("yunpipe-task:default", "aws_secret_access_key")] == TASK_SECRET
    assert not path.exists()
    code, out, _ = run_cli("creds", "migrate", "--yes")
    assert code == 0 and "nothing to migrate" in out


def test_migrate_can_keep_the_plaintext(
    run_cli,
    memory_keyring: MemoryKeyring,
    isolated_home: Path,
    clean_state: list[Path],
) -> None:
    path = _seed_task_file(isolated_home / ".cloud_pipe")
    clean_state.append(path)  # kept on purpose
    code, out, _ = run_cli("creds", "migrate", "--yes", "--keep-plaintext")
    assert code == 0 and "kept the plaintext" in out
    assert path.exists()
    assert credentials.get_task_credentials() is not None


def test_migrate_an_aws_profile(
    run_cli,
    memory_keyring: MemoryKeyring,
    isolated_home: Path,
    clean_state: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws = isolated_home / ".aws"
    aws.mkdir()
    creds_file = aws / "credentials"
    creds_file.write_text(
        "# keep this comment\n"
        f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET}\n\n"
        f"[dev]\naws_access_key_id = AKIADEVDEVDEVDEVDEV0\naws_secret_access_key = {DEV_SECRET}\n"
    )
    (aws / "config").write_text("[profile dev]\nregion = eu-north-1\n")
    clean_state.append(creds_file)  # [default] stays there in plaintext: not asked to move
    code, _, err = run_cli("creds", "migrate", "--aws-profile", "nope", "--yes")
    assert code == 2 and "nope" in err
    code, _, err = run_cli("creds", "migrate", "--aws-profile", "dev", "--yes")
    assert code == 0, err
    dev = credentials.get_profile("dev")
    assert dev is not None and dev.secret_access_key == DEV_SECRET
    assert dev.region == "eu-north-1"
    text = creds_file.read_text()
    assert "[dev]" not in text and DEV_SECRET not in text
    assert text.startswith("# keep this comment\n[default]\n") and SECRET in text
    # the profile keeps working, now from the keyring
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    got = AwsContext(profile="dev", provider=credentials.install_provider).session.get_credentials()
    assert (got.method, got.access_key) == ("yunpipe-keyring", "AKIADEVDEVDEVDEVDEV0")


def test_migrate_refuses_a_copy_that_does_not_read_back(
    run_cli,
    isolated_home: Path,
    clean_state: list[Path],
) -> None:
    class Forgetful(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            self.calls += 1  # drops everything

    credentials.set_backend_override(Forgetful())
    path = _seed_task_file(isolated_home / ".yunpipe")
    clean_state.append(path)
    code, _, err = run_cli("creds", "migrate", "--yes")
    assert code == 1 and "did not return" in err
    assert path.exists()  # plaintext never deleted without a verified copy
