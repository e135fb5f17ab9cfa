"""Quoting values in messages: never more than 80 characters of anything read from outside."""

from __future__ import annotations

LIMIT = 80


def cap(value: object, limit: int = LIMIT) -> str:
    """`value` as text, cut to `limit` characters with an ellipsis, control characters escaped."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
