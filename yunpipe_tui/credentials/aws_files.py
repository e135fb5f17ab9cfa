"""The AWS CLI's own files: where ~/.aws/credentials and ~/.aws/config are, reading them, and
pointing a profile in ~/.aws/config at `yunpipe creds export` (one non-secret line)."""

from __future__ import annotations

import configparser
import os
import re
import sys
from pathlib import Path

from yunpipe_tui.credentials.store import check_profile_name
from yunpipe_tui.errors import InputError


def aws_credentials_file() -> Path:
    env = os.environ.get("AWS_SHARED_CREDENTIALS_FILE")
    return Path(env).expanduser() if env else Path.home() / ".aws" / "credentials"


def aws_config_file() -> Path:
    env = os.environ.get("AWS_CONFIG_FILE")
    return Path(env).expanduser() if env else Path.home() / ".aws" / "config"


def read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse: {type(exc).__name__}", file=str(path)) from None
    return parser


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
