"""Paths shown in a narrow place keep their end (the file's name and folder), not their start:
`…/demo/work-flow.json` says which file; `/tmp/yunpipe-sandbox-2iy…` does not."""

from __future__ import annotations

ELLIPSIS = "…"


def tail_path(path: str, width: int) -> str:
    """`path` in at most `width` characters: whole when it fits, else `…/` and as many of its
    last parts as fit (at least the file name, itself cut at its start when even that is long)."""
    if len(path) <= width:
        return path
    parts = path.replace("\\", "/").split("/")
    shown = parts[-1]
    for part in reversed(parts[:-1]):
        candidate = f"{part}/{shown}"
        if len(candidate) + 2 > width:
            break
        shown = candidate
    if len(shown) + 2 <= width:
        return f"{ELLIPSIS}/{shown}"
    return ELLIPSIS + shown[-(width - 1) :] if width > 1 else ELLIPSIS
