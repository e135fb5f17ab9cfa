"""`yunpipe teardown [PIPELINE] [--yes] [--delete-buckets]` and the seed's `clean-up [--yes]`."""

from __future__ import annotations

from typing import Any

import click

from yunpipe_tui.errors import EXIT_FAILED, EXIT_OK, InputError
from yunpipe_tui.terminal import interactive


def _options() -> Any:
    from yunpipe_tui.commands.options import Options

    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Options) if ctx is not None else None
    return obj or Options()


def run_teardown(
    options: Any,
    pipeline: str | None,
    *,
    yes: bool = False,
    delete_buckets: bool = False,
    save_failed: str | None = None,
    console: Any = None,
) -> int:
    from rich.console import Console

    from yunpipe_tui import resource_names as names
    from yunpipe_tui.deploy import journal as jr
    from yunpipe_tui.deploy import teardown as td
    from yunpipe_tui.deploy.guarded import locked_teardown
    from yunpipe_tui.deploy.progress import PlainLines

    console = console or Console(highlight=False)

    def say(text: str = "") -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    ctx = options.aws()
    try:
        found = td.resolve(pipeline, ctx)
    except td.NothingToTearDown as exc:
        say(str(exc))
        return EXIT_OK
    for line in found.lines:
        say(line)
    record = found.record
    if not yes and not interactive():
        raise InputError(
            "teardown deletes AWS resources and needs a confirmation: no terminal to ask in; "
            "rerun with --yes",
            file=record.pipeline,
        )
    live = record.live_resources()
    where = record.target.describe()
    if found.from_tags:
        say(f"pipeline {record.pipeline} ({where}, found by its tag):")
        say(f"  remove everything tagged {names.TAG_PIPELINE}={record.pipeline}")
    else:
        say(f"pipeline {record.pipeline} ({where}, status {record.status}):")
    order = [k for k in reversed(record.data.get("order", [])) if k in live]
    for entry in (live[k] for k in order):
        if entry.get("kind") == "ledger_table":
            verb = "DELETE" if delete_buckets else "keep"
            say(f"  {verb} the file ledger {entry.get('name')}")
        elif entry.get("kind") != "bucket":
            say(f"  remove {entry.get('kind')} {entry.get('name')}")
    if not found.from_tags:
        say(f"  remove anything else tagged {names.TAG_PIPELINE}={record.pipeline}")
    say("  remove instances launched for it and their idle alarms, if any")
    if delete_buckets:
        counts = td.bucket_object_counts(record, ctx)
        for bucket, count in counts.items():
            say(f"  DELETE bucket {bucket} and its {count} object(s)")
        buckets = [
            e["name"]
            for e in record.resources.values()
            if e.get("kind") == "bucket" and e["name"] not in counts
        ]
        for bucket in buckets:
            say(f"  keep bucket {bucket} (yunpipe did not create it)")
        if found.from_tags:
            say("  DELETE the buckets tagged with it, and their objects")
    else:
        kept = sorted({e["name"] for e in record.resources.values() if e.get("kind") == "bucket"})
        say(f"  keep buckets and their objects: {', '.join(kept) or 'none'}")
    if not _keep_dead_letters(record, ctx, say, yes=yes, save_failed=save_failed):
        return EXIT_FAILED
    if not yes and not click.confirm(f"Tear down {record.pipeline}?", default=False):
        say("cancelled: nothing was changed")
        return EXIT_FAILED

    def run() -> td.TeardownResult:  # under the pipeline's lock: its journal as it is now
        current = jr.load(record.pipeline) if found.persist and not found.from_tags else None
        return td.Teardown(current or record, ctx, PlainLines(say), persist=found.persist).run(
            delete_buckets=delete_buckets
        )

    try:
        result = locked_teardown(ctx, record, run)
    except td.TargetMismatch as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_FAILED
    if result.kept_buckets:
        say(f"Buckets kept with your data: {', '.join(sorted(set(result.kept_buckets)))}")
    if result.kept_data:
        say(f"File ledger kept (--delete-buckets removes it): {', '.join(result.kept_data)}")
    if result.failed:
        for line in result.failed:
            click.echo(f"error: {line}", err=True)
    for line in result.not_removed:
        say(line)
    if result.leftovers:
        say("Still present after teardown: " + ", ".join(result.leftovers))
    if result.ok and not result.deleted:
        say(f"nothing to tear down for {record.pipeline}: everything was already gone")
        return EXIT_OK
    if result.ok:
        say(
            f"pipeline {record.pipeline} torn down: {len(result.deleted)} removed, "
            f"{len(result.already_gone)} already gone; no leftovers found"
        )
        return EXIT_OK
    return EXIT_FAILED


def _keep_dead_letters(
    record: Any, ctx: Any, say: Any, *, yes: bool, save_failed: str | None
) -> bool:
    """Say how many failed messages the dead-letter queues still hold (teardown deletes them)
    and write their file keys to a file first: `--save-failed FILE`, or when asked. False when
    the keys could not be written (nothing was changed)."""
    from yunpipe_tui import dead_letters

    held = dead_letters.counts(record, ctx)
    if not held:
        return True
    total = sum(held.values())
    for name, n in held.items():
        say(f"  DELETE dead-letter queue {name} holding {n} failed message(s)")
    target = save_failed
    ask = f"Write the file keys of the {total} failed message(s) to a file first?"
    if target is None and not yes and interactive() and click.confirm(ask, default=True):
        target = click.prompt("File", default=f"{record.pipeline}-failed.txt")
    if target is None:
        if not yes or not interactive():
            say("  (keep their file keys with --save-failed FILE)")
        return True
    keys = dead_letters.failed_file_keys(record, ctx)
    try:
        with open(target, "w", encoding="utf-8") as out:
            out.write("".join(f"{k}\n" for k in keys))
    except OSError as exc:
        click.echo(f"error: {target}: {exc.strerror or exc}; nothing was changed", err=True)
        return False
    say(f"  wrote {len(keys)} failed file key(s) to {target}")
    return True


@click.command("teardown", short_help="Remove a pipeline's resources (buckets and data stay).")
@click.argument("pipeline", required=False)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--delete-buckets",
    is_flag=True,
    help="Also delete the buckets yunpipe created, with every object in them.",
)
@click.option(
    "--save-failed",
    "save_failed",
    type=click.Path(dir_okay=False),
    help="Write the file keys of the failed messages in the dead-letter queues to FILE first.",
)
def command(pipeline: str | None, yes: bool, delete_buckets: bool, save_failed: str | None) -> int:
    """Remove what yunpipe added for PIPELINE (default: the most recent one of the account
    and endpoint in use).

    Removes everything tagged yunpipe:pipeline=PIPELINE, whether this machine's record knows
    it, lost it or is missing; works without a record (see `yunpipe status --scan`). A record
    of another account or endpoint is never acted on. Resources that only match the names but
    carry no yunpipe tag are reported, never deleted. Buckets and their objects stay unless
    --delete-buckets; your own buckets and your own bucket notifications are never touched.
    Safe to run again.
    """
    return run_teardown(
        _options(), pipeline, yes=yes, delete_buckets=delete_buckets, save_failed=save_failed
    )


@click.command("clean-up", short_help="The seed's name for `yunpipe teardown`.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def clean_up(yes: bool) -> int:
    """Tear down the most recently deployed pipeline (buckets and data stay)."""
    return run_teardown(_options(), None, yes=yes)
