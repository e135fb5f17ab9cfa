"""Fixtures for the wizard's Pilot and snapshot tests: a catalog with the seed's algorithm."""

from __future__ import annotations

from pathlib import Path

import pytest

from yunpipe_tui.catalog import Catalog, load_algorithm_file

SEED = Path(__file__).parent.parent / "data" / "seed"


@pytest.fixture
def catalog(isolated_home: Path) -> Catalog:
    """The user's catalog (under the test's YUNPIPE_HOME) holding the seed's `change123-s3`."""
    catalog = Catalog()
    catalog.add(load_algorithm_file(SEED / "change123.json"))
    return catalog
