"""`yunpipe demo [--plain]`"""

from __future__ import annotations

import click

from yunpipe_tui.errors import EXIT_USAGE


@click.command("demo", short_help="Run the wizard against a local sandbox AWS (no account needed).")
@click.option(
    "--plain",
    is_flag=True,
    help="Tell the story as plain lines instead of opening the wizard (terminal logs, CI).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=5),
    default=120.0,
    show_default=True,
    help="With --plain: seconds to wait for the results.",
)
def command(plain: bool, timeout: float) -> int:
    """Run a real two-step pipeline in a local sandbox: an emulated AWS on this machine.

    Needs no AWS account and touches none. Without --plain the wizard opens on Home, marked
    LOCAL SANDBOX; with --plain the doctor, deploy, uploads, monitor snapshots, results and
    teardown are printed as lines. Exit 0 only if every result arrived and is correct.
    """
    from yunpipe_tui.sandbox.server import INSTALL_HINT, moto_available

    if not moto_available():
        click.echo(
            "error: the demo runs in a local sandbox that needs the 'sandbox' extra; "
            f"install it with: {INSTALL_HINT}",
            err=True,
        )
        return EXIT_USAGE
    from yunpipe_tui.sandbox import demo

    if not plain:
        try:
            from yunpipe_tui.app import make_app  # noqa: F401
        except ImportError:
            click.echo(
                "The wizard is not available in this build; telling the story in plain lines."
            )
        else:
            return demo.run_wizard()
    return demo.run_plain(click.echo, timeout=timeout)
