"""Whether a person is at the terminal: commands ask, or open the wizard, only then."""

from __future__ import annotations

import sys


def interactive() -> bool:
    """Both standard input and output are terminals (not a pipe, a file, or CI)."""
    return sys.stdin.isatty() and sys.stdout.isatty()
