"""`yunpipe deploy -f FILE [--dry-run] [--yes] [--rollback] [--replace] [-uu]` and the seed's
`setup-pipe -f FILE... [-uu] [--replace]`."""

from __future__ import annotations

from typing import Any

import click

from yunpipe_tui.errors import EXIT_FAILED, EXIT_OK, InputError
from yunpipe_tui.terminal import interactive

UU_NOTE = (
    "note: -uu is accepted for compatibility only: tasks now run with a per-step task role "
    "(access to their own queue and buckets), so no AWS credentials are placed in the task "
    "definition or anywhere else."
)


def _options() -> Any:
    from yunpipe_tui.commands.options import Options

    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Options) if ctx is not None else None
    return obj or Options()


def run_deploy(
    options: Any,
    path: str,
    *,
    dry_run: bool = False,
    yes: bool = False,
    rollback: bool = False,
    replace: bool = False,
    console: Any = None,
) -> int:
    """Plan, show, confirm, deploy one workflow file. Returns the exit code.

    `replace` takes over a pipeline name another workflow deployed (`--yes` never does)."""
    from rich.console import Console

    from yunpipe_tui import deploy as engine
    from yunpipe_tui.catalog import default_catalog
    from yunpipe_tui.deploy import teardown as td
    from yunpipe_tui.deploy.guarded import sigterm_interrupts
    from yunpipe_tui.deploy.plan import algorithms_for, format_tree
    from yunpipe_tui.deploy.prepare import load, prepare
    from yunpipe_tui.deploy.progress import renderer
    from yunpipe_tui.sandbox_hints import sandbox_warnings

    console = console or Console(highlight=False)

    def say(text: str = "") -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    catalog = default_catalog()
    workflow = load(path, catalog)  # the file's own problems come before any question
    if not dry_run and not yes and not interactive():
        raise InputError(
            "deploy creates AWS resources and needs a confirmation: no terminal to ask in; "
            "rerun with --yes (or look first with --dry-run)",
            file=path,
        )
    prepared = prepare(workflow, options.aws(), catalog, replace=replace)
    plan, ctx, workflow = prepared.plan, prepared.ctx, prepared.workflow
    for line in sandbox_warnings(algorithms_for(workflow, catalog).values()):
        say(f"warning: {line}")
    for line in prepared.warnings:
        say(f"warning: {line}")
    say(format_tree(plan, prepared.actions))
    counts = prepared.counts
    say(f"{counts['create']} to create, {counts['update']} to update, {counts['keep']} to keep")
    if dry_run:
        for problem in prepared.problems:
            say(f"warning: {problem}")
        say("dry run: nothing was changed")
        return EXIT_OK
    prepared.require()
    if not yes and not click.confirm(f"Deploy pipeline {plan.pipeline}?", default=False):
        say("cancelled: nothing was changed")
        return EXIT_FAILED
    try:
        with sigterm_interrupts(), renderer(console, plan) as sink:
            result = engine.deploy(plan, ctx, sink, replace=replace)
    except engine.DeployInterrupted as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except engine.DeployError as exc:
        click.echo(f"error: {exc}", err=True)
        say("The journal keeps what was created; nothing else was touched.")
        undo = rollback
        if not undo and exc.created and interactive():
            undo = click.confirm("Remove what this run created?", default=False)
        if undo and exc.created:
            with renderer(console) as sink:
                rb = td.rollback(plan.pipeline, exc.created, ctx, sink)
            say(
                f"rolled back: {len(rb.deleted)} removed"
                + (f"; kept buckets: {', '.join(rb.kept_buckets)}" if rb.kept_buckets else "")
                + (f"; kept the file ledger: {', '.join(rb.kept_data)}" if rb.kept_data else "")
            )
        elif exc.created:
            say(f"To remove what was created: yunpipe teardown {plan.pipeline}")
        return EXIT_FAILED
    for warning in result.warnings:
        if warning not in prepared.warnings:
            say(f"warning: {warning}")
    say(
        f"pipeline {plan.pipeline} deployed in {result.elapsed:.1f}s: "
        f"{result.count('create')} created, {result.count('update')} updated, "
        f"{result.count('keep')} kept"
    )
    say(f"You can start upload files at {workflow.input_bucket}")
    say(f"You will get your result at {workflow.output_bucket}")
    return EXIT_OK


@click.command("deploy", short_help="Create or update a pipeline from a workflow file.")
@click.option("-f", "--file", "path", required=True, type=click.Path(), help="The workflow file.")
@click.option("--dry-run", is_flag=True, help="Show what would be created, updated or kept.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--rollback", is_flag=True, help="On failure, remove what this run created.")
@click.option(
    "--replace",
    is_flag=True,
    help="Take over a pipeline name deployed from another workflow (moves its notification).",
)
@click.option(
    "-uu",
    "--use-user-credential",
    "uu",
    is_flag=True,
    help="Accepted for compatibility; tasks use a task role, no credentials are stored.",
)
def command(path: str, dry_run: bool, yes: bool, rollback: bool, replace: bool, uu: bool) -> int:
    """Create or update every AWS resource of the pipeline described in FILE.

    Shows the plan (create / update / keep for each resource), asks to confirm unless --yes,
    then deploys. Re-running converges: nothing is duplicated. Ends with where to upload
    files and where results appear.

    One deploy or teardown per pipeline runs at a time (a second one waits briefly, then
    stops naming the holder). A pipeline name belongs to the workflow file that deployed it:
    another file is refused unless --replace. A deploy whose output would reach its own input
    through the account's pipelines is refused. Ctrl-C leaves the pipeline `interrupted`
    (exit 130): deploy again to finish it, or tear it down.
    """
    if uu:
        click.echo(UU_NOTE)
    return run_deploy(
        _options(), path, dry_run=dry_run, yes=yes, rollback=rollback, replace=replace
    )


@click.command("setup-pipe", short_help="The seed's name for `yunpipe deploy --yes`.")
@click.option(
    "-f", "--file", "paths", multiple=True, required=True, type=click.Path(), help="Workflow file."
)
@click.option("-uu", "--use-user-credential", "uu", is_flag=True, help="Compatibility only.")
@click.option(
    "--replace", is_flag=True, help="Take over pipeline names deployed from other workflows."
)
def setup_pipe(paths: tuple[str, ...], uu: bool, replace: bool) -> int:
    """Deploy each workflow FILE without asking (`yunpipe deploy --yes -f FILE`)."""
    if uu:
        click.echo(UU_NOTE)
    status = EXIT_OK
    options = _options()
    for path in paths:
        status = max(status, run_deploy(options, path, yes=True, replace=replace))
    return status
