"""Messages the wizard's workers post to their screens (Toolong's style: small dataclasses).

Workers never touch widgets: they compute in a thread and post one of these; a handler on the
screen (main thread) owns the state and redraws. Payloads are plain data from the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass(frozen=True)
class Identity:
    """Who and where the wizard talks to AWS as."""

    account: str
    arn: str
    profile: str
    region: str
    sandbox: bool = False

    @property
    def principal(self) -> str:
        """`user/alice` or `assumed-role/Admin/session`: the readable tail of the ARN."""
        return self.arn.split(":", 5)[-1] if self.arn.count(":") >= 5 else self.arn


@dataclass
class IdentityLoaded(Message):
    identity: Identity


@dataclass
class IdentityFailed(Message):
    error: str
    profile: str = ""
    region: str = ""


@dataclass
class ChecksLoaded(Message):
    """A doctor run finished; `checks` are yunpipe_tui.doctor CheckResult objects; `note`
    says which workflow's checks were included."""

    checks: list[Any]
    note: str = ""


@dataclass
class FixApplied(Message):
    check_ids: list[str]
    results: list[str] = field(default_factory=list)


@dataclass
class PipelinesLoaded(Message):
    """Deployed pipelines read from the journals: dicts with name, steps, state, updated; and
    one note per damaged record or record of another account or endpoint."""

    pipelines: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


@dataclass
class KeyPairsLoaded(Message):
    region: str
    names: list[str]


@dataclass
class AccountLoaded(Message):
    """The caller's account id, asked for by the Workflow form's "Mine" button."""

    account: str


@dataclass
class CatalogLoaded(Message):
    """Algorithms of the local catalog (yunpipe_tui.catalog.Algorithm objects)."""

    algorithms: list[Any]


@dataclass
class CredentialsLoaded(Message):
    """The credential store's state, nothing secret: yunpipe_tui.credentials' BackendStatus,
    ProfileInfo list (masked keys) and PlaintextSource list (files that could be migrated)."""

    status: Any
    profiles: list[Any]
    plaintext: list[Any] = field(default_factory=list)


@dataclass
class CredentialSaved(Message):
    profile: str


@dataclass
class CredentialsMigrated(Message):
    """A plaintext source was copied into the keyring (`source` is a PlaintextSource)."""

    source: Any
    where: str


@dataclass
class CredentialChanged(Message):
    """The keyring changed (unlocked, backend chosen, profile deleted, plaintext deleted)."""

    what: str


@dataclass
class ProfileTested(Message):
    profile: str
    ok: bool
    detail: str
