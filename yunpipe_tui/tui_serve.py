"""The wizard in a web browser, through textual-serve (the optional extra `serve`)."""

from __future__ import annotations

import shlex
import sys


class ServeUnavailable(ImportError):
    """textual-serve is not installed."""


def wizard_command(profile: str | None, region: str | None) -> str:
    """The command textual-serve runs for each browser session: this Python, this wizard."""
    parts = [sys.executable, "-m", "yunpipe_tui"]
    if profile:
        parts += ["--profile", profile]
    if region:
        parts += ["--region", region]
    return shlex.join(parts)


def serve_available() -> bool:
    try:
        import textual_serve.server  # noqa: F401
    except ImportError:
        return False
    return True


def serve_wizard(command: str, host: str, port: int) -> None:
    """Serve until interrupted; each browser tab gets its own wizard process."""
    try:
        from textual_serve.server import Server
    except ImportError as exc:
        raise ServeUnavailable(str(exc)) from None
    Server(command, host=host, port=port, title="yunpipe").serve()
