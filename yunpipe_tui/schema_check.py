"""JSON Schema validation whose messages say where and what to do, not jsonschema's internals."""

from __future__ import annotations

from itertools import islice
from typing import Any

from yunpipe_tui.assets import load_json
from yunpipe_tui.errors import Problem
from yunpipe_tui.input_rules import MAX_PROBLEMS, quote
from yunpipe_tui.jsonfile import LoadedJson

_LISTED = 8  # names listed in one message at most


def _quote_list(values: list[Any]) -> str:
    shown = ", ".join(quote(v) for v in values[:_LISTED])
    return shown + (f" and {len(values) - _LISTED} more" if len(values) > _LISTED else "")


def _message(error: Any) -> str:
    kind = error.validator
    value = error.instance
    shown = quote(value)
    if kind == "required":
        missing = [
            name
            for name in error.validator_value
            if not isinstance(value, dict) or name not in value
        ]
        return f"missing required field {_quote_list(missing)}; add it"
    if kind == "enum":
        return f"{shown} is not one of {_quote_list(error.validator_value)}"
    if kind == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"{shown} should be of type {wanted}"
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        return f"unknown field {_quote_list(extra)}; known fields are {_quote_list(allowed)}"
    if kind == "pattern":
        return f"{shown} does not match the allowed form {error.validator_value}"
    if kind in ("minimum", "exclusiveMinimum"):
        return f"{shown} is too small (at least {error.validator_value})"
    if kind == "maximum":
        return f"{shown} is too large (at most {error.validator_value})"
    if kind == "minLength":
        return "must not be empty"
    if kind in ("oneOf", "anyOf"):
        return f"{shown} has the wrong form; " + (
            error.schema.get("description") or "see the documented format"
        )
    if kind == "propertyNames":
        return f"field name {shown} does not match the allowed form"
    return f"{shown} breaks the rule {kind} {quote(error.validator_value)}"


def schema_problems(doc: LoadedJson, schema_name: str) -> list[Problem]:
    """Every schema violation in the document, in document order."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_json(schema_name))
    problems = []
    # One more than is shown, so the caller's cap can say that there were more.
    for error in islice(validator.iter_errors(doc.data), MAX_PROBLEMS + 1):
        path = tuple(error.absolute_path)
        problems.append(doc.problem(path, _message(error)))
    problems.sort(key=lambda p: (p.line or 0, p.path))
    return problems
