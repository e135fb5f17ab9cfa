"""Fixtures for the Deploy screen: prerequisite roles, a catalog with the seed's algorithm, a
workflow file (the deploy engine runs for real against mock_aws)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import PLACEHOLDER, SEED, make_prerequisites, write_workflow
from yunpipe_tui.catalog import Catalog, load_algorithm_file


@pytest.fixture
def prereqs(aws: Any) -> Any:
    make_prerequisites(aws)
    return aws


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> Catalog:
    """The seed's algorithm, also as the default catalog the screen and the CLI load."""
    catalog = Catalog()
    catalog.add(load_algorithm_file(SEED / "change123.json"))
    monkeypatch.setattr("yunpipe_tui.catalog.default_catalog", lambda *a, **k: catalog)
    return catalog


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
