"""yunpipe's entries in the keyring: the Store on one backend, and the profile operations on top
of it (list, get, set and verify, delete, the seed's task credentials, export, test). A
non-secret index in yunpipe's settings (masked key id, region) lets lists work without an
unlock."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from yunpipe_tui import settings
from yunpipe_tui.credentials.backends import backend_label, is_plaintext, resolve_backend
from yunpipe_tui.credentials.keyring_calls import with_timeout
from yunpipe_tui.credentials.model import (
    ACCESS_KEY_ITEM,
    ITEMS,
    NO_KEYRING_HELP,
    REGION_ITEM,
    SECRET_KEY_ITEM,
    SERVICE_PREFIX,
    SETTING_INDEX,
    SETTING_TASK,
    TASK_SERVICE,
    TOKEN_ITEM,
    Identity,
    KeyringUnavailable,
    ProfileInfo,
    StoredCredentials,
)
from yunpipe_tui.errors import InputError, YunpipeError


class Store:
    """yunpipe's entries in one keyring backend. Every call runs with a timeout."""

    def __init__(self, backend: Any) -> None:
        if is_plaintext(backend):
            raise KeyringUnavailable(
                f"refusing the plaintext keyring backend {type(backend).__name__}; "
                + NO_KEYRING_HELP
            )
        self.backend = backend

    @property
    def label(self) -> str:
        if type(self.backend).__name__ == "CryptFileKeyring":
            return f"encrypted file {self.backend.file_path}"
        return backend_label(self.backend)

    def _get(self, service: str, item: str) -> str | None:
        return with_timeout(self.backend.get_password, service, item)

    def _set(self, service: str, item: str, value: str) -> None:
        with_timeout(self.backend.set_password, service, item, value)

    def _delete(self, service: str, item: str) -> bool:
        try:
            with_timeout(self.backend.delete_password, service, item)
        except Exception as exc:
            from keyring.errors import PasswordDeleteError

            if isinstance(exc, PasswordDeleteError) or "not found" in str(exc).lower():
                return False
            raise
        return True

    def read(self, service: str) -> StoredCredentials | None:
        key_id = self._get(service, ACCESS_KEY_ITEM)
        secret = self._get(service, SECRET_KEY_ITEM)
        if not key_id or not secret:
            return None
        return StoredCredentials(
            access_key_id=key_id,
            secret_access_key=secret,
            session_token=self._get(service, TOKEN_ITEM) or None,
            region=self._get(service, REGION_ITEM) or None,
        )

    def write(self, service: str, creds: StoredCredentials) -> None:
        self._set(service, ACCESS_KEY_ITEM, creds.access_key_id)
        self._set(service, SECRET_KEY_ITEM, creds.secret_access_key)
        for item, value in ((TOKEN_ITEM, creds.session_token), (REGION_ITEM, creds.region)):
            if value:
                self._set(service, item, value)
            elif self._get(service, item) is not None:
                self._delete(service, item)

    def remove(self, service: str) -> bool:
        found = False
        for item in ITEMS:
            found = self._delete(service, item) or found
        return found


def service_for(profile: str) -> str:
    return f"{SERVICE_PREFIX}{profile}"


def open_store(
    backend: str | None = None,
    passphrase: str | None = None,
    prompt: Callable[[bool], str] | None = None,
) -> Store:
    """The store on the configured backend (or `backend`). For the encrypted file the
    passphrase comes from the argument, YUNPIPE_KEYRING_PASSPHRASE, or `prompt(new_file)`;
    with none of them it raises KeyringLocked rather than prompting."""
    return Store(resolve_backend(backend, passphrase, prompt))


_PROFILE_RE = re.compile(r"^[A-Za-z0-9_.@+=,-]{1,64}$")


def check_profile_name(profile: str) -> str:
    if not _PROFILE_RE.match(profile or ""):
        raise InputError(
            f"invalid profile name {profile!r}: use letters, digits and _ . @ + = , -",
            file="--profile",
        )
    return profile


def profile_index() -> dict[str, dict[str, Any]]:
    data = settings.get(SETTING_INDEX) or {}
    return data if isinstance(data, dict) else {}


def list_profiles() -> list[ProfileInfo]:
    """Stored profiles, from the non-secret index (no keyring access, no unlock)."""
    return [
        ProfileInfo(
            profile=name,
            access_key=str(entry.get("access_key", "")),
            region=entry.get("region") or None,
            session_token=bool(entry.get("session_token")),
        )
        for name, entry in sorted(profile_index().items())
        if isinstance(entry, dict)
    ]


def has_profile(profile: str) -> bool:
    return profile in profile_index()


def get_profile(profile: str, store: Store | None = None) -> StoredCredentials | None:
    store = store or open_store()
    return store.read(service_for(check_profile_name(profile)))


def set_profile(
    profile: str,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None = None,
    region: str | None = None,
    store: Store | None = None,
) -> StoredCredentials:
    """Store (and read back to verify) one profile's keys; updates the index."""
    check_profile_name(profile)
    access_key_id = access_key_id.strip()
    secret_access_key = secret_access_key.strip()
    if not re.fullmatch(r"[A-Z0-9]{16,128}", access_key_id):
        raise InputError(
            "the access key id should be 16-128 capital letters and digits (e.g. AKIA...)",
            file="--access-key-id",
        )
    if not secret_access_key:
        raise InputError("the secret access key is empty", file="secret access key")
    creds = StoredCredentials(
        access_key_id, secret_access_key, (session_token or "").strip() or None, region or None
    )
    store = store or open_store()
    service = service_for(profile)
    store.write(service, creds)
    if store.read(service) != creds:
        raise YunpipeError(
            f"the keyring did not return what was stored for profile {profile!r}; "
            "check the keyring backend"
        )

    def add(data: dict[str, Any]) -> None:
        index = data.setdefault(SETTING_INDEX, {})
        index[profile] = {
            "access_key": creds.masked,
            "region": creds.region,
            "session_token": bool(creds.session_token),
        }

    settings.update(add)
    return creds


def delete_profile(profile: str, store: Store | None = None) -> bool:
    check_profile_name(profile)
    store = store or open_store()
    found = store.remove(service_for(profile))

    def drop(data: dict[str, Any]) -> None:
        (data.get(SETTING_INDEX) or {}).pop(profile, None)

    settings.update(drop)
    return found


def get_task_credentials(store: Store | None = None) -> StoredCredentials | None:
    """The seed's task credentials, migrated (only for migration and `-uu`)."""
    store = store or open_store()
    return store.read(TASK_SERVICE)


def set_task_credentials(creds: StoredCredentials, store: Store | None = None) -> None:
    store = store or open_store()
    store.write(TASK_SERVICE, creds)
    if store.read(TASK_SERVICE) != creds:
        raise YunpipeError("the keyring did not return the task credentials that were stored")
    settings.update(None, **{SETTING_TASK: {"access_key": creds.masked, "region": creds.region}})


def export_process_json(profile: str, store: Store | None = None) -> dict[str, Any]:
    creds = get_profile(profile, store)
    if creds is None:
        raise YunpipeError(
            f"no keys for profile {profile!r} in the keyring; run `yunpipe creds set --profile "
            f"{profile}`"
        )
    return creds.process_json()


def test_profile(
    profile: str, store: Store | None = None, endpoint_url: str | None = None
) -> Identity:
    """Call sts:GetCallerIdentity with exactly the stored keys of `profile`."""
    import boto3

    from yunpipe_tui.aws import AwsContext, error_message

    creds = get_profile(profile, store)
    if creds is None:
        raise YunpipeError(f"no keys for profile {profile!r} in the keyring")
    session = boto3.Session(
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        region_name=creds.region or os.environ.get("AWS_REGION") or None,
    )
    ctx = AwsContext.from_session(
        session,
        endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
        max_attempts=2,
    )
    try:
        ident = ctx.client("sts").get_caller_identity()
    except Exception as exc:
        raise YunpipeError(f"profile {profile!r}: {error_message(exc)}") from None
    return Identity(account=ident["Account"], arn=ident["Arn"])
