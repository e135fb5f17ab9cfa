"""yunpipe's own settings file (`locations.settings_file()`), a small JSON object.

Read on demand, written atomically under a process-wide lock so concurrent updates from threads
do not lose each other's keys. Holds choices and non-secret metadata only (the keyring backend,
which profiles have a keyring entry, the encrypted-file parameters) - never a secret.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from yunpipe_tui import locations
from yunpipe_tui.errors import InputError
from yunpipe_tui.jsonfile import dump_json, write_atomic

_LOCK = threading.RLock()


def load() -> dict[str, Any]:
    """The settings as a dict; {} when the file does not exist yet."""
    path = locations.settings_file()
    with _LOCK:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise InputError(f"cannot read settings: {exc.strerror}", file=str(path)) from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON at line {exc.lineno}: {exc.msg}; fix or delete the file",
            file=str(path),
        ) from None
    if not isinstance(data, dict):
        raise InputError("settings must be a JSON object; fix or delete the file", file=str(path))
    return data


def get(key: str, default: Any = None) -> Any:
    return load().get(key, default)


def save(data: dict[str, Any]) -> None:
    with _LOCK:
        locations.config_dir(ensure=True)
        write_atomic(locations.settings_file(), dump_json(data))


def update(change: Callable[[dict[str, Any]], None] | None = None, **values: Any) -> dict[str, Any]:
    """Read-modify-write under the lock: set `values` (None deletes a key), then call `change`."""
    with _LOCK:
        data = load()
        for key, value in values.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        if change is not None:
            change(data)
        save(data)
        return data
