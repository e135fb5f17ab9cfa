"""Credential tests: an in-memory keyring, a cheap Argon2 for the encrypted file, and a scan of
the temporary HOME after every test that finds no secret in plaintext."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from yunpipe_tui import credentials
from yunpipe_tui.credentials import backends

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLEsessionTOKENvalue0123456789"
SECRETS = (SECRET, TOKEN)
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 64, "parallelism": 1}


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in a dict (tests only); counts its calls."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls += 1
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls += 1
        if (service, username) not in self.items:
            raise PasswordDeleteError("not found")
        del self.items[(service, username)]


def scan_for_secrets(root: Path, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """Every file under root that holds one of the secrets as plain bytes."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            hits += [f"{path}: {s[:6]}…" for s in secrets if s.encode() in data]
    return hits


@pytest.fixture(autouse=True)
def clean_state(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[Path]]:
    """Reset the module's state; afterwards, no secret may sit in plaintext under tmp_path
    (except in files a test put there on purpose and lists in the yielded list)."""
    monkeypatch.setattr(backends, "CRYPTFILE_COST", dict(CHEAP_ARGON2))
    monkeypatch.setenv("YUNPIPE_KEYRING_TIMEOUT", "20")
    # No desktop keyring leaks in from the machine running the tests.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-dbus")
    credentials.set_backend_override(None)
    credentials.set_interactive(False)
    allowed: list[Path] = []
    yield allowed
    credentials.set_backend_override(None)
    credentials.set_interactive(True)
    hits = [h for h in scan_for_secrets(tmp_path) if not any(h.startswith(str(a)) for a in allowed)]
    assert not hits, f"secret in plaintext: {hits}"


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    credentials.set_backend_override(backend)
    yield backend
    credentials.set_backend_override(None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
