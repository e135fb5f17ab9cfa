"""The keyring store: layout, backends, refusal of plaintext, timeouts, the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.credentials.conftest import ACCESS_KEY, SECRET, TOKEN, MemoryKeyring
from yunpipe_tui import credentials, settings
from yunpipe_tui.errors import InputError, YunpipeError


def test_mask() -> None:
    assert credentials.mask(ACCESS_KEY) == "AKIA…MPLE"
    assert credentials.mask("short") == "…"
    assert credentials.mask("") == ""


def test_layout_in_the_keyring(memory_keyring: MemoryKeyring) -> None:
    credentials.set_profile("work", ACCESS_KEY, SECRET, TOKEN, "eu-west-1")
    assert memory_keyring.items == {
        ("yunpipe:work", "aws_access_key_id"): ACCESS_KEY,
        ("yunpipe:work", "aws_secret_access_key"): SECRET,
        ("yunpipe:work", "aws_session_token"): TOKEN,
        ("yunpipe:work", "region"): "eu-west-1",
    }
    # the settings index holds only the masked id
    index = settings.get("keyring_profiles")
    assert index == {
        "work": {"access_key": "AKIA…MPLE", "region": "eu-west-1", "session_token": True}
    }
    got = credentials.get_profile("work")
    assert got is not None and got.secret_access_key == SECRET and got.session_token == TOKEN
    assert SECRET not in repr(got) and TOKEN not in repr(got)
    # overwrite without a token removes the old token item
    credentials.set_profile("work", ACCESS_KEY, SECRET)
    assert ("yunpipe:work", "aws_session_token") not in memory_keyring.items
    assert credentials.delete_profile("work") is True
    assert memory_keyring.items == {}
    assert credentials.list_profiles() == []
    assert credentials.delete_profile("work") is False


def test_bad_input_is_refused(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(InputError, match="access key id"):
        credentials.set_profile("p", "not a key", SECRET)
    with pytest.raises(InputError, match="empty"):
        credentials.set_profile("p", ACCESS_KEY, "  ")
    with pytest.raises(InputError, match="invalid profile name"):
        credentials.set_profile("bad name;rm", ACCESS_KEY, SECRET)
    assert memory_keyring.items == {}


def test_no_usable_keyring_names_both_ways_forward(run_cli) -> None:
    # conftest points D-Bus at nothing: no Secret Service, no KWallet; not macOS or Windows
    status = credentials.backend_status()
    assert status.usable is False
    code, out, err = run_cli(
        "creds", "set", "--access-key-id", ACCESS_KEY, "--secret-access-key-stdin", stdin=SECRET
    )
    assert code == 1 and out == ""
    assert "no usable OS keyring" in err
    assert "dbus-run-session" in err and "gnome-keyring-daemon --unlock" in err
    assert "--backend encrypted-file" in err and "YUNPIPE_KEYRING_PASSPHRASE" in err
    assert SECRET not in err


def test_keyring_errors_become_one_clear_line(memory_keyring: MemoryKeyring) -> None:
    from keyring.errors import KeyringLocked, NoKeyringError

    class NoKeyring(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise NoKeyringError("No recommended backend was available.")

    class Locked(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise KeyringLocked("Failed to unlock the collection!")

    with pytest.raises(credentials.KeyringUnavailable, match="dbus-run-session"):
        credentials.get_profile("p", credentials.Store(NoKeyring()))
    with pytest.raises(credentials.KeyringLocked, match="locked"):
        credentials.get_profile("p", credentials.Store(Locked()))


def test_plaintext_backends_are_refused() -> None:
    from keyring.backends.fail import Keyring as FailKeyring
    from keyrings.cryptfile.file import PlaintextKeyring

    for backend in (PlaintextKeyring(), FailKeyring()):
        with pytest.raises(credentials.KeyringUnavailable, match="plaintext"):
            credentials.Store(backend)
    with pytest.raises(InputError, match="plaintext backends are never used"):
        credentials.choose_backend("keyrings.alt.file.PlaintextKeyring")
    assert settings.get("keyring_backend") is None


def test_a_blocking_keyring_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    class Slow(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            time.sleep(2)
            return None

    monkeypatch.setenv("YUNPIPE_KEYRING_TIMEOUT", "0.2")
    started = time.monotonic()
    with pytest.raises(credentials.KeyringLocked, match=r"did not answer within 0.2 s"):
        credentials.get_profile("p", credentials.Store(Slow()))
    assert time.monotonic() - started < 1.5


def test_encrypted_file_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUNPIPE_KEYRING_PASSPHRASE", "correct horse battery staple")
    assert credentials.choose_backend("encrypted-file") == "encrypted-file"
    assert settings.get("keyring_backend") == "encrypted-file"  # kept in yunpipe's settings
    credentials.set_profile("enc", ACCESS_KEY, SECRET, TOKEN, "us-west-2")
    path = credentials.cryptfile_path()
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    assert settings.get("encrypted_file") == {"time_cost": 1, "memory_cost": 64, "parallelism": 1}
    # a fresh process-state reads it back with the passphrase
    credentials.set_backend_override(None)
    got = credentials.get_profile("enc")
    assert got is not None and (got.secret_access_key, got.session_token) == (SECRET, TOKEN)
    # a wrong passphrase is refused, with no secret in the message
    credentials.set_backend_override(None)
    monkeypatch.setenv("YUNPIPE_KEYRING_PASSPHRASE", "wrong")
    with pytest.raises(credentials.KeyringLocked, match="wrong passphrase") as err:
        credentials.get_profile("enc")
    assert SECRET not in str(err.value)
    # without any passphrase source it says how to give one instead of prompting
    monkeypatch.delenv("YUNPIPE_KEYRING_PASSPHRASE")
    with pytest.raises(credentials.KeyringLocked, match="YUNPIPE_KEYRING_PASSPHRASE"):
        credentials.open_store()
    # a passphrase given by the caller (the TUI) unlocks it
    store = credentials.open_store(passphrase="correct horse battery staple")
    assert credentials.get_profile("enc", store) is not None
    status = credentials.backend_status()
    assert status.choice == "encrypted-file" and status.unlocked is True


def test_cli_set_show_list_delete(run_cli, memory_keyring: MemoryKeyring) -> None:
    code, out, err = run_cli(
        "creds",
        "set",
        "--profile",
        "lab",
        "--access-key-id",
        ACCESS_KEY,
        "--region",
        "eu-central-1",
        "--secret-access-key-stdin",
        stdin=f"{SECRET}\n{TOKEN}\n",
    )
    assert code == 0, err
    assert "stored AKIA…MPLE for profile 'lab'" in out
    assert memory_keyring.items[("yunpipe:lab", "aws_session_token")] == TOKEN
    code, out, _ = run_cli("creds", "show", "--profile", "lab", "--check")
    assert code == 0 and "AKIA…MPLE" in out and "eu-central-1" in out and "entry present" in out
    code, out, _ = run_cli("creds", "list", "--json")
    data = json.loads(out)
    assert data["profiles"] == [
        {
            "profile": "lab",
            "access_key": "AKIA…MPLE",
            "region": "eu-central-1",
            "session_token": True,
        }
    ]
    code, out, _ = run_cli("creds", "list")
    assert "lab" in out and "AKIA…MPLE" in out
    code, out, err = run_cli("creds", "delete", "--profile", "lab")
    assert code == 2 and "--yes" in err  # no terminal to ask in
    code, out, _ = run_cli("creds", "delete", "--profile", "lab", "--yes")
    assert code == 0 and memory_keyring.items == {}
    code, _, err = run_cli("creds", "show", "--profile", "lab")
    assert code == 1 and "no keys stored" in err


def test_cli_never_takes_the_secret_as_an_argument(run_cli, memory_keyring) -> None:
    code, _, err = run_cli(
        "creds", "set", "--access-key-id", ACCESS_KEY, "--secret-access-key", SECRET
    )
    assert code == 2 and "No such option" in err
    code, _, err = run_cli("creds", "set", "--access-key-id", ACCESS_KEY)
    assert code == 2 and "--secret-access-key-stdin" in err
    assert memory_keyring.items == {}


def test_cli_global_profile_is_the_default(run_cli, memory_keyring) -> None:
    code, _, err = run_cli(
        "--profile",
        "glob",
        "creds",
        "set",
        "--access-key-id",
        ACCESS_KEY,
        "--secret-access-key-stdin",
        stdin=SECRET,
    )
    assert code == 0, err
    assert ("yunpipe:glob", "aws_secret_access_key") in memory_keyring.items


def test_export_prints_process_json_only(run_cli, memory_keyring) -> None:
    credentials.set_profile("p1", ACCESS_KEY, SECRET, TOKEN)
    code, out, err = run_cli("creds", "export", "--profile", "p1")
    assert code == 0 and err == ""
    assert json.loads(out) == {
        "Version": 1,
        "AccessKeyId": ACCESS_KEY,
        "SecretAccessKey": SECRET,
        "SessionToken": TOKEN,
    }
    code, out, err = run_cli("creds", "export", "--profile", "nobody")
    assert code == 1 and out == "" and "no keys for profile 'nobody'" in err


def test_link_writes_only_the_process_line(run_cli, isolated_home: Path) -> None:
    config = isolated_home / ".aws" / "config"
    config.parent.mkdir()
    original = "# my settings\n[default]\nregion = us-east-1\n\n[profile other]\noutput = json\n"
    config.write_text(original)
    code, _, err = run_cli("creds", "link", "--profile", "lab", "--yes")
    assert code == 0, err
    exe = credentials.yunpipe_executable()
    assert Path(exe).is_absolute()
    expected = f"credential_process = {exe} creds export --profile lab"
    text = config.read_text()
    assert text.startswith(original)
    assert text[len(original) :] == f"\n[profile lab]\n{expected}\n"
    # linking again replaces the line instead of adding a second one
    run_cli("creds", "link", "--profile", "lab", "--yes")
    assert config.read_text() == text
    # the default profile lives under [default]
    run_cli("creds", "link", "--profile", "default", "--yes")
    lines = config.read_text().splitlines()
    assert lines[1:3] == [
        "[default]",
        f"credential_process = {exe} creds export --profile default",
    ]
    code, _, err = run_cli("creds", "link", "--profile", "x")
    assert code == 2 and "--yes" in err


def test_test_profile_calls_sts(memory_keyring: MemoryKeyring, mocked_aws: None) -> None:
    credentials.set_profile("t", ACCESS_KEY, SECRET)
    ident = credentials.test_profile("t")
    assert ident.account == "123456789012"
    with pytest.raises(YunpipeError, match="no keys"):
        credentials.test_profile("missing")
