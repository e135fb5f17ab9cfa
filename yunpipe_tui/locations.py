"""Every path yunpipe writes, in one place.

Built on platformdirs; `YUNPIPE_HOME` puts everything under one folder (tests, portable
installs); `YUNPIPE_STATE_DIR` moves only the state (journals, locks): `yunpipe sandbox` points
it into its own temporary folder, so the sandbox's records live and die with it.
Nothing is created at import time: callers ask for a folder with `ensure=True`.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "yunpipe"


def _base(kind: str) -> Path:
    state = os.environ.get("YUNPIPE_STATE_DIR")
    if kind == "state" and state:
        return Path(state)
    home = os.environ.get("YUNPIPE_HOME")
    if home:
        return Path(home) / kind
    import platformdirs

    getter = {
        "data": platformdirs.user_data_dir,
        "state": platformdirs.user_state_dir,
        "cache": platformdirs.user_cache_dir,
        "config": platformdirs.user_config_dir,
    }[kind]
    return Path(getter(APP, appauthor=False))


def _dir(kind: str, *parts: str, ensure: bool = False) -> Path:
    path = _base(kind).joinpath(*parts)
    if ensure:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def data_dir(ensure: bool = False) -> Path:
    return _dir("data", ensure=ensure)


def catalog_dir(ensure: bool = False) -> Path:
    """One JSON file per registered algorithm."""
    return _dir("data", "algorithms", ensure=ensure)


def state_dir(ensure: bool = False) -> Path:
    return _dir("state", ensure=ensure)


def journal_dir(ensure: bool = False) -> Path:
    """One deploy journal per pipeline."""
    return _dir("state", "journals", ensure=ensure)


def cache_dir(ensure: bool = False) -> Path:
    return _dir("cache", ensure=ensure)


def build_dir(name: str, ensure: bool = False) -> Path:
    """A container build context for one wrapped algorithm."""
    return _dir("cache", "build", name, ensure=ensure)


def config_dir(ensure: bool = False) -> Path:
    return _dir("config", ensure=ensure)


def settings_file() -> Path:
    return config_dir() / "settings.json"


def legacy_dirs() -> list[Path]:
    """The seed tool's folders, read for migration only."""
    home = Path.home()
    return [home / ".cloud_pipe", home / ".yunpipe"]
