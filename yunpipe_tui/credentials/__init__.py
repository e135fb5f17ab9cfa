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

The rooms: `model` (layout, stored values, errors), `keyring_calls` (timeouts, error
translation), `backends` (which keyring; the encrypted file), `store` (entries and profiles),
`aws_files` (~/.aws/credentials and ~/.aws/config), `migrate` (out of plaintext) and `provider`
(botocore's credential chain). Tunables such as `backends.CRYPTFILE_COST` are patched where they
live, not here.
"""

from __future__ import annotations

from yunpipe_tui.credentials.aws_files import (
    aws_config_file,
    aws_credentials_file,
    link_profile,
    process_command,
    yunpipe_executable,
)
from yunpipe_tui.credentials.backends import (
    AUTO,
    BACKEND_NAMES,
    ENCRYPTED_FILE,
    OS_BACKENDS,
    backend_status,
    choose_backend,
    configured_backend,
    cryptfile_path,
    is_plaintext,
    set_backend_override,
)
from yunpipe_tui.credentials.keyring_calls import keyring_timeout
from yunpipe_tui.credentials.migrate import (
    PlaintextSource,
    delete_plaintext,
    find_plaintext,
    migrate,
)
from yunpipe_tui.credentials.model import (
    NO_KEYRING_HELP,
    PASSPHRASE_ENV,
    BackendStatus,
    Identity,
    KeyringLocked,
    KeyringUnavailable,
    ProfileInfo,
    StoredCredentials,
    mask,
)
from yunpipe_tui.credentials.provider import install_provider, set_interactive
from yunpipe_tui.credentials.store import (
    Store,
    check_profile_name,
    delete_profile,
    export_process_json,
    get_profile,
    get_task_credentials,
    has_profile,
    list_profiles,
    open_store,
    service_for,
    set_profile,
    set_task_credentials,
    test_profile,
)

__all__ = [
    "AUTO",
    "BACKEND_NAMES",
    "ENCRYPTED_FILE",
    "NO_KEYRING_HELP",
    "OS_BACKENDS",
    "PASSPHRASE_ENV",
    "BackendStatus",
    "Identity",
    "KeyringLocked",
    "KeyringUnavailable",
    "PlaintextSource",
    "ProfileInfo",
    "Store",
    "StoredCredentials",
    "aws_config_file",
    "aws_credentials_file",
    "backend_status",
    "check_profile_name",
    "choose_backend",
    "configured_backend",
    "cryptfile_path",
    "delete_plaintext",
    "delete_profile",
    "export_process_json",
    "find_plaintext",
    "get_profile",
    "get_task_credentials",
    "has_profile",
    "install_provider",
    "is_plaintext",
    "keyring_timeout",
    "link_profile",
    "list_profiles",
    "mask",
    "migrate",
    "open_store",
    "process_command",
    "service_for",
    "set_backend_override",
    "set_interactive",
    "set_profile",
    "set_task_credentials",
    "test_profile",
    "yunpipe_executable",
]
