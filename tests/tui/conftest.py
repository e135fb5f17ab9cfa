"""Fixtures for the wizard's Pilot and snapshot tests: a catalog with the seed's algorithm, an
in-memory keyring, and for the Deploy and Monitor screens the prerequisite roles, a workflow file
and a hand-built pipeline (the deploy engine and the monitor run for real against mock_aws)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from tests.deploy.helpers import PLACEHOLDER, make_prerequisites, write_workflow
from tests.monitor.helpers import Built, build_pipeline
from yunpipe_tui.catalog import Catalog, load_algorithm_file

SEED = Path(__file__).parent.parent / "data" / "seed"


@pytest.fixture
def catalog(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    """The user's catalog (under the test's YUNPIPE_HOME) holding the seed's `change123-s3`, also
    as the default catalog the screens and the CLI load."""
    catalog = Catalog()
    catalog.add(load_algorithm_file(SEED / "change123.json"))
    monkeypatch.setattr("yunpipe_tui.catalog.default_catalog", lambda *a, **k: catalog)
    return catalog


@pytest.fixture
def prereqs(aws: Any) -> Any:
    make_prerequisites(aws)
    return aws


@pytest.fixture
def code(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The dispatcher zip: the packaged one when present, else a placeholder (tests only)."""
    from importlib import resources

    from yunpipe_tui import deploy

    if resources.files("yunpipe_tui.lambda_functions").joinpath("dispatcher.py").is_file():
        return deploy.dispatcher_zip
    placeholder = lambda: deploy.zip_source({"dispatcher.py": PLACEHOLDER})  # noqa: E731
    monkeypatch.setattr(deploy, "dispatcher_zip", placeholder)
    return placeholder


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    return write_workflow(tmp_path, "demo")


@pytest.fixture
def pipeline(aws: Any) -> Built:
    """A monitored pipeline's queues, cluster and buckets, built by hand (no deploy engine)."""
    return build_pipeline(aws)


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
