"""`yunpipe` without a command: the Textual wizard."""

from __future__ import annotations

import os
from typing import Any

from yunpipe_tui.commands.options import Options
from yunpipe_tui.errors import EXIT_OK, EXIT_USAGE


def can_run_full_screen() -> bool:
    """A terminal on both ends, or a Textual driver chosen for us (textual-serve's web driver)."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return True
    from yunpipe_tui.terminal import interactive

    return interactive()


def run_wizard(options: Options, **kwargs: Any) -> int:
    """Run the wizard with the global options' AwsContext; `kwargs` go to `make_app`."""
    import click

    if not can_run_full_screen():
        click.echo(
            "error: the wizard needs a terminal; in scripts use the subcommands "
            "(`yunpipe --help`), or `yunpipe serve` for a browser",
            err=True,
        )
        return EXIT_USAGE
    from yunpipe_tui.app import make_app

    options.allow_missing_profile = True  # Home and the doctor say what to do about it
    app = make_app(options.aws(), **kwargs)
    result = app.run()
    return int(result or app.return_code or EXIT_OK)
