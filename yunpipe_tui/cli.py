"""The `yunpipe` command line: one lazy click group, one module per subcommand.

Subcommand modules are imported only when run, so `yunpipe --help` stays fast; the summaries
shown in the help live here for the same reason.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from yunpipe_tui import __version__
from yunpipe_tui.commands.options import Options
from yunpipe_tui.errors import EXIT_FAILED, EXIT_USAGE, YunpipeError, describe_unexpected

# name -> (module under yunpipe_tui.commands, one-line summary). In the order a user meets them.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "Run the wizard against a local sandbox AWS (no account needed)."),
    "doctor": ("doctor", "Check AWS prerequisites (roles, services) and fix them."),
    "creds": ("creds", "Keep AWS keys in the OS keyring instead of plaintext files."),
    "validate": ("validate", "Check workflow files and report every problem."),
    "wrap": ("wrap", "Register algorithms and write their container build context."),
    "algorithms": ("algorithms", "List the algorithms in the local catalog."),
    "deploy": ("deploy", "Create or update a pipeline from a workflow file."),
    "status": ("status", "List deployed pipelines and their resources."),
    "monitor": ("monitor", "Watch queues, instances and tasks (or Batch jobs) of a pipeline."),
    "files": ("files", "Follow every input file: state, result, why it failed."),
    "logs": ("logs", "Print the algorithm's own output, per file or per step."),
    "teardown": ("teardown", "Remove a pipeline's resources (buckets and data stay)."),
    "sandbox": ("sandbox", "Run an embedded AWS endpoint for experiments and tests."),
    "serve": ("serve", "Serve the wizard to a web browser."),
}

# The seed's command names, kept working: name -> (module, attribute). Hidden from --help.
ALIASES: dict[str, tuple[str, str]] = {
    "setup-pipe": ("deploy", "setup_pipe"),
    "clean-up": ("teardown", "clean_up"),
    "create-lambda-exec-role": ("doctor", "create_lambda_exec_role"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name][0], "command"
        elif cmd_name in ALIASES:
            module_name, attribute = ALIASES[cmd_name]
        else:
            return None
        module = importlib.import_module(f"yunpipe_tui.commands.{module_name}")
        command: click.Command | None = getattr(module, attribute, None)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--profile", envvar="AWS_PROFILE", help="AWS profile to use (default: AWS_PROFILE).")
@click.option("--region", envvar="AWS_REGION", help="AWS region (default: AWS_REGION or profile).")
@click.option("--debug", is_flag=True, envvar="YUNPIPE_DEBUG", help="Show tracebacks on errors.")
@click.version_option(__version__, "--version", prog_name="yunpipe")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, region: str | None, debug: bool) -> None:
    """yunpipe: from an AWS account to a running container pipeline, and a view of it running.

    Run without a command to open the wizard.
    """
    ctx.obj = Options(profile=profile or None, region=region or None, debug=debug)
    if ctx.invoked_subcommand is None:
        from yunpipe_tui.commands.wizard import run_wizard

        ctx.exit(run_wizard(ctx.obj) or 0)


def _debug_wanted(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("YUNPIPE_DEBUG", "") not in ("", "0", "false")


def main(argv: list[str] | None = None, prog_name: str = "yunpipe") -> None:
    """Run the CLI; every failure becomes `error: ...` on stderr and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_wanted(args)
    try:
        result = cli.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except YunpipeError as exc:
        if debug:
            raise
        for line in str(exc).splitlines() or [type(exc).__name__]:
            click.echo(f"error: {line}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"error: {describe_unexpected(exc)}", err=True)
        sys.exit(EXIT_FAILED)
    from yunpipe_tui.quick_exit import exit_process

    exit_process(result if isinstance(result, int) else 0)


def _alias(command: str) -> None:
    main([command, *sys.argv[1:]], prog_name=os.path.basename(sys.argv[0]) or command)


def wrap_alias() -> None:
    """The seed's `wrap` command."""
    _alias("wrap")


def setup_pipe_alias() -> None:
    """The seed's `setup-pipe -f FILE... [-uu]`: deploy each file without asking."""
    _alias("setup-pipe")


def clean_up_alias() -> None:
    """The seed's `clean-up`: tear down the most recent pipeline."""
    _alias("clean-up")


def create_lambda_exec_role_alias() -> None:
    """The seed's `create-lambda-exec-role`: the doctor's fix for that role alone."""
    _alias("create-lambda-exec-role")
