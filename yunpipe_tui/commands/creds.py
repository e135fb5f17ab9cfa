"""`yunpipe creds set/show/list/delete/export/link/migrate`: AWS keys in the OS keyring."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from yunpipe_tui.errors import EXIT_FAILED, EXIT_OK, InputError

PROFILE_HELP = "Profile name (default: the global --profile, AWS_PROFILE, or 'default')."


def _profile(ctx: click.Context, profile: str | None) -> str:
    from yunpipe_tui.commands.options import Options
    from yunpipe_tui.credentials import check_profile_name

    if not profile:
        options = ctx.find_object(Options)
        profile = (options.profile if options else None) or "default"
    return check_profile_name(profile)


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _passphrase_prompt(new: bool) -> str:
    """Hidden prompt on the terminal itself (getpass uses /dev/tty), so it also works when
    stdout/stderr are captured, e.g. under an SDK's credential_process."""
    import getpass

    from yunpipe_tui.credentials import cryptfile_path

    what = "a new passphrase" if new else "the passphrase"
    question = f"Enter {what} for the encrypted keyring {cryptfile_path()}: "
    while True:
        first = getpass.getpass(question)
        if not new:
            return first
        if not first.strip():
            click.echo("the passphrase must not be empty", err=True)
            continue
        if getpass.getpass("Repeat it: ") == first:
            return first
        click.echo("the two entries differ; try again", err=True)


def _store(backend: str | None = None) -> Any:
    from yunpipe_tui.credentials import open_store

    return open_store(backend, prompt=_passphrase_prompt if _interactive() else None)


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not _interactive():
        raise InputError("this asks for confirmation; pass --yes when not in a terminal", "--yes")
    import questionary

    return bool(questionary.confirm(question, default=False).ask())


@click.group("creds", short_help="Keep AWS keys in the OS keyring instead of plaintext files.")
def command() -> None:
    """Keep AWS keys in the OS keyring (or an encrypted file you opt into), never in plaintext.

    yunpipe's AWS sessions read a profile's keys from the keyring automatically; `creds link`
    lets the AWS CLI and other SDKs use them through `credential_process`.
    """


@command.command("set")
@click.option("--profile", "profile", help=PROFILE_HELP)
@click.option(
    "--backend",
    type=click.Choice(["auto", "secret-service", "kwallet", "macos", "windows", "encrypted-file"]),
    help="Keyring backend to use from now on (kept in yunpipe's settings).",
)
@click.option("--access-key-id", "access_key_id", help="The access key id (not secret).")
@click.option(
    "--secret-access-key-stdin",
    "secret_stdin",
    is_flag=True,
    help="Read the secret access key from stdin (first line; an optional second line is a "
    "session token) instead of a hidden prompt.",
)
@click.option("--session-token", "ask_token", is_flag=True, help="Also ask for a session token.")
@click.option("--region", "region", help="Region to remember with the profile.")
@click.option("--test", "test", is_flag=True, help="Check the keys with sts:GetCallerIdentity.")
@click.pass_context
def set_command(
    ctx: click.Context,
    profile: str | None,
    backend: str | None,
    access_key_id: str | None,
    secret_stdin: bool,
    ask_token: bool,
    region: str | None,
    test: bool,
) -> int:
    """Store a profile's keys. The secret comes from a hidden prompt or stdin, never an argument."""
    from yunpipe_tui import credentials as cr

    name = _profile(ctx, profile)
    if backend:
        cr.choose_backend(backend)
    store = _store()
    token = None
    if not access_key_id:
        if not _interactive():
            raise InputError("pass --access-key-id when not in a terminal", "--access-key-id")
        access_key_id = click.prompt("AWS access key id", err=True).strip()
    if secret_stdin:
        lines = sys.stdin.read().splitlines()
        secret = lines[0].strip() if lines else ""
        token = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    else:
        if not _interactive():
            raise InputError(
                "no terminal for the hidden prompt; pipe the secret with --secret-access-key-stdin",
                "secret access key",
            )
        secret = click.prompt("AWS secret access key", hide_input=True, err=True)
        if ask_token:
            token = click.prompt("AWS session token", hide_input=True, err=True) or None
    creds = cr.set_profile(name, access_key_id, secret, token, region, store=store)
    click.echo(f"stored {creds.masked} for profile {name!r} in {store.label}")
    if test:
        ident = cr.test_profile(name, store)
        click.echo(f"verified: account {ident.account} as {ident.arn}")
    return EXIT_OK


def _backend_line() -> str:
    from yunpipe_tui.credentials import backend_status

    status = backend_status()
    return f"backend: {status.choice} - {status.detail}"


@command.command("show")
@click.option("--profile", "profile", help=PROFILE_HELP)
@click.option("--check", is_flag=True, help="Read the entry from the keyring (may unlock it).")
@click.pass_context
def show_command(ctx: click.Context, profile: str | None, check: bool) -> int:
    """Show what is stored for a profile, masked (`AKIA…MPLE`)."""
    from yunpipe_tui import credentials as cr

    name = _profile(ctx, profile)
    info = next((p for p in cr.list_profiles() if p.profile == name), None)
    if info is None:
        click.echo(f"no keys stored for profile {name!r}", err=True)
        return EXIT_FAILED
    click.echo(f"profile:       {name}")
    click.echo(f"access key:    {info.access_key}")
    click.echo("secret key:    (stored, hidden)")
    click.echo(f"session token: {'yes' if info.session_token else 'no'}")
    click.echo(f"region:        {info.region or '-'}")
    if check:
        creds = cr.get_profile(name, _store())
        click.echo("keyring:       " + ("entry present" if creds else "ENTRY MISSING"))
        if creds is None:
            return EXIT_FAILED
    click.echo(_backend_line())
    return EXIT_OK


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (nothing secret).")
def list_command(as_json: bool) -> int:
    """The backend in use and every stored profile (masked; no keyring unlock needed)."""
    from dataclasses import asdict

    from yunpipe_tui import credentials as cr

    profiles = cr.list_profiles()
    if as_json:
        status = cr.backend_status()
        click.echo(
            json.dumps(
                {"backend": asdict(status), "profiles": [asdict(p) for p in profiles]}, indent=2
            )
        )
        return EXIT_OK
    click.echo(_backend_line())
    if not profiles:
        click.echo("no profiles stored; add one with `yunpipe creds set`")
    for p in profiles:
        extra = " +token" if p.session_token else ""
        click.echo(f"  {p.profile:20} {p.access_key}{extra}  {p.region or ''}".rstrip())
    return EXIT_OK


@command.command("delete")
@click.option("--profile", "profile", help=PROFILE_HELP)
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@click.pass_context
def delete_command(ctx: click.Context, profile: str | None, yes: bool) -> int:
    """Delete a profile's keys from the keyring."""
    from yunpipe_tui import credentials as cr

    name = _profile(ctx, profile)
    if not _confirm(f"Delete the stored keys of profile {name!r}?", yes):
        click.echo("kept", err=True)
        return EXIT_FAILED
    found = cr.delete_profile(name, _store())
    click.echo(f"deleted profile {name!r}" if found else f"nothing stored for profile {name!r}")
    return EXIT_OK


@command.command("export")
@click.option("--profile", "profile", required=True, help="The profile to export.")
def export_command(profile: str) -> int:
    """Print the profile's keys as `credential_process` JSON on stdout (for the AWS SDKs)."""
    from yunpipe_tui import credentials as cr

    data = cr.export_process_json(cr.check_profile_name(profile), _store())
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()
    return EXIT_OK


@command.command("link")
@click.option("--profile", "profile", required=True, help="The profile to link.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
def link_command(profile: str, yes: bool) -> int:
    """Add `credential_process = <yunpipe> creds export --profile P` to ~/.aws/config, so the
    AWS CLI and SDKs read this profile's keys from the keyring. Nothing secret is written."""
    from yunpipe_tui import credentials as cr

    cr.check_profile_name(profile)
    path = cr.aws_config_file()
    line = f"credential_process = {cr.process_command(profile)}"
    if not cr.has_profile(profile):
        click.echo(f"note: no keys stored for {profile!r} yet; run `yunpipe creds set`", err=True)
    click.echo(f"{path}: profile {profile}\n  {line}")
    if not _confirm(f"Write this line into {path}?", yes):
        click.echo("not written", err=True)
        return EXIT_FAILED
    written, _ = cr.link_profile(profile)
    click.echo(f"linked profile {profile!r} in {written}")
    return EXIT_OK


@command.command("migrate")
@click.option(
    "--aws-profile",
    "aws_profiles",
    multiple=True,
    help="Also move this profile's keys out of ~/.aws/credentials (repeatable).",
)
@click.option("--to-profile", help="Keyring profile for a single --aws-profile (default: same).")
@click.option("--keep-plaintext", is_flag=True, help="Do not delete the plaintext after copying.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
def migrate_command(
    aws_profiles: tuple[str, ...], to_profile: str | None, keep_plaintext: bool, yes: bool
) -> int:
    """Move the seed's plaintext `~/.yunpipe/task` / `~/.cloud_pipe/task` (and, when asked,
    profiles in ~/.aws/credentials) into the keyring, verify the copy, then offer to delete
    the plaintext."""
    from yunpipe_tui import credentials as cr

    if to_profile and len(aws_profiles) != 1:
        raise InputError("--to-profile needs exactly one --aws-profile", "--to-profile")
    sources = [
        s
        for s in cr.find_plaintext(aws_profiles=bool(aws_profiles))
        if s.kind == "task" or s.section in aws_profiles
    ]
    missing = set(aws_profiles) - {s.section for s in sources if s.kind == "aws-profile"}
    if missing:
        raise InputError(
            f"no keys for profile(s) {', '.join(sorted(missing))} in {cr.aws_credentials_file()}",
            "--aws-profile",
        )
    if not sources:
        click.echo("nothing to migrate: no plaintext keys found")
        return EXIT_OK
    store = _store()
    moved = []
    for source in sources:
        if not _confirm(f"Copy {source.label} ({source.access_key}) into {store.label}?", yes):
            continue
        target = cr.migrate(source, to_profile if source.kind == "aws-profile" else None, store)
        click.echo(f"copied {source.label} to {target} (verified)")
        moved.append(source)
    for source in moved:
        if keep_plaintext:
            click.echo(f"kept the plaintext in {source.path}")
            continue
        if _confirm(f"Delete the plaintext keys of {source.label}?", yes):
            cr.delete_plaintext(source)
            click.echo(f"deleted the plaintext keys of {source.label}")
    return EXIT_OK
