"""Fixtures for the monitor: a pipeline's resources built by hand on mock_aws (no deploy engine)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.monitor.helpers import Built, build_pipeline


@pytest.fixture
def pipeline(aws: Any) -> Built:
    return build_pipeline(aws)
