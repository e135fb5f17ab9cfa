"""`yunpipe serve [--host H] [--port N]`: the wizard in a web browser (textual-serve)."""

from __future__ import annotations

import shlex
import sys

import click

from yunpipe_tui.errors import EXIT_OK, EXIT_USAGE

INSTALL_HINT = (
    "`yunpipe serve` needs the optional textual-serve package; install it with "
    "`pip install 'yunpipe-tui[serve]'` (or `pip install textual-serve`)"
)


def wizard_command(profile: str | None, region: str | None) -> str:
    """The command textual-serve runs for each browser session: this Python, this wizard."""
    parts = [sys.executable, "-m", "yunpipe_tui"]
    if profile:
        parts += ["--profile", profile]
    if region:
        parts += ["--region", region]
    return shlex.join(parts)


@click.command("serve", short_help="Serve the wizard to a web browser.")
@click.option("--host", default="localhost", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
def command(options: object, host: str, port: int) -> int:
    """Serve the wizard over HTTP with textual-serve; each browser tab gets its own wizard.

    It listens on localhost by default. Anyone who can open the page acts with your AWS
    credentials: to reach it from elsewhere, tunnel it (`ssh -L 8000:localhost:8000 host`)
    rather than listening on a public address.
    """
    try:
        from textual_serve.server import Server
    except ImportError:
        click.echo(f"error: {INSTALL_HINT}", err=True)
        return EXIT_USAGE
    profile = getattr(options, "profile", None)
    region = getattr(options, "region", None)
    click.echo(f"Serving the yunpipe wizard at http://{host}:{port} (ctrl+c stops)", err=True)
    Server(wizard_command(profile, region), host=host, port=port, title="yunpipe").serve()
    return EXIT_OK
