"""Which keyring backend holds the keys: a usable OS keyring (Secret Service, KWallet, macOS
Keychain, Windows Credential Locker) or, only when the user opts in, an encrypted file
(keyrings.cryptfile, Argon2id + AES GCM). Never a plaintext backend, and never keyring's own
global configuration: the choice lives in yunpipe's settings."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yunpipe_tui import locations, settings
from yunpipe_tui.credentials.keyring_calls import with_timeout
from yunpipe_tui.credentials.model import (
    NO_KEYRING_HELP,
    PASSPHRASE_ENV,
    SETTING_BACKEND,
    SETTING_CRYPTFILE,
    BackendStatus,
    KeyringLocked,
    KeyringUnavailable,
)
from yunpipe_tui.errors import InputError, YunpipeError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

AUTO = "auto"
ENCRYPTED_FILE = "encrypted-file"
# name -> (module, class) of the keyring backends yunpipe accepts. No plaintext, fail or null.
OS_BACKENDS: dict[str, tuple[str, str]] = {
    "secret-service": ("keyring.backends.SecretService", "Keyring"),
    "kwallet": ("keyring.backends.kwallet", "DBusKeyring"),
    "macos": ("keyring.backends.macOS", "Keyring"),
    "windows": ("keyring.backends.Windows", "WinVaultKeyring"),
}
BACKEND_NAMES = (AUTO, *OS_BACKENDS, ENCRYPTED_FILE)

# Argon2id cost for new encrypted files (RFC 9106's second recommendation: t=3, 64 MiB, p=4),
# about 0.1 s per item here. Stored in settings, since keyrings.cryptfile does not record it.
CRYPTFILE_COST = {"time_cost": 3, "memory_cost": 2**16, "parallelism": 4}

_override: KeyringBackend | None = None
_cache_lock = threading.Lock()
_cached: dict[str, Any] = {}  # "cryptfile" -> an unlocked encrypted-file backend


def set_backend_override(backend: KeyringBackend | None) -> None:
    """Use this backend instead of the configured one (tests; an embedding app)."""
    global _override
    _override = backend
    with _cache_lock:
        _cached.clear()


def configured_backend() -> str:
    choice = settings.get(SETTING_BACKEND) or AUTO
    return choice if choice in BACKEND_NAMES else AUTO


def _check_name(name: str) -> str:
    name = (name or "").strip().lower()
    if name not in BACKEND_NAMES:
        hint = " (plaintext backends are never used)" if "plain" in name or "alt" in name else ""
        raise InputError(
            f"unknown keyring backend {name!r}{hint}; choose one of {', '.join(BACKEND_NAMES)}",
            file="--backend",
        )
    return name


def is_plaintext(backend: Any) -> bool:
    """True for any backend that would keep secrets readable on disk or not at all."""
    cls = type(backend)
    where = f"{cls.__module__}.{cls.__name__}".lower()
    bad = ("plaintext", "keyrings.alt", "backends.fail", "backends.null", "backends.chainer")
    return any(word in where for word in bad)


def _load_os_class(name: str) -> Any:
    import importlib

    module_name, class_name = OS_BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)
    except Exception as exc:  # missing platform modules
        raise RuntimeError(f"{name} backend not available: {exc}") from None


def _viable(name: str) -> tuple[Any | None, str]:
    """(backend instance, '') when usable, else (None, why not)."""
    try:
        cls = _load_os_class(name)
        with_timeout(lambda: cls.priority, what=f"{name} keyring")
        return cls(), ""
    except KeyringLocked as exc:
        return None, str(exc)
    except Exception as exc:
        return None, str(exc) or type(exc).__name__


def _os_backend(choice: str) -> Any:
    names = list(OS_BACKENDS) if choice == AUTO else [choice]
    reasons = []
    for name in names:
        backend, why = _viable(name)
        if backend is not None and not is_plaintext(backend):
            return backend
        reasons.append(f"{name}: {why}")
    if choice == AUTO:
        raise KeyringUnavailable(NO_KEYRING_HELP)
    raise KeyringUnavailable(
        f"the {choice} keyring is not usable ({reasons[0]}); {NO_KEYRING_HELP}"
    )


def cryptfile_path() -> Path:
    return locations.data_dir() / "keyring" / "credentials.cfg"


def _cryptfile_backend(passphrase: str) -> Any:
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    path = cryptfile_path()
    cost = dict(CRYPTFILE_COST)
    saved = settings.get(SETTING_CRYPTFILE) or {}
    if isinstance(saved, dict):
        cost.update({k: int(v) for k, v in saved.items() if k in CRYPTFILE_COST})
    backend = CryptFileKeyring()
    backend.file_path = str(path)
    backend.time_cost = cost["time_cost"]
    backend.memory_cost = cost["memory_cost"]
    backend.parallelism = cost["parallelism"]
    if not passphrase.strip():
        raise KeyringLocked("the encrypted keyring's passphrase must not be empty")
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with_timeout(setattr, backend, "keyring_key", passphrase, what="encrypted keyring")
    except ValueError:
        raise KeyringLocked(f"wrong passphrase for the encrypted keyring {path}") from None
    if new:
        os.chmod(path, 0o600)
        settings.update(None, **{SETTING_CRYPTFILE: cost})
    return backend


def _passphrase(passphrase: str | None, prompt: Callable[[bool], str] | None) -> str:
    if passphrase:
        return passphrase
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if prompt is not None:
        return prompt(not cryptfile_path().exists())
    raise KeyringLocked(
        f"the encrypted keyring {cryptfile_path()} needs its passphrase: "
        f"set {PASSPHRASE_ENV} or run interactively"
    )


def resolve_backend(
    choice: str | None, passphrase: str | None, prompt: Callable[[bool], str] | None
) -> Any:
    if _override is not None:
        return _override
    choice = _check_name(choice) if choice else configured_backend()
    if choice != ENCRYPTED_FILE:
        return _os_backend(choice)
    with _cache_lock:
        cached = _cached.get("cryptfile")
    if cached is not None and passphrase is None:
        return cached
    backend = _cryptfile_backend(_passphrase(passphrase, prompt))
    with _cache_lock:
        _cached["cryptfile"] = backend
    return backend


def backend_status() -> BackendStatus:
    """Which backend is configured and whether it can be used now; never prompts."""
    if _override is not None:
        name = type(_override).__name__
        return BackendStatus("override", True, name, f"using {name}", unlocked=True)
    choice = configured_backend()
    if choice == ENCRYPTED_FILE:
        path = cryptfile_path()
        with _cache_lock:
            unlocked = "cryptfile" in _cached
        exists = path.exists()
        detail = f"encrypted file {path} ({'exists' if exists else 'not created yet'})"
        if not unlocked and not os.environ.get(PASSPHRASE_ENV):
            detail += "; needs its passphrase"
        return BackendStatus(
            choice, True, str(path), detail, needs_passphrase=not unlocked, unlocked=unlocked
        )
    try:
        backend = _os_backend(choice)
    except YunpipeError as exc:
        return BackendStatus(choice, False, "", str(exc))
    label = backend_label(backend)
    return BackendStatus(choice, True, label, f"OS keyring: {label}", unlocked=False)


def backend_label(backend: Any) -> str:
    cls = type(backend)
    for name, (module, class_name) in OS_BACKENDS.items():
        if cls.__module__ == module and cls.__name__ == class_name:
            return {
                "secret-service": "Secret Service",
                "kwallet": "KWallet",
                "macos": "macOS Keychain",
                "windows": "Windows Credential Locker",
            }[name]
    return getattr(backend, "name", cls.__name__)


def choose_backend(name: str) -> str:
    """Validate and remember the backend choice in yunpipe's settings; returns the name."""
    name = _check_name(name)
    if name not in (AUTO, ENCRYPTED_FILE):
        _os_backend(name)  # fails now, with the way forward, rather than at first use
    if name != configured_backend():
        with _cache_lock:
            _cached.clear()
    settings.update(None, **{SETTING_BACKEND: name})
    return name
