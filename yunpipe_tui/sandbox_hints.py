"""Why an algorithm that works in its image fails on the local sandbox, said where users look.

The sandbox runs an algorithm's `run_command` on this machine, not inside the algorithm's image
(only `$input`/`$output` are remapped). A command such as the seed's `sh /change123.sh $input
$output` names a file that exists only inside the image, so every file fails with
`sh: 0: cannot open /change123.sh`. `yunpipe wrap`, `yunpipe deploy` and the wizard warn about
it on the sandbox, and the sandbox's runner adds the same explanation to each failure it logs.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable
from typing import Any

SANDBOX_VARIABLE = "YUNPIPE_SANDBOX"  # set in the environment a sandbox hands out
_PLACEHOLDERS = ("$input", "$output", "${input}", "${output}")


def on_sandbox() -> bool:
    """Whether this process talks to a yunpipe sandbox (`yunpipe sandbox`'s exports, the demo)."""
    return os.environ.get(SANDBOX_VARIABLE) == "1"


def image_files(run_command: str, exists: Callable[[str], bool] = os.path.exists) -> list[str]:
    """Absolute paths in a command that do not exist on this machine: files of the image."""
    try:
        words = shlex.split(run_command)
    except ValueError:
        words = run_command.split()
    found: list[str] = []
    for word in words:
        if any(p in word for p in _PLACEHOLDERS) or not word.startswith("/"):
            continue
        if not exists(word) and word not in found:
            found.append(word)
    return found


def explain(name: str, run_command: str, exists: Callable[[str], bool] = os.path.exists) -> str:
    """One line for an algorithm whose command refers to files inside its image; '' if none."""
    files = image_files(run_command, exists)
    if not files:
        return ""
    return (
        f"algorithm {name!r}: its command refers to files inside its image "
        f"({', '.join(files)}); the sandbox runs it on this machine, where they do not exist, "
        "so every file will fail. On the sandbox use an algorithm whose command runs here, or "
        "deploy to AWS"
    )


def algorithm_warnings(algorithms: Iterable[Any]) -> list[str]:
    """Warnings for catalog algorithms (anything with `name` and `run_command`)."""
    lines = []
    for algorithm in algorithms:
        line = explain(algorithm.name, algorithm.run_command)
        if line and line not in lines:
            lines.append(line)
    return lines


def sandbox_warnings(algorithms: Iterable[Any]) -> list[str]:
    """`algorithm_warnings` when this process talks to the sandbox, else none."""
    return algorithm_warnings(algorithms) if on_sandbox() else []


def failure_hint(run_command: str, exists: Callable[[str], bool] = os.path.exists) -> str:
    """The runner's addition to a failure on the sandbox ('' when the command looks runnable)."""
    files = image_files(run_command, exists)
    if not files:
        return ""
    return (
        f"on the local sandbox the command runs on this machine, and {', '.join(files)} "
        "exists only inside the algorithm's image"
    )
