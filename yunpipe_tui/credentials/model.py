"""What yunpipe keeps in a keyring and what it may show: the entry layout, the settings keys of
the non-secret index, the stored keys (secret fields never in a repr), the non-secret views of
them, and the two errors every part raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yunpipe_tui.errors import YunpipeError

SERVICE_PREFIX = "yunpipe:"
TASK_SERVICE = "yunpipe-task:default"
ACCESS_KEY_ITEM = "aws_access_key_id"
SECRET_KEY_ITEM = "aws_secret_access_key"
TOKEN_ITEM = "aws_session_token"
REGION_ITEM = "region"
ITEMS = (ACCESS_KEY_ITEM, SECRET_KEY_ITEM, TOKEN_ITEM, REGION_ITEM)

PASSPHRASE_ENV = "YUNPIPE_KEYRING_PASSPHRASE"
PROVIDER_METHOD = "yunpipe-keyring"

SETTING_BACKEND = "keyring_backend"
SETTING_INDEX = "keyring_profiles"
SETTING_TASK = "keyring_task"
SETTING_CRYPTFILE = "encrypted_file"

NO_KEYRING_HELP = (
    "no usable OS keyring (no Secret Service on D-Bus, KWallet, macOS Keychain or Windows "
    "Credential Locker). Either run a Secret Service, e.g. "
    "`dbus-run-session -- sh -c "
    "'gnome-keyring-daemon --unlock --components=secrets; exec \"$SHELL\"'` "
    "(type the keyring password, then Ctrl-D), or keep the keys in an encrypted file: "
    "`yunpipe creds set --backend encrypted-file` (passphrase from a hidden prompt or "
    f"{PASSPHRASE_ENV})"
)


class KeyringUnavailable(YunpipeError):
    """No usable keyring backend; the message names the two ways forward."""


class KeyringLocked(YunpipeError):
    """The keyring needs a passphrase, refused it, or did not answer in time."""


def mask(value: str | None) -> str:
    """`AKIAIOSFODNN7EXAMPLE` -> `AKIA…MPLE`; short values are hidden completely."""
    if not value:
        return ""
    if len(value) < 12:
        return "…"
    return f"{value[:4]}…{value[-4:]}"


@dataclass(frozen=True)
class StoredCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str | None = None

    @property
    def masked(self) -> str:
        return mask(self.access_key_id)

    def process_json(self) -> dict[str, Any]:
        """The `credential_process` output format."""
        out: dict[str, Any] = {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
        }
        if self.session_token:
            out["SessionToken"] = self.session_token
        return out


@dataclass(frozen=True)
class ProfileInfo:
    """What may be shown about a stored profile: nothing secret."""

    profile: str
    access_key: str  # masked
    region: str | None
    session_token: bool


@dataclass(frozen=True)
class BackendStatus:
    choice: str  # the setting: auto, secret-service, ..., encrypted-file
    usable: bool
    backend: str  # what is in use, e.g. "Secret Service" or the encrypted file's path
    detail: str
    needs_passphrase: bool = False
    unlocked: bool = False


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str
