"""JSON Schema validation whose messages say where and what to do, not jsonschema's internals."""

from __future__ import annotations

from typing import Any

from yunpipe_tui.assets import load_json
from yunpipe_tui.errors import Problem
from yunpipe_tui.jsonfile import LoadedJson


def _quote_list(values: list[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _message(error: Any) -> str:
    kind = error.validator
    value = error.instance
    if kind == "required":
        missing = [
            name
            for name in error.validator_value
            if not isinstance(value, dict) or name not in value
        ]
        return f"missing required field {_quote_list(missing)}; add it"
    if kind == "enum":
        return f"{value!r} is not one of {_quote_list(error.validator_value)}"
    if kind == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"{value!r} should be of type {wanted}"
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        return f"unknown field {_quote_list(extra)}; known fields are {_quote_list(allowed)}"
    if kind == "pattern":
        return f"{value!r} does not match the allowed form {error.validator_value}"
    if kind in ("minimum", "exclusiveMinimum"):
        return f"{value!r} is too small (at least {error.validator_value})"
    if kind == "maximum":
        return f"{value!r} is too large (at most {error.validator_value})"
    if kind == "minLength":
        return "must not be empty"
    if kind in ("oneOf", "anyOf"):
        return f"{value!r} has the wrong form; " + (
            error.schema.get("description") or "see the documented format"
        )
    return error.message


def schema_problems(doc: LoadedJson, schema_name: str) -> list[Problem]:
    """Every schema violation in the document, in document order."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_json(schema_name))
    problems = []
    for error in validator.iter_errors(doc.data):
        path = tuple(error.absolute_path)
        problems.append(doc.problem(path, _message(error)))
    problems.sort(key=lambda p: (p.line or 0, p.path))
    return problems
