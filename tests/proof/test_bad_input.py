"""A corpus of malformed workflow and algorithm files, and a property test: loading and
validating raises nothing but yunpipe's own InputError, and every message names the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.helpers import run_cli
from yunpipe_tui.catalog import Catalog, load_algorithm_file
from yunpipe_tui.errors import InputError
from yunpipe_tui.workflow import load_workflow

CORPUS = Path(__file__).parent / "corpus"
WORKFLOWS = sorted((CORPUS / "workflows").glob("*.json"))
ALGORITHMS = sorted((CORPUS / "algorithms").glob("*.json"))
SEED = Path(__file__).parents[1] / "data" / "seed"


@pytest.fixture
def catalog() -> Catalog:
    cat = Catalog()
    cat.add(load_algorithm_file(SEED / "change123.json"))
    return cat


def test_corpus_is_large_enough() -> None:
    assert len(WORKFLOWS) + len(ALGORITHMS) >= 30


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_malformed_workflow(path: Path, catalog: Catalog, capsys: Any) -> None:
    with pytest.raises(InputError) as info:
        load_workflow(path, catalog)
    assert info.value.problems
    for problem in info.value.problems:
        assert str(problem).startswith(str(path)), problem
    code, out, err = run_cli(["validate", "-f", str(path)], capsys)
    assert code == 2 and out == ""
    assert "Traceback" not in err
    assert all(line.startswith(str(path)) for line in err.splitlines()), err


@pytest.mark.parametrize("path", ALGORITHMS, ids=lambda p: p.stem)
def test_malformed_algorithm(path: Path, capsys: Any) -> None:
    with pytest.raises(InputError) as info:
        load_algorithm_file(path)
    for problem in info.value.problems:
        assert str(problem).startswith(str(path)), problem
    code, _, err = run_cli(["wrap", "--no-build", "-f", str(path)], capsys)
    assert code == 2
    assert "Traceback" not in err and err.startswith(str(path)), err
    assert Catalog().names() == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "input_s3_name",
                    "output_s3_name",
                    "process",
                    "type",
                    "algorithms",
                    "name",
                    "port",
                    "variables",
                    "region",
                    "account_id",
                    "key_pair",
                    "memory",
                    "CPU",
                    "run_command",
                    "container_name",
                    "input_file_path",
                    "output_file_path",
                    "protocol",
                    "required",
                    "user_specified_environment_variables",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=JSON | st.binary(max_size=60))
def test_loading_never_raises_anything_else(tmp_path: Path, doc: Any) -> None:
    path = tmp_path / "fuzz.json"
    if isinstance(doc, bytes):
        path.write_bytes(doc)
    else:
        path.write_text(json.dumps(doc))
    catalog = Catalog()
    for load in (lambda p: load_workflow(p, catalog), load_algorithm_file):
        try:
            load(path)
        except InputError as exc:
            assert exc.problems
            assert all(str(p).startswith(str(path)) for p in exc.problems)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _paths(child, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    doc = json.loads(json.dumps(doc))
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return doc


SEED_WORKFLOW = json.loads((SEED / "user_request.json").read_text())
SEED_ALGORITHM = json.loads((SEED / "change123.json").read_text())


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), replacement=JSON)
def test_near_valid_documents_fail_cleanly(
    tmp_path: Path, catalog: Catalog, data: st.DataObject, replacement: Any
) -> None:
    """One value anywhere in a valid seed file replaced by arbitrary JSON."""
    for original, load in (
        (SEED_WORKFLOW, lambda p: load_workflow(p, catalog)),
        (SEED_ALGORITHM, load_algorithm_file),
    ):
        path = tmp_path / "mutant.json"
        where = data.draw(st.sampled_from(_paths(original)))
        path.write_text(json.dumps(_replace(original, where, replacement)))
        try:
            load(path)
        except InputError as exc:
            assert all(str(p).startswith(str(path)) for p in exc.problems)
