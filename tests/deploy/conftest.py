"""Fixtures for the deploy engine tests: prerequisite roles, a catalog algorithm, workflows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import PLACEHOLDER, SEED, make_prerequisites, write_workflow
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.deploy import zip_source


@pytest.fixture
def prereqs(aws: Any) -> Any:
    make_prerequisites(aws)
    return aws


@pytest.fixture
def code() -> Any:
    """The dispatcher zip loader: the packaged one when present, else the test placeholder."""
    from importlib import resources

    from yunpipe_tui.deploy import dispatcher_zip

    if resources.files("yunpipe_tui.lambda_functions").joinpath("dispatcher.py").is_file():
        return dispatcher_zip
    return lambda: zip_source({"dispatcher.py": PLACEHOLDER})


@pytest.fixture
def catalog() -> Catalog:
    catalog = Catalog()
    algorithm = load_algorithm_file(SEED / "change123.json")
    catalog.add(algorithm)
    from dataclasses import replace

    catalog.add(replace(algorithm, name="second-alg", ports=(), variables=(), image="me/second"))
    return catalog


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    return write_workflow(tmp_path, "demo")
