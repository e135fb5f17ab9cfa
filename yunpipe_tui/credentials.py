"""AWS keys in the OS keyring instead of plaintext files.

Layout: service `yunpipe:<profile>` with the items `aws_access_key_id`, `aws_secret_access_key`,
`aws_session_token` (optional) and `region` (optional); the seed's task credentials (the
plaintext `~/.yunpipe/task`) go to service `yunpipe-task:default` (migration and `-uu` only).

Backends: a usable OS keyring (Secret Service, KWallet, macOS Keychain, Windows Credential
Locker), or - only when the user opts in - an encrypted file (keyrings.cryptfile, Argon2id + AES
GCM) whose passphrase comes from a hidden prompt or `YUNPIPE_KEYRING_PASSPHRASE`. Never a
plaintext backend, and never keyring's own global configuration: the choice lives in yunpipe's
settings. Keyring calls run with a timeout, since an unlock prompt can block forever.

yunpipe's settings keep a non-secret index of stored profiles (masked key id, region), so that
`install_provider` - called for every AWS session - touches the keyring only for a profile that
has an entry, and lists need no unlock.

Core API (no prompts unless a prompt callable is passed): `backend_status`, `choose_backend`,
`open_store`, `list_profiles`, `get_profile`, `set_profile`, `delete_profile`, `test_profile`,
`find_plaintext`, `migrate`, `delete_plaintext`, `export_process_json`, `link_profile`,
`install_provider`.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yunpipe_tui import locations, settings
from yunpipe_tui.errors import InputError, YunpipeError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

SERVICE_PREFIX = "yunpipe:"
TASK_SERVICE = "yunpipe-task:default"
ACCESS_KEY_ITEM = "aws_access_key_id"
SECRET_KEY_ITEM = "aws_secret_access_key"
TOKEN_ITEM = "aws_session_token"
REGION_ITEM = "region"
ITEMS = (ACCESS_KEY_ITEM, SECRET_KEY_ITEM, TOKEN_ITEM, REGION_ITEM)

PASSPHRASE_ENV = "YUNPIPE_KEYRING_PASSPHRASE"
TIMEOUT_ENV = "YUNPIPE_KEYRING_TIMEOUT"
DEFAULT_TIMEOUT = 30.0
PROVIDER_METHOD = "yunpipe-keyring"

SETTING_BACKEND = "keyring_backend"
SETTING_INDEX = "keyring_profiles"
SETTING_TASK = "keyring_task"
SETTING_CRYPTFILE = "encrypted_file"

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

NO_KEYRING_HELP = (
    "no usable OS keyring (no Secret Service on D-Bus, KWallet, macOS Keychain or Windows "
    "Credential Locker). Either run a Secret Service, e.g. "
    "`dbus-run-session -- sh -c "
    "'gnome-keyring-daemon --unlock --components=secrets; exec \"$SHELL\"'` "
    "(type the keyring password, then Ctrl-D), or keep the keys in an encrypted file: "
    "`yunpipe creds set --backend encrypted-file` (passphrase from a hidden prompt or "
    f"{PASSPHRASE_ENV})"
)


class KeyringUnavailable(YunpipeError):
    """No usable keyring backend; the message names the two ways forward."""


class KeyringLocked(YunpipeError):
    """The keyring needs a passphrase, refused it, or did not answer in time."""


# --------------------------------------------------------------------------- small values


def mask(value: str | None) -> str:
    """`AKIAIOSFODNN7EXAMPLE` -> `AKIA…MPLE`; short values are hidden completely."""
    if not value:
        return ""
    if len(value) < 12:
        return "…"
    return f"{value[:4]}…{value[-4:]}"


@dataclass(frozen=True)
class StoredCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str | None = None

    @property
    def masked(self) -> str:
        return mask(self.access_key_id)

    def process_json(self) -> dict[str, Any]:
        """The `credential_process` output format."""
        out: dict[str, Any] = {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
        }
        if self.session_token:
            out["SessionToken"] = self.session_token
        return out


@dataclass(frozen=True)
class ProfileInfo:
    """What may be shown about a stored profile: nothing secret."""

    profile: str
    access_key: str  # masked
    region: str | None
    session_token: bool


@dataclass(frozen=True)
class BackendStatus:
    choice: str  # the setting: auto, secret-service, ..., encrypted-file
    usable: bool
    backend: str  # what is in use, e.g. "Secret Service" or the encrypted file's path
    detail: str
    needs_passphrase: bool = False
    unlocked: bool = False


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str


# --------------------------------------------------------------------------- timeouts


def keyring_timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, "") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT


def _with_timeout(fn: Callable[..., Any], *args: Any, what: str = "keyring") -> Any:
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


# --------------------------------------------------------------------------- backends

_override: KeyringBackend | None = None
_cache_lock = threading.Lock()
_cached: dict[str, Any] = {}  # "cryptfile" -> an unlocked encrypted-file backend
_interactive = True


def set_backend_override(backend: KeyringBackend | None) -> None:
    """Use this backend instead of the configured one (tests; an embedding app)."""
    global _override
    _override = backend
    with _cache_lock:
        _cached.clear()


def set_interactive(allowed: bool) -> None:
    """Whether the AWS credential provider may prompt for the encrypted file's passphrase on the
    terminal (the TUI turns this off and unlocks through `open_store(passphrase=...)`)."""
    global _interactive
    _interactive = allowed


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
        _with_timeout(lambda: cls.priority, what=f"{name} keyring")
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
        _with_timeout(setattr, backend, "keyring_key", passphrase, what="encrypted keyring")
    except ValueError:
        raise KeyringLocked(f"wrong passphrase for the encrypted keyring {path}") from None
    if new:
        os.chmod(path, 0o600)
        settings.update(**{SETTING_CRYPTFILE: cost})
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


def _resolve(
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
    label = _label(backend)
    return BackendStatus(choice, True, label, f"OS keyring: {label}", unlocked=False)


def _label(backend: Any) -> str:
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
    settings.update(**{SETTING_BACKEND: name})
    return name


# --------------------------------------------------------------------------- the store


class Store:
    """yunpipe's entries in one keyring backend. Every call runs with a timeout."""

    def __init__(self, backend: Any) -> None:
        if is_plaintext(backend):
            raise KeyringUnavailable(
                f"refusing the plaintext keyring backend {type(backend).__name__}; "
                + NO_KEYRING_HELP
            )
        self.backend = backend

    @property
    def label(self) -> str:
        if type(self.backend).__name__ == "CryptFileKeyring":
            return f"encrypted file {self.backend.file_path}"
        return _label(self.backend)

    def _get(self, service: str, item: str) -> str | None:
        return _with_timeout(self.backend.get_password, service, item)

    def _set(self, service: str, item: str, value: str) -> None:
        _with_timeout(self.backend.set_password, service, item, value)

    def _delete(self, service: str, item: str) -> bool:
        try:
            _with_timeout(self.backend.delete_password, service, item)
        except Exception as exc:
            from keyring.errors import PasswordDeleteError

            if isinstance(exc, PasswordDeleteError) or "not found" in str(exc).lower():
                return False
            raise
        return True

    def read(self, service: str) -> StoredCredentials | None:
        key_id = self._get(service, ACCESS_KEY_ITEM)
        secret = self._get(service, SECRET_KEY_ITEM)
        if not key_id or not secret:
            return None
        return StoredCredentials(
            access_key_id=key_id,
            secret_access_key=secret,
            session_token=self._get(service, TOKEN_ITEM) or None,
            region=self._get(service, REGION_ITEM) or None,
        )

    def write(self, service: str, creds: StoredCredentials) -> None:
        self._set(service, ACCESS_KEY_ITEM, creds.access_key_id)
        self._set(service, SECRET_KEY_ITEM, creds.secret_access_key)
        for item, value in ((TOKEN_ITEM, creds.session_token), (REGION_ITEM, creds.region)):
            if value:
                self._set(service, item, value)
            elif self._get(service, item) is not None:
                self._delete(service, item)

    def remove(self, service: str) -> bool:
        found = False
        for item in ITEMS:
            found = self._delete(service, item) or found
        return found


def service_for(profile: str) -> str:
    return f"{SERVICE_PREFIX}{profile}"


def open_store(
    backend: str | None = None,
    passphrase: str | None = None,
    prompt: Callable[[bool], str] | None = None,
) -> Store:
    """The store on the configured backend (or `backend`). For the encrypted file the
    passphrase comes from the argument, YUNPIPE_KEYRING_PASSPHRASE, or `prompt(new_file)`;
    with none of them it raises KeyringLocked rather than prompting."""
    return Store(_resolve(backend, passphrase, prompt))


_PROFILE_RE = re.compile(r"^[A-Za-z0-9_.@+=,-]{1,64}$")


def check_profile_name(profile: str) -> str:
    if not _PROFILE_RE.match(profile or ""):
        raise InputError(
            f"invalid profile name {profile!r}: use letters, digits and _ . @ + = , -",
            file="--profile",
        )
    return profile


def _index() -> dict[str, dict[str, Any]]:
    data = settings.get(SETTING_INDEX) or {}
    return data if isinstance(data, dict) else {}


def list_profiles() -> list[ProfileInfo]:
    """Stored profiles, from the non-secret index (no keyring access, no unlock)."""
    return [
        ProfileInfo(
            profile=name,
            access_key=str(entry.get("access_key", "")),
            region=entry.get("region") or None,
            session_token=bool(entry.get("session_token")),
        )
        for name, entry in sorted(_index().items())
        if isinstance(entry, dict)
    ]


def has_profile(profile: str) -> bool:
    return profile in _index()


def get_profile(profile: str, store: Store | None = None) -> StoredCredentials | None:
    store = store or open_store()
    return store.read(service_for(check_profile_name(profile)))


def set_profile(
    profile: str,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None = None,
    region: str | None = None,
    store: Store | None = None,
) -> StoredCredentials:
    """Store (and read back to verify) one profile's keys; updates the index."""
    check_profile_name(profile)
    access_key_id = access_key_id.strip()
    secret_access_key = secret_access_key.strip()
    if not re.fullmatch(r"[A-Z0-9]{16,128}", access_key_id):
        raise InputError(
            "the access key id should be 16-128 capital letters and digits (e.g. AKIA...)",
            file="--access-key-id",
        )
    if not secret_access_key:
        raise InputError("the secret access key is empty", file="secret access key")
    creds = StoredCredentials(
        access_key_id, secret_access_key, (session_token or "").strip() or None, region or None
    )
    store = store or open_store()
    service = service_for(profile)
    store.write(service, creds)
    if store.read(service) != creds:
        raise YunpipeError(
            f"the keyring did not return what was stored for profile {profile!r}; "
            "check the keyring backend"
        )

    def add(data: dict[str, Any]) -> None:
        index = data.setdefault(SETTING_INDEX, {})
        index[profile] = {
            "access_key": creds.masked,
            "region": creds.region,
            "session_token": bool(creds.session_token),
        }

    settings.update(add)
    return creds


def delete_profile(profile: str, store: Store | None = None) -> bool:
    check_profile_name(profile)
    store = store or open_store()
    found = store.remove(service_for(profile))

    def drop(data: dict[str, Any]) -> None:
        (data.get(SETTING_INDEX) or {}).pop(profile, None)

    settings.update(drop)
    return found


def get_task_credentials(store: Store | None = None) -> StoredCredentials | None:
    """The seed's task credentials, migrated (only for migration and `-uu`)."""
    store = store or open_store()
    return store.read(TASK_SERVICE)


def set_task_credentials(creds: StoredCredentials, store: Store | None = None) -> None:
    store = store or open_store()
    store.write(TASK_SERVICE, creds)
    if store.read(TASK_SERVICE) != creds:
        raise YunpipeError("the keyring did not return the task credentials that were stored")
    settings.update(**{SETTING_TASK: {"access_key": creds.masked, "region": creds.region}})


def export_process_json(profile: str, store: Store | None = None) -> dict[str, Any]:
    creds = get_profile(profile, store)
    if creds is None:
        raise YunpipeError(
            f"no keys for profile {profile!r} in the keyring; run `yunpipe creds set --profile "
            f"{profile}`"
        )
    return creds.process_json()


def test_profile(
    profile: str, store: Store | None = None, endpoint_url: str | None = None
) -> Identity:
    """Call sts:GetCallerIdentity with exactly the stored keys of `profile`."""
    import boto3

    from yunpipe_tui.aws import AwsContext, error_message

    creds = get_profile(profile, store)
    if creds is None:
        raise YunpipeError(f"no keys for profile {profile!r} in the keyring")
    session = boto3.Session(
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        region_name=creds.region or os.environ.get("AWS_REGION") or None,
    )
    ctx = AwsContext.from_session(
        session,
        endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
        max_attempts=2,
    )
    try:
        ident = ctx.client("sts").get_caller_identity()
    except Exception as exc:
        raise YunpipeError(f"profile {profile!r}: {error_message(exc)}") from None
    return Identity(account=ident["Account"], arn=ident["Arn"])


# --------------------------------------------------------------------------- plaintext files


@dataclass(frozen=True)
class PlaintextSource:
    """Somewhere keys sit in plaintext: the seed's task file or a profile in an AWS file."""

    kind: str  # "task" or "aws-profile"
    path: Path
    section: str
    access_key: str  # masked

    @property
    def label(self) -> str:
        if self.kind == "task":
            return f"seed task credentials in {self.path}"
        return f"profile [{self.section}] in {self.path}"


def aws_credentials_file() -> Path:
    env = os.environ.get("AWS_SHARED_CREDENTIALS_FILE")
    return Path(env).expanduser() if env else Path.home() / ".aws" / "credentials"


def aws_config_file() -> Path:
    env = os.environ.get("AWS_CONFIG_FILE")
    return Path(env).expanduser() if env else Path.home() / ".aws" / "config"


def _read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse: {type(exc).__name__}", file=str(path)) from None
    return parser


def find_plaintext(aws_profiles: bool = True) -> list[PlaintextSource]:
    """The seed's `~/.yunpipe/task` and `~/.cloud_pipe/task` ([default] with aws_access_key_id,
    aws_secret_access_key, region, output) and, when asked, keys in ~/.aws/credentials."""
    found: list[PlaintextSource] = []
    for folder in reversed(locations.legacy_dirs()):  # ~/.yunpipe first
        path = folder / "task"
        if not path.is_file():
            continue
        parser = _read_ini(path)
        for section in parser.sections():
            key = parser.get(section, ACCESS_KEY_ITEM, fallback="")
            if key and parser.get(section, SECRET_KEY_ITEM, fallback=""):
                found.append(PlaintextSource("task", path, section, mask(key)))
    path = aws_credentials_file()
    if aws_profiles and path.is_file():
        parser = _read_ini(path)
        for section in parser.sections():
            key = parser.get(section, ACCESS_KEY_ITEM, fallback="")
            if key and parser.get(section, SECRET_KEY_ITEM, fallback=""):
                found.append(PlaintextSource("aws-profile", path, section, mask(key)))
    return found


def _read_source(source: PlaintextSource) -> StoredCredentials:
    parser = _read_ini(source.path)
    if not parser.has_section(source.section):
        raise YunpipeError(f"{source.label}: the section is gone")
    sec = parser[source.section]
    region = sec.get(REGION_ITEM) or None
    if source.kind == "aws-profile" and region is None:
        cfg = _read_ini(aws_config_file())
        name = "default" if source.section == "default" else f"profile {source.section}"
        region = cfg.get(name, "region", fallback=None) if cfg.has_section(name) else None
    return StoredCredentials(
        access_key_id=(sec.get(ACCESS_KEY_ITEM) or "").strip(),
        secret_access_key=(sec.get(SECRET_KEY_ITEM) or "").strip(),
        session_token=(sec.get(TOKEN_ITEM) or "").strip() or None,
        region=region,
    )


def migrate(source: PlaintextSource, profile: str | None = None, store: Store | None = None) -> str:
    """Copy plaintext keys into the keyring and verify the copy; returns where they went.

    Task credentials go to the task entry; an AWS profile to `yunpipe:<profile>` (default: the
    section's name). The plaintext stays until `delete_plaintext` is called.
    """
    creds = _read_source(source)
    if not creds.access_key_id or not creds.secret_access_key:
        raise YunpipeError(f"{source.label}: no complete key pair to migrate")
    store = store or open_store()
    if source.kind == "task":
        set_task_credentials(creds, store)
        return "the task credentials entry"
    target = profile or source.section
    set_profile(
        target,
        creds.access_key_id,
        creds.secret_access_key,
        creds.session_token,
        creds.region,
        store=store,
    )
    return f"profile {target!r}"


def _without_section(text: str, section: str) -> str:
    """The INI text with one section (header and body) removed, everything else kept as is."""
    out: list[str] = []
    skipping = False
    header = re.compile(r"^\s*\[([^\]]+)\]\s*$")
    for line in text.splitlines(keepends=True):
        match = header.match(line)
        if match:
            skipping = match.group(1).strip() == section
        if not skipping:
            out.append(line)
    return "".join(out)


def delete_plaintext(source: PlaintextSource) -> None:
    """Remove migrated plaintext: the seed's task file entirely, or just the one profile's
    section from ~/.aws/credentials (other profiles and comments stay)."""
    from yunpipe_tui.jsonfile import write_atomic

    if source.kind == "task":
        parser = _read_ini(source.path)
        others = [s for s in parser.sections() if s != source.section]
        if not others:
            source.path.unlink(missing_ok=True)
            return
    text = source.path.read_text(encoding="utf-8")
    mode = source.path.stat().st_mode & 0o777
    write_atomic(source.path, _without_section(text, source.section), mode=mode)


# --------------------------------------------------------------------------- ~/.aws/config


def process_command(profile: str, executable: str | None = None) -> str:
    exe = executable or yunpipe_executable()
    quoted = f'"{exe}"' if " " in exe else exe
    return f"{quoted} creds export --profile {profile}"


def yunpipe_executable() -> str:
    """The absolute path of the `yunpipe` script beside this interpreter, else on PATH."""
    import shutil

    candidate = Path(sys.executable).parent / ("yunpipe.exe" if os.name == "nt" else "yunpipe")
    if candidate.exists():
        return str(candidate.absolute())
    found = shutil.which("yunpipe")
    if found:
        return str(Path(found).absolute())
    return str(Path(sys.argv[0]).absolute())


def link_profile(profile: str, executable: str | None = None) -> tuple[Path, str]:
    """Point `profile` in ~/.aws/config at `yunpipe creds export`: the one, non-secret line
    `credential_process = ...` is added or replaced; nothing else in the file changes."""
    from yunpipe_tui.jsonfile import write_atomic

    check_profile_name(profile)
    path = aws_config_file()
    line = f"credential_process = {process_command(profile, executable)}\n"
    header = "[default]" if profile == "default" else f"[profile {profile}]"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = text.splitlines(keepends=True)
    section_re = re.compile(r"^\s*\[([^\]]+)\]\s*$")
    start = None
    for i, raw in enumerate(lines):
        m = section_re.match(raw)
        if m and re.sub(r"\s+", " ", m.group(1).strip()) == header[1:-1]:
            start = i
            break
    if start is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        if lines and lines[-1].strip():
            lines.append("\n")
        lines += [header + "\n", line]
    else:
        end = len(lines)
        for j in range(start + 1, len(lines)):
            if section_re.match(lines[j]):
                end = j
                break
        for j in range(start + 1, end):
            if re.match(r"^\s*credential_process\s*=", lines[j]):
                lines[j] = line
                break
        else:
            lines.insert(start + 1, line)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, "".join(lines), mode=mode)
    return path, line.strip()


# --------------------------------------------------------------------------- botocore


def _provider_class() -> type:
    from botocore.credentials import CredentialProvider, Credentials

    class KeyringProvider(CredentialProvider):
        """yunpipe's keyring entry for one profile, before the shared-credentials file."""

        METHOD = PROVIDER_METHOD
        CANONICAL_NAME = PROVIDER_METHOD

        def __init__(self, profile: str) -> None:
            super().__init__()
            self.profile = profile

        def load(self) -> Credentials | None:
            try:
                store = open_store(prompt=_terminal_prompt if _interactive_ok() else None)
                creds = store.read(service_for(self.profile))
            except Exception as exc:  # a locked or missing keyring must not break sessions
                log.debug("yunpipe keyring skipped for profile %s: %s", self.profile, exc)
                return None
            if creds is None:
                return None
            return Credentials(
                creds.access_key_id,
                creds.secret_access_key,
                creds.session_token,
                method=self.METHOD,
            )

    return KeyringProvider


def _interactive_ok() -> bool:
    try:
        return _interactive and sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _terminal_prompt(new: bool) -> str:
    import getpass

    return getpass.getpass(f"Passphrase for yunpipe's encrypted keyring {cryptfile_path()}: ")


def install_provider(session: Any, profile: str | None = None) -> bool:
    """Insert yunpipe's keyring provider into a botocore session's credential chain, just before
    the shared-credentials file (environment, assume-role and SSO still come first).

    Does nothing - and touches no keyring - unless yunpipe's index has an entry for the
    profile. A keyring-only profile is also made known to botocore (with its region), so that
    `--profile NAME` works without a ~/.aws/config section. Never raises.
    """
    try:
        if profile:
            session.set_config_variable("profile", profile)
        name = profile or session.get_config_variable("profile") or "default"
        entry = _index().get(name)
        if not isinstance(entry, dict):
            return False
        profiles = session.full_config.setdefault("profiles", {})
        if name not in profiles:
            profiles[name] = {"region": entry["region"]} if entry.get("region") else {}
        elif entry.get("region") and "region" not in profiles[name]:
            profiles[name]["region"] = entry["region"]
        provider = _provider_class()(name)
        built = getattr(getattr(session, "_components", None), "_components", {})
        if "credential_provider" in built:  # the chain exists already: add to it
            _insert(built["credential_provider"], provider)
            return True

        def create_resolver() -> Any:
            # botocore's own lazy factory, plus our provider; built on first use as usual
            from botocore.credentials import create_credential_resolver

            resolver = create_credential_resolver(
                session, region_name=getattr(session, "_last_client_region_used", None)
            )
            _insert(resolver, provider)
            return resolver

        session.lazy_register_component("credential_provider", create_resolver)
        return True
    except Exception as exc:
        log.debug("yunpipe keyring provider not installed: %s", exc)
        return False


def _insert(resolver: Any, provider: Any) -> None:
    if any(getattr(p, "METHOD", "") == PROVIDER_METHOD for p in resolver.providers):
        return
    try:
        resolver.insert_before("shared-credentials-file", provider)
    except Exception as exc:  # an unusual chain: leave it as botocore built it
        log.debug("yunpipe keyring provider not inserted: %s", exc)
