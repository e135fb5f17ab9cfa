"""`yunpipe validate -f FILE...`"""

from __future__ import annotations

import click

from yunpipe_tui.errors import EXIT_OK, EXIT_USAGE, InputError


@click.command("validate", short_help="Check workflow files and report every problem.")
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=True),
    help="A workflow file; repeat for several.",
)
@click.argument("more", nargs=-1, type=click.Path())
def command(files: tuple[str, ...], more: tuple[str, ...]) -> int:
    """Check workflow files against the schema, the S3 naming rules and the catalog.

    Prints `FILE: ok` or every problem as `FILE:LINE: PATH: message`. Exit 0 when all are
    valid, 2 when any is not.
    """
    from yunpipe_tui.catalog import default_catalog
    from yunpipe_tui.workflow import load_workflow

    catalog = default_catalog()
    status = EXIT_OK
    for path in (*files, *more):
        try:
            load_workflow(path, catalog)
        except InputError as exc:
            status = EXIT_USAGE
            for problem in exc.problems:
                click.echo(str(problem), err=True)
        else:
            click.echo(f"{path}: ok")
    return status
