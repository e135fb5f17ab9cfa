"""yunpipe's keyring as a link in botocore's credential chain, just before the shared-credentials
file; it touches the keyring only for a profile the non-secret index lists."""

from __future__ import annotations

import logging
import sys
from typing import Any

from yunpipe_tui.credentials.backends import cryptfile_path
from yunpipe_tui.credentials.model import PROVIDER_METHOD
from yunpipe_tui.credentials.store import open_store, profile_index, service_for

log = logging.getLogger(__name__)

_interactive = True


def set_interactive(allowed: bool) -> None:
    """Whether the AWS credential provider may prompt for the encrypted file's passphrase on the
    terminal (the TUI turns this off and unlocks through `open_store(passphrase=...)`)."""
    global _interactive
    _interactive = allowed


def _provider_class() -> type:
    from botocore.credentials import CredentialProvider, Credentials

    class KeyringProvider(CredentialProvider):
        """yunpipe's keyring entry for one profile, before the shared-credentials file."""

        METHOD = PROVIDER_METHOD
        CANONICAL_NAME = PROVIDER_METHOD

        def __init__(self, profile: str) -> None:
            super().__init__()
            self.profile = profile

        def load(self) -> Credentials | None:
            try:
                store = open_store(prompt=_terminal_prompt if _interactive_ok() else None)
                creds = store.read(service_for(self.profile))
            except Exception as exc:  # a locked or missing keyring must not break sessions
                log.debug("yunpipe keyring skipped for profile %s: %s", self.profile, exc)
                return None
            if creds is None:
                return None
            return Credentials(
                creds.access_key_id,
                creds.secret_access_key,
                creds.session_token,
                method=self.METHOD,
            )

    return KeyringProvider


def _interactive_ok() -> bool:
    try:
        return _interactive and sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _terminal_prompt(new: bool) -> str:
    import getpass

    return getpass.getpass(f"Passphrase for yunpipe's encrypted keyring {cryptfile_path()}: ")


def install_provider(session: Any, profile: str | None = None) -> bool:
    """Insert yunpipe's keyring provider into a botocore session's credential chain, just before
    the shared-credentials file (environment, assume-role and SSO still come first).

    Does nothing - and touches no keyring - unless yunpipe's index has an entry for the
    profile. A keyring-only profile is also made known to botocore (with its region), so that
    `--profile NAME` works without a ~/.aws/config section. Never raises.
    """
    try:
        if profile:
            session.set_config_variable("profile", profile)
        name = profile or session.get_config_variable("profile") or "default"
        entry = profile_index().get(name)
        if not isinstance(entry, dict):
            return False
        profiles = session.full_config.setdefault("profiles", {})
        if name not in profiles:
            profiles[name] = {"region": entry["region"]} if entry.get("region") else {}
        elif entry.get("region") and "region" not in profiles[name]:
            profiles[name]["region"] = entry["region"]
        provider = _provider_class()(name)
        built = getattr(getattr(session, "_components", None), "_components", {})
        if "credential_provider" in built:  # the chain exists already: add to it
            _insert(built["credential_provider"], provider)
            return True

        def create_resolver() -> Any:
            # botocore's own lazy factory, plus our provider; built on first use as usual
            from botocore.credentials import create_credential_resolver

            resolver = create_credential_resolver(
                session, region_name=getattr(session, "_last_client_region_used", None)
            )
            _insert(resolver, provider)
            return resolver

        session.lazy_register_component("credential_provider", create_resolver)
        return True
    except Exception as exc:
        log.debug("yunpipe keyring provider not installed: %s", exc)
        return False


def _insert(resolver: Any, provider: Any) -> None:
    if any(getattr(p, "METHOD", "") == PROVIDER_METHOD for p in resolver.providers):
        return
    try:
        resolver.insert_before("shared-credentials-file", provider)
    except Exception as exc:  # an unusual chain: leave it as botocore built it
        log.debug("yunpipe keyring provider not inserted: %s", exc)
