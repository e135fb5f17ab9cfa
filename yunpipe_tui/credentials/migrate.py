"""Moving keys out of plaintext: find them (the seed's `~/.yunpipe/task`, profiles in
~/.aws/credentials), copy them into the keyring and verify, then delete only what was moved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from yunpipe_tui import locations
from yunpipe_tui.credentials.aws_files import aws_config_file, aws_credentials_file, read_ini
from yunpipe_tui.credentials.model import (
    ACCESS_KEY_ITEM,
    REGION_ITEM,
    SECRET_KEY_ITEM,
    TOKEN_ITEM,
    StoredCredentials,
    mask,
)
from yunpipe_tui.credentials.store import Store, open_store, set_profile, set_task_credentials
from yunpipe_tui.errors import YunpipeError


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


def find_plaintext(aws_profiles: bool = True) -> list[PlaintextSource]:
    """The seed's `~/.yunpipe/task` and `~/.cloud_pipe/task` ([default] with aws_access_key_id,
    aws_secret_access_key, region, output) and, when asked, keys in ~/.aws/credentials."""
    found: list[PlaintextSource] = []
    for folder in reversed(locations.legacy_dirs()):  # ~/.yunpipe first
        path = folder / "task"
        if not path.is_file():
            continue
        parser = read_ini(path)
        for section in parser.sections():
            key = parser.get(section, ACCESS_KEY_ITEM, fallback="")
            if key and parser.get(section, SECRET_KEY_ITEM, fallback=""):
                found.append(PlaintextSource("task", path, section, mask(key)))
    path = aws_credentials_file()
    if aws_profiles and path.is_file():
        parser = read_ini(path)
        for section in parser.sections():
            key = parser.get(section, ACCESS_KEY_ITEM, fallback="")
            if key and parser.get(section, SECRET_KEY_ITEM, fallback=""):
                found.append(PlaintextSource("aws-profile", path, section, mask(key)))
    return found


def _read_source(source: PlaintextSource) -> StoredCredentials:
    parser = read_ini(source.path)
    if not parser.has_section(source.section):
        raise YunpipeError(f"{source.label}: the section is gone")
    sec = parser[source.section]
    region = sec.get(REGION_ITEM) or None
    if source.kind == "aws-profile" and region is None:
        cfg = read_ini(aws_config_file())
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
        parser = read_ini(source.path)
        others = [s for s in parser.sections() if s != source.section]
        if not others:
            source.path.unlink(missing_ok=True)
            return
    text = source.path.read_text(encoding="utf-8")
    mode = source.path.stat().st_mode & 0o777
    write_atomic(source.path, _without_section(text, source.section), mode=mode)
