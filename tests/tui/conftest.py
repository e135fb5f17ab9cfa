"""Fixtures for the wizard's Pilot and snapshot tests: a catalog with the seed's algorithm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from yunpipe_tui.catalog import Catalog, load_algorithm_file

SEED = Path(__file__).parent.parent / "data" / "seed"


@pytest.fixture
def catalog(isolated_home: Path) -> Catalog:
    """The user's catalog (under the test's YUNPIPE_HOME) holding the seed's `change123-s3`."""
    catalog = Catalog()
    catalog.add(load_algorithm_file(SEED / "change123.json"))
    return catalog


class MemoryKeyring(KeyringBackend):
    """A keyring in a dict (tests only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.items:
            raise PasswordDeleteError("not found")
        del self.items[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """yunpipe's credential store on an in-memory keyring for the test's duration."""
    from yunpipe_tui import credentials

    backend = MemoryKeyring()
    credentials.set_backend_override(backend)
    try:
        yield backend
    finally:
        credentials.set_backend_override(None)
