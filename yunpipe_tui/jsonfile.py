"""JSON files as users write them: located errors on the way in, atomic writes on the way out."""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yunpipe_tui.errors import InputError, Problem
from yunpipe_tui.input_rules import (
    MAX_FILE_BYTES,
    MAX_VALUES,
    control_character,
    count_values,
    quote,
)

JsonPath = tuple[str | int, ...]
_WS = " \t\n\r"


@dataclass(frozen=True)
class LoadedJson:
    """A parsed document plus the line of every value in it, for error messages."""

    file: str
    data: Any
    lines: dict[JsonPath, int]

    def line_of(self, path: JsonPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that exists."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def problem(self, path: JsonPath, message: str) -> Problem:
        return Problem(
            file=self.file, message=message, line=self.line_of(path), path=format_path(path)
        )


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]{1,80}")


def format_path(path: JsonPath) -> str:
    """`process.algorithms[0].name`; a key that is not plain (control characters, dots,
    spaces, very long) is shown quoted and cut, so a path never spans lines or pages."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part) and control_character(part) is None:
            out += f".{part}" if out else part
        else:
            out += f"[{quote(part, 40)}]"
    return out


def _positions(text: str) -> dict[JsonPath, int]:
    """Record the line each value starts on. The text is already known to be valid JSON."""
    decoder = json.JSONDecoder()
    lines: dict[JsonPath, int] = {}
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_at(index: int) -> int:  # counting from the start each time was quadratic
        return bisect.bisect_left(newlines, index) + 1

    def skip(i: int) -> int:
        while i < len(text) and text[i] in _WS:
            i += 1
        return i

    def value(i: int, path: JsonPath) -> int:
        i = skip(i)
        lines[path] = line_at(i)
        ch = text[i]
        if ch == "{":
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key, i = decoder.raw_decode(text, skip(i))
                i = skip(i) + 1  # the colon
                i = skip(value(i, (*path, key)))
                if text[i] == "}":
                    return i + 1
                i += 1  # the comma
        if ch == "[":
            i = skip(i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = skip(value(i, (*path, index)))
                index += 1
                if text[i] == "]":
                    return i + 1
                i += 1
        _, end = decoder.raw_decode(text, i)
        return end

    value(0, ())
    return lines


def load_json(path: str | os.PathLike[str], what: str = "file") -> LoadedJson:
    """Read and parse a JSON file, turning every way it can be wrong into an InputError."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found; check the path", file=name)
    if p.is_dir():
        raise InputError(f"is a folder, not a {what}; name a .json file", file=name)
    try:
        info = p.stat()
        if not stat.S_ISREG(info.st_mode):
            # A FIFO would block the read until a writer comes; a device never ends.
            kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
            raise InputError(f"is {kind}, not a {what}; name a .json file", file=name)
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise InputError(
                f"the {what} is {size} bytes, more than yunpipe reads (1 MiB); "
                "check that this is the right file",
                file=name,
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=name) from None
    if len(raw) > MAX_FILE_BYTES:  # it grew after the check, or is not a regular file
        raise InputError(f"the {what} is over 1 MiB, more than yunpipe reads", file=name)
    if not raw.strip():
        raise InputError(f"the {what} is empty; it should hold a JSON object", file=name)
    if b"\x00" in raw:
        raise InputError(f"looks binary, not a JSON {what}", file=name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"is not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8", file=name
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            [
                Problem(
                    file=name,
                    line=exc.lineno,
                    column=exc.colno,
                    message=f"malformed JSON: {exc.msg}",
                )
            ]
        ) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", file=name) from None
    except ValueError as exc:  # e.g. an integer over Python's 4300-digit conversion limit
        raise InputError(f"malformed JSON: {quote(str(exc))}", file=name) from None
    if count_values(data) > MAX_VALUES:
        raise InputError(
            f"the {what} holds more than {MAX_VALUES} values, more than yunpipe reads; "
            "check that this is the right file",
            file=name,
        )
    try:
        lines = _positions(text)
    except RecursionError:
        lines = {}
    return LoadedJson(file=name, data=data, lines=lines)


def write_atomic(path: str | os.PathLike[str], content: str | bytes, mode: int = 0o600) -> None:
    """Write so that a crash at any instant leaves either the old file or the new one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=4) + "\n"
