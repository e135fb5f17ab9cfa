"""The demo algorithms: small text transforms run on the host by the sandbox's runner.

    python3 -m yunpipe_tui.sandbox.transform OPERATION INPUT OUTPUT

OPERATION is one of `upper`, `number`, `reverse`, `slow` (upper after SLOW_SECONDS, to watch a
task run or stop one midway) or `fail` (exits 3, for the dead-letter demo). An input that is
not UTF-8 text is refused with exit code 4 and one line on stderr saying so (the demo's file
that fails on purpose).
OUTPUT may be a folder (the result is written there under the input's file name) or a file.
Standard library only, so it runs under any Python 3.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path


def upper(text: str) -> str:
    return text.upper()


def number(text: str) -> str:
    return "".join(f"{i}: {line}\n" for i, line in enumerate(text.splitlines(), start=1))


def reverse(text: str) -> str:
    return "".join(line[::-1] + "\n" for line in text.splitlines())


SLOW_SECONDS = 5.0

OPERATIONS: dict[str, Callable[[str], str]] = {
    "upper": upper,
    "number": number,
    "reverse": reverse,
    "slow": upper,
}


def apply(operations: list[str], text: str) -> str:
    """What a chain of operations makes of a text: the demo's expected result."""
    for name in operations:
        text = OPERATIONS[name](text)
    return text


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print("usage: transform OPERATION INPUT OUTPUT", file=sys.stderr)
        return 2
    operation, source, target = args
    if operation == "fail":
        print(f"transform: failing on purpose for {source}", file=sys.stderr)
        return 3
    if operation not in OPERATIONS:
        print(f"transform: unknown operation {operation!r}", file=sys.stderr)
        return 2
    if operation == "slow":
        time.sleep(SLOW_SECONDS)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:  # the demo's bad input: say so in the algorithm's words
        print(
            f"transform: {Path(source).name} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}"
            f" at offset {exc.start}); the demo algorithms read text files only",
            file=sys.stderr,
        )
        return 4
    out = Path(target)
    if out.is_dir() or target.endswith(("/", "\\")):
        out.mkdir(parents=True, exist_ok=True)
        out = out / Path(source).name
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(OPERATIONS[operation](text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
