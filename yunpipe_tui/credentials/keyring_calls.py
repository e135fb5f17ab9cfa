"""Every keyring call runs with a timeout (an unlock prompt nobody answers would block forever),
and the keyring library's errors become one clear line with no secret in it."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from yunpipe_tui.credentials.model import NO_KEYRING_HELP, KeyringLocked, KeyringUnavailable
from yunpipe_tui.errors import YunpipeError

TIMEOUT_ENV = "YUNPIPE_KEYRING_TIMEOUT"
DEFAULT_TIMEOUT = 30.0


def keyring_timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, "") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT


def with_timeout(fn: Callable[..., Any], *args: Any, what: str = "keyring") -> Any:
    """Run a keyring call in a daemon thread; a call that blocks (an unlock prompt nobody can
    answer) becomes a KeyringLocked error instead of a hang."""
    timeout = keyring_timeout()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name="yunpipe-keyring", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise KeyringLocked(
            f"the {what} did not answer within {timeout:g} s (locked, waiting for an unlock "
            f"prompt?); unlock it and retry, or raise {TIMEOUT_ENV}"
        )
    if "error" in box:
        raise _translate(box["error"]) from None
    return box.get("value")


def _translate(exc: BaseException) -> BaseException:
    """Keyring library errors -> one clear line, with no secret in it."""
    if isinstance(exc, YunpipeError):
        return exc
    try:
        from keyring import errors as kerr
    except ImportError:  # pragma: no cover - keyring is a dependency
        return exc
    if isinstance(exc, kerr.NoKeyringError):
        return KeyringUnavailable(NO_KEYRING_HELP)
    if isinstance(exc, kerr.KeyringLocked):
        return KeyringLocked("the keyring is locked and was not unlocked; unlock it and retry")
    if isinstance(exc, kerr.InitError):
        return KeyringUnavailable(f"the keyring could not be opened ({exc}); {NO_KEYRING_HELP}")
    if isinstance(exc, kerr.KeyringError):
        return YunpipeError(f"keyring error: {type(exc).__name__}: {exc}")
    return exc
