"""`yunpipe sandbox [--port N]`"""

from __future__ import annotations

import click

from yunpipe_tui.errors import EXIT_USAGE


@click.command("sandbox", short_help="Run an embedded AWS endpoint for experiments and tests.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default="a free port",
    help="Port on 127.0.0.1 to listen on.",
)
@click.option(
    "--fast",
    is_flag=True,
    help="Test timings: idle instances go after 1.5 s, the reconcile runs every second.",
)
def command(port: int, fast: bool) -> int:
    """Run a local sandbox AWS on 127.0.0.1 until Ctrl-C.

    moto's server with yunpipe's local executor: S3 uploads run the real dispatcher, ECS tasks
    and Batch jobs run the real container runner as local processes, idle instances are
    terminated and idle Batch capacity is released. Paste the
    printed lines into another shell; any yunpipe command or AWS client (the AWS CLI too) then
    works against the sandbox. Nothing in it reaches a real AWS account.
    """
    import os
    import signal
    import threading

    from yunpipe_tui.sandbox.server import INSTALL_HINT, Sandbox, Timings, moto_available

    if not moto_available():
        click.echo(
            f"error: the sandbox needs the 'sandbox' extra; install it with: {INSTALL_HINT}",
            err=True,
        )
        return EXIT_USAGE
    # This process talks only to its own sandbox (the dispatcher runs in it).
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    sandbox = Sandbox(port=port, timings=Timings.fast() if fast else Timings())
    try:
        sandbox.start()
    except OSError as exc:
        click.echo(f"error: cannot listen on 127.0.0.1:{port}: {exc.strerror}", err=True)
        return EXIT_USAGE
    os.environ.update(sandbox.environ())
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, kill: stop cleanly either way
        signal.signal(number, lambda *_: stop.set())
    try:
        click.echo(f"# yunpipe sandbox: an emulated AWS on {sandbox.endpoint} (LOCAL SANDBOX)")
        click.echo("# paste these lines into another shell, then run yunpipe or aws there:")
        for line in sandbox.export_lines():
            click.echo(line)
        click.echo("# Ctrl-C stops the sandbox; everything in it is forgotten.", nl=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        sandbox.stop()
    click.echo("# sandbox stopped")
    return 0
