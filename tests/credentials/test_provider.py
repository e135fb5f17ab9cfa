"""yunpipe's botocore credential provider: where it sits in the chain, and that it stays out of
the way (no keyring access) for profiles it does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.credentials.conftest import ACCESS_KEY, SECRET, MemoryKeyring, scan_for_secrets
from yunpipe_tui import credentials
from yunpipe_tui.aws import AwsContext

FILE_KEY = "AKIAFILEFILEFILEFILE"


def keyring_context(profile: str | None = None) -> AwsContext:
    """An AwsContext as the CLI and the wizard build it: the keyring is a credential source."""
    return AwsContext(profile=profile, provider=credentials.install_provider)


def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)


def _shared_file(home: Path, profile: str = "default") -> None:
    aws = home / ".aws"
    aws.mkdir(exist_ok=True)
    (aws / "credentials").write_text(
        f"[{profile}]\naws_access_key_id = {FILE_KEY}\naws_secret_access_key = filesecret\n"
    )


def test_keyring_comes_before_the_shared_file(
    memory_keyring: MemoryKeyring, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_env_keys(monkeypatch)
    _shared_file(isolated_home)
    credentials.set_profile("default", ACCESS_KEY, SECRET)
    creds = keyring_context().session.get_credentials()
    assert (creds.method, creds.access_key) == ("yunpipe-keyring", ACCESS_KEY)
    resolver = keyring_context().session._session.get_component("credential_provider")
    order = [p.METHOD for p in resolver.providers]
    keyring_at = order.index("yunpipe-keyring")
    assert order[keyring_at + 1] == "shared-credentials-file"
    for first in ("env", "assume-role", "sso"):
        assert order.index(first) < keyring_at


def test_environment_variables_still_win(memory_keyring: MemoryKeyring) -> None:
    credentials.set_profile("default", ACCESS_KEY, SECRET)
    creds = keyring_context().session.get_credentials()
    assert (creds.method, creds.access_key) == ("env", "testing")


def test_unknown_profile_never_touches_the_keyring(
    memory_keyring: MemoryKeyring, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_env_keys(monkeypatch)
    _shared_file(isolated_home, "plain")
    credentials.set_profile("other", ACCESS_KEY, SECRET)
    memory_keyring.calls = 0
    creds = keyring_context("plain").session.get_credentials()
    assert (creds.method, creds.access_key) == ("shared-credentials-file", FILE_KEY)
    assert memory_keyring.calls == 0


def test_assume_role_profiles_keep_working(
    memory_keyring: MemoryKeyring, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_env_keys(monkeypatch)
    _shared_file(isolated_home, "base")
    credentials.set_profile("admin", ACCESS_KEY, SECRET)
    (isolated_home / ".aws" / "config").write_text(
        "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = base\n"
    )
    creds = keyring_context("admin").session.get_credentials()
    assert creds.method == "assume-role"  # the assume-role provider comes first


def test_keyring_only_profile_with_its_region(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_env_keys(monkeypatch)
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    credentials.set_profile("lab", ACCESS_KEY, SECRET, region="ap-southeast-2")
    ctx = keyring_context("lab")  # no ~/.aws files at all
    assert ctx.session.get_credentials().access_key == ACCESS_KEY
    assert ctx.region_name == "ap-southeast-2"


def test_a_locked_keyring_does_not_break_sessions(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyring.errors import KeyringLocked

    class Locked(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise KeyringLocked("Failed to unlock the collection!")

    ok = MemoryKeyring()
    credentials.set_backend_override(ok)
    credentials.set_profile("default", ACCESS_KEY, SECRET)
    credentials.set_backend_override(Locked())
    _no_env_keys(monkeypatch)
    _shared_file(isolated_home)
    creds = keyring_context().session.get_credentials()
    assert creds.access_key == FILE_KEY  # fell through to the next provider


def test_the_provider_does_not_prompt_without_a_passphrase(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    monkeypatch.setenv("YUNPIPE_KEYRING_PASSPHRASE", "pw")
    credentials.choose_backend("encrypted-file")
    credentials.set_profile("default", ACCESS_KEY, SECRET)
    credentials.set_backend_override(None)  # forget the unlocked file
    monkeypatch.delenv("YUNPIPE_KEYRING_PASSPHRASE")
    _no_env_keys(monkeypatch)
    _shared_file(isolated_home)
    assert keyring_context().session.get_credentials().access_key == FILE_KEY


def test_the_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    (tmp_path / "leak.txt").write_text(f"x={SECRET}")
    assert scan_for_secrets(tmp_path)
    (tmp_path / "leak.txt").unlink()
    assert not scan_for_secrets(tmp_path)


def test_install_on_a_built_chain_once(memory_keyring: MemoryKeyring) -> None:
    import botocore.session

    credentials.set_profile("default", ACCESS_KEY, SECRET)
    session = botocore.session.get_session()
    resolver = session.get_component("credential_provider")  # built before we come
    assert credentials.install_provider(session) is True
    assert credentials.install_provider(session) is True
    methods = [p.METHOD for p in resolver.providers]
    assert methods.count("yunpipe-keyring") == 1
    assert methods.index("yunpipe-keyring") + 1 == methods.index("shared-credentials-file")
    # no entry for the profile: nothing is installed
    assert credentials.install_provider(botocore.session.get_session(), "nobody") is False
