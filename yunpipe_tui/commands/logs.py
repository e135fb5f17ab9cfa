"""`yunpipe logs PIPELINE [--step S] [--file KEY] [--follow]`"""

from __future__ import annotations

import click

from yunpipe_tui.commands.options import Options, pass_options
from yunpipe_tui.errors import EXIT_OK


@click.command("logs", short_help="Print the algorithm's own output, per file or per step.")
@click.argument("pipeline")
@click.option("--step", help="Only this step (s1, s2, ...).")
@click.option("--file", "key", help="Only this input file (its key in the input bucket).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (ctrl+c stops).")
@click.option("--time", "with_time", is_flag=True, help="Start each line with its UTC time.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.2),
    default=2.0,
    show_default=True,
    help="With --follow: seconds between reads.",
)
@click.option("--polls", type=int, default=0, hidden=True, help="Stop after N reads (tests).")
@pass_options
def command(
    options: Options,
    pipeline: str,
    step: str | None,
    key: str | None,
    follow: bool,
    with_time: bool,
    interval: float,
    polls: int,
) -> int:
    """The algorithm's stdout and stderr, from CloudWatch Logs (group /yunpipe/PIPELINE).

    With --file: that file's lines (its newest upload; each step's stream the ledger names,
    labelled by step). Without: every file of --step (or of every step), each line labelled by
    the file's short id. --follow tails until ctrl+c.
    """
    import time

    from yunpipe_tui import file_logs
    from yunpipe_tui.errors import InputError
    from yunpipe_tui.monitor import resolve_target

    aws = options.aws()
    target = resolve_target(pipeline, aws)
    if target.region:
        aws = aws.for_region(target.region)
    known = [s.step for s in target.steps]
    if step is not None and step not in known:
        raise InputError(f"--step {step!r}: pipeline {pipeline!r} has steps {', '.join(known)}")
    if key is not None:
        from yunpipe_tui import ledger

        records = ledger.file_story(aws, target.pipeline, key, steps=known)
        if not records:
            raise InputError(
                f"--file {key!r}: no such file in pipeline {pipeline}'s ledger; "
                f"list them with `yunpipe files {pipeline}`"
            )
        tail = file_logs.for_file(records[-1], step)
    else:
        tail = file_logs.for_step(target.pipeline, step)
    reads = 0
    try:
        while True:
            for line in tail.fetch(aws):
                click.echo(line.text(with_time))
            reads += 1
            if not follow or (polls and reads >= polls):
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass  # ctrl+c ends a --follow quietly
    return EXIT_OK
