"""`yunpipe files [PIPELINE] [--state STATE] [--json]` and `yunpipe files show KEY`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from yunpipe_tui.commands.options import Options, pass_options
from yunpipe_tui.errors import EXIT_OK

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.ledger import FileRecord
    from yunpipe_tui.monitor import PipelineTarget

STATE_CHOICE = click.Choice(["queued", "running", "done", "failed"])


class DefaultGroup(click.Group):
    """A group whose first word, when it names no subcommand, goes to the default one:
    `yunpipe files demo --json` is `yunpipe files list demo --json`."""

    default_command = "list"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group("files", cls=DefaultGroup, short_help="Follow every input file: state, result, why.")
def command() -> None:
    """What happened to each file uploaded to a pipeline's input bucket, from the pipeline's
    file ledger.

    \b
    yunpipe files [PIPELINE] [--state STATE] [--json]   one line per file (the default)
    yunpipe files show KEY [-p PIPELINE]                 one file's whole story
    """


def _target(options: Options, pipeline: str | None) -> tuple[AwsContext, PipelineTarget]:
    from yunpipe_tui.monitor import resolve_target

    aws = options.aws()
    target = resolve_target(pipeline, aws)
    return (aws.for_region(target.region) if target.region else aws), target


def file_line(record: FileRecord, steps: list[str]) -> str:
    from yunpipe_tui.monitor_rows import format_duration, step_marks

    cost = f"~${record.cost_usd:.6f}" if record.cost_usd is not None else "—"
    line = (
        f"{record.state:<7}  {step_marks(record, steps)}  {format_duration(record.seconds):>6}  "
        f"{record.attempts:>2} att  {cost:>11}  {record.key}"
    )
    if record.result:
        line += f"  → {record.result}"
    if record.error:
        line += f"  ✗ {record.error.splitlines()[0]}"
    return line


@command.command("list")
@click.argument("pipeline", required=False)
@click.option("--state", type=STATE_CHOICE, help="Only the files in this overall state.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of file objects.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many files.")
@pass_options
def list_files(
    options: Options, pipeline: str | None, state: str | None, as_json: bool, limit: int | None
) -> int:
    """One line per input file: overall state, per-step progress, duration, attempts,
    estimated cost and where its result is (or why it failed).

    Without PIPELINE: the most recently deployed one. --state reads the ledger's by-state index
    (no full scan); any number of files is paged through.
    """
    import json

    from yunpipe_tui import ledger

    aws, target = _target(options, pipeline)
    steps = [s.step for s in target.steps]
    records = ledger.files(aws, target.pipeline, state=state, limit=limit, steps=steps)
    if as_json:
        click.echo("[", nl=False)
        for i, record in enumerate(records):
            text = json.dumps(record.to_json(), indent=2, ensure_ascii=False)
            click.echo(("," if i else "") + "\n" + _indent(text), nl=False)
        click.echo("\n]")
        return EXIT_OK
    tally: dict[str, int] = {}
    total_cost = 0.0
    for i, record in enumerate(records):
        if i == 0:
            click.echo(f"files of pipeline {target.pipeline} (cost: on-demand estimate)")
        click.echo(file_line(record, steps))
        tally[record.state] = tally.get(record.state, 0) + 1
        total_cost += record.cost_usd or 0.0
    if not tally:
        which = f" in state {state}" if state else ""
        bucket = target.input_bucket or "its input bucket"
        click.echo(f"no files{which} in pipeline {target.pipeline}'s ledger; upload to {bucket}")
        return EXIT_OK
    counts = ", ".join(f"{n} {s}" for s, n in sorted(tally.items()))
    click.echo(f"{sum(tally.values())} file(s): {counts}; estimated cost so far ~${total_cost:.6f}")
    return EXIT_OK


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


@command.command("show")
@click.argument("key")
@click.option("-p", "--pipeline", help="The pipeline (default: the most recently deployed).")
@click.option("--json", "as_json", is_flag=True, help="Every version of the file as JSON.")
@pass_options
def show(options: Options, key: str, pipeline: str | None, as_json: bool) -> int:
    """One input file's whole story across the steps (every uploaded version of KEY): when it
    was queued, started, finished, where it ran, what it read and wrote, its log stream and, when
    it failed, the reason and the last lines of its stderr."""
    import json

    from yunpipe_tui import ledger
    from yunpipe_tui.errors import InputError

    aws, target = _target(options, pipeline)
    steps = [s.step for s in target.steps]
    records = ledger.file_story(aws, target.pipeline, key, steps=steps)
    if not records:
        raise InputError(
            f"no file {key!r} in pipeline {target.pipeline}'s ledger; "
            f"list the files with `yunpipe files {target.pipeline}`"
        )
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False))
        return EXIT_OK
    for i, record in enumerate(records):
        if i:
            click.echo("")
        if len(records) > 1:
            click.echo(f"version {i + 1} of {len(records)}")
        for line in ledger.story_lines(record):
            click.echo(line)
    click.echo(f"its output: yunpipe logs {target.pipeline} --file {_quote(key)}")
    return EXIT_OK


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
