"""Fixtures for the sandbox tests: a running sandbox with test timings, an AwsContext on it, the
account prepared by the doctor's fixes, and a catalog with the demo algorithms.

The sandbox is shared by the tests of one module (starting one and warming moto's IAM and EC2
backends costs seconds); tests therefore use their own resource names. It installs its moto hooks
only while it runs, so mock_aws tests in other modules see plain moto."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yunpipe_tui.catalog import Catalog
from yunpipe_tui.sandbox import Sandbox, Timings, flow

FAIL_ALGORITHM = "always-fails"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    workdir = tmp_path_factory.mktemp("sandbox")
    with Sandbox(timings=Timings.fast(), workdir=workdir) as sb:
        yield sb


@pytest.fixture(scope="module")
def ctx(sandbox: Sandbox) -> Any:
    return sandbox.aws_context()


@pytest.fixture(scope="module")
def prepared(ctx: Any) -> Any:
    """The sandbox account after `yunpipe doctor --fix`: the prerequisite roles exist."""
    flow.prepare_account(ctx)
    return ctx


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    catalog = Catalog(tmp_path / "catalog")
    for name, operation in (
        ("demo-upper", "upper"),
        ("demo-number", "number"),
        ("demo-reverse", "reverse"),
        (FAIL_ALGORITHM, "fail"),
    ):
        catalog.add(flow.text_algorithm(name, operation))
    return catalog


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()
