"""`yunpipe monitor [PIPELINE] [--interval S] [--plain] [--once --json]`"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from yunpipe_tui.commands.options import Options, pass_options
from yunpipe_tui.errors import EXIT_FAILED, EXIT_OK, InputError

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.monitor import PipelineTarget


@click.command(
    "monitor", short_help="Watch queues, instances and tasks (or Batch jobs) of a pipeline."
)
@click.argument("pipeline", required=False)
@click.option(
    "--interval",
    type=click.FloatRange(min=1.0),
    default=5.0,
    show_default=True,
    help="Seconds between polls.",
)
@click.option("--plain", is_flag=True, help="A Rich live view instead of the full-screen app.")
@click.option("--once", is_flag=True, help="Poll once, print, and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the snapshot as JSON.")
@click.option("--polls", type=int, default=0, hidden=True, help="Stop after N polls (tests).")
@pass_options
def command(
    options: Options,
    pipeline: str | None,
    interval: float,
    plain: bool,
    once: bool,
    as_json: bool,
    polls: int,
) -> int:
    """Watch a deployed pipeline: per step its queue (visible, in flight, delayed, dead letter),
    its instances (type, state, uptime, running tasks, idle alarm) and recent tasks; on AWS
    Batch its jobs by state, why RUNNABLE jobs wait, and the compute environments' vCPUs.

    Without PIPELINE: the most recently deployed one. Opens the monitor screen; --plain prints
    a live view (plain lines when not a terminal); --once --json prints one snapshot.
    Needs nothing but the terminal and AWS credentials from the environment or a profile.
    --once exits 1 when any part of the poll failed (the JSON still printed, errors listed).
    """
    from yunpipe_tui.monitor import Monitor, resolve_target
    from yunpipe_tui.monitor_rows import error_lines

    if as_json and not once:
        raise InputError("--json needs --once (one snapshot); use --plain for a running view")
    aws = options.aws()
    target = resolve_target(pipeline, aws)
    if once:
        with Monitor(aws, target) as mon:
            snap = mon.poll()
        if as_json:
            import json

            from yunpipe_tui.monitor_rows import snapshot_record

            click.echo(json.dumps(snapshot_record(snap), indent=2))
        else:
            from yunpipe_tui.monitor_render import plain_line

            click.echo(plain_line(snap))
        if snap.poll_failed:  # scripts must not mistake a failed poll for a quiet pipeline
            for line in error_lines(snap):
                click.echo(f"error: {line}", err=True)
            return EXIT_FAILED
        return EXIT_OK
    from yunpipe_tui.commands.wizard import can_run_full_screen

    if plain or not can_run_full_screen():  # no terminal: plain lines rather than an error
        return _plain(aws, target, interval, polls)
    from yunpipe_tui.app import make_app

    app = make_app(aws, initial="monitor", pipeline=target.pipeline, monitor_interval=interval)
    result = app.run()
    return int(result or 0)


def _plain(aws: AwsContext, target: PipelineTarget, interval: float, polls: int) -> int:
    import sys
    import time

    from rich.console import Console
    from rich.live import Live

    from yunpipe_tui.monitor import History, Monitor, append_history, next_delay
    from yunpipe_tui.monitor_render import plain_line, render

    console = Console()
    history: History = {}
    failures = 0
    done = 0
    live: Live | None = None
    try:
        with Monitor(aws, target) as mon:
            if console.is_terminal:
                live = Live(console=console, auto_refresh=False, transient=False)
                live.start()
            while True:
                snap = mon.poll()
                history = append_history(history, snap)
                failures = failures + 1 if snap.errors else 0
                delay = next_delay(interval, failures)
                if live is not None:
                    status = f"next poll in {delay:.0f}s · ctrl+c to stop"
                    live.update(render(snap, history, status=status), refresh=True)
                else:
                    print(plain_line(snap), flush=True)
                done += 1
                if polls and done >= polls:
                    break
                time.sleep(max(0.0, delay - snap.elapsed_s))
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()
        sys.stdout.flush()
    return EXIT_OK
