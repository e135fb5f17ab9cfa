"""`yunpipe serve [--host H] [--port N]`: the wizard in a web browser (textual-serve)."""

from __future__ import annotations

import click

from yunpipe_tui.commands.options import Options, pass_options
from yunpipe_tui.errors import EXIT_OK, EXIT_USAGE

INSTALL_HINT = (
    "`yunpipe serve` needs the optional textual-serve package; install it with "
    "`pip install 'yunpipe-tui[serve]'` (or `pip install textual-serve`)"
)


@click.command("serve", short_help="Serve the wizard to a web browser.")
@click.option("--host", default="localhost", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@pass_options
def command(options: Options, host: str, port: int) -> int:
    """Serve the wizard over HTTP with textual-serve; each browser tab gets its own wizard.

    It listens on localhost by default. Anyone who can open the page acts with your AWS
    credentials: to reach it from elsewhere, tunnel it (`ssh -L 8000:localhost:8000 host`)
    rather than listening on a public address.
    """
    from yunpipe_tui.tui_serve import (
        ServeUnavailable,
        serve_available,
        serve_wizard,
        wizard_command,
    )

    if not serve_available():
        click.echo(f"error: {INSTALL_HINT}", err=True)
        return EXIT_USAGE
    click.echo(f"Serving the yunpipe wizard at http://{host}:{port} (ctrl+c stops)", err=True)
    try:
        serve_wizard(wizard_command(options.profile, options.region), host, port)
    except ServeUnavailable:
        click.echo(f"error: {INSTALL_HINT}", err=True)
        return EXIT_USAGE
    return EXIT_OK
