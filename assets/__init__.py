"""Package data: schemas, stylesheet, samples, container runner and Dockerfile template."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


def read_text(name: str) -> str:
    """Read a file shipped in this package, installed or editable alike."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


@cache
def load_json(name: str) -> Any:
    return json.loads(read_text(name))
