"""`yunpipe doctor [--fix] [--yes] [--json] [-f WORKFLOW]` and the seed's
`create-lambda-exec-role`."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from yunpipe_tui.commands.options import Options, pass_options
from yunpipe_tui.errors import EXIT_FAILED, EXIT_OK, InputError, YunpipeError

if TYPE_CHECKING:
    from yunpipe_tui.doctor import CheckResult

MARKS = {
    "ok": ("✓", "green"),
    "warn": ("!", "yellow"),
    "fail": ("✗", "red"),
    "skip": ("-", "bright_black"),
}


def render(results: list[CheckResult], err: bool = False) -> None:
    """One line per check in the style of `flutter doctor`, details under each, fix hints under
    failures, a summary line."""
    from yunpipe_tui.doctor import summary

    for r in results:
        mark, colour = MARKS[r.status]
        click.echo(click.style(f"[{mark}] ", fg=colour) + r.title, err=err)
        for line in r.detail.splitlines() or [""]:
            click.echo(f"    • {line}", err=err)
        if r.fix is not None and r.status != "ok":
            click.echo(click.style("    fix: ", fg=colour) + r.fix.description, err=err)
            click.echo("         run `yunpipe doctor --fix` to apply it", err=err)
    click.echo("", err=err)
    fails = any(r.status == "fail" for r in results)
    colour = "red" if fails else ("yellow" if any(r.status == "warn" for r in results) else "green")
    click.echo(click.style("• ", fg=colour) + summary(results), err=err)


def _confirm(question: str) -> bool:
    import questionary

    answer = questionary.confirm(question, default=True).ask()
    return bool(answer)


def _apply_fixes(aws: Any, results: list[CheckResult], yes: bool, quiet: bool) -> int:
    from yunpipe_tui.doctor import apply_fix

    applied = 0
    for r in results:
        if r.fix is None or r.status == "ok":
            continue
        click.echo(click.style(f"fix {r.id}: ", bold=True) + r.fix.description, err=quiet)
        if r.fix.policy is not None:
            click.echo(json.dumps(r.fix.policy, indent=2), err=quiet)
        if not yes and not _confirm(f"Apply the fix for {r.title}?"):
            click.echo("  skipped", err=quiet)
            continue
        try:
            said = apply_fix(aws, r.id)
        except YunpipeError as exc:  # one failed fix does not stop the others
            click.echo(click.style("  failed: ", fg="red") + str(exc), err=quiet)
            continue
        click.echo("  " + said, err=quiet)
        applied += 1
    return applied


@click.command("doctor", short_help="Check AWS prerequisites (roles, services) and fix them.")
@click.option("--fix", "fix", is_flag=True, help="Offer to fix every failed check that has a fix.")
@click.option("--yes", "-y", is_flag=True, help="Apply fixes without asking.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON, nothing else.")
@click.option(
    "-f",
    "--file",
    "workflow_file",
    type=click.Path(dir_okay=False),
    help="Also check what this workflow needs: key pair, buckets, default VPC, AMI.",
)
@pass_options
def command(
    options: Options, fix: bool, yes: bool, as_json: bool, workflow_file: str | None
) -> int:
    """Check that the AWS account is ready for yunpipe and, with --fix, repair what can be.

    Exit 0 when no check fails (warnings are fine), 1 otherwise.
    """
    from yunpipe_tui.doctor import report_json, run_checks

    workflow = None
    if workflow_file:
        from yunpipe_tui.workflow import load_workflow

        # the file's shape only: whether its algorithms are registered is `validate`'s business
        workflow = load_workflow(workflow_file)
    if fix and not yes and not sys.stdin.isatty():
        raise InputError(
            "--fix asks before each change; pass --yes when not in a terminal", file="--fix"
        )
    options.allow_missing_profile = True  # the credentials check names the profile
    aws = options.aws()
    results = run_checks(aws, workflow)
    if fix and any(r.fix is not None and r.status != "ok" for r in results):
        if not as_json:
            render(results)
            click.echo("")
        if _apply_fixes(aws, results, yes, quiet=as_json):
            results = run_checks(aws, workflow)
            if not as_json:
                click.echo("")
    if as_json:
        click.echo(json.dumps(report_json(results), indent=2))
    else:
        render(results)
    return EXIT_OK if all(r.status != "fail" for r in results) else EXIT_FAILED


@click.command("create-lambda-exec-role", hidden=True)
@pass_options
def create_lambda_exec_role(options: Options) -> int:
    """The seed's command: create or update lambda_exec_role with yunpipe's least-privilege
    policy (the doctor's fix for that one check)."""
    from yunpipe_tui.doctor import apply_fix

    click.echo(apply_fix(options.aws(), "lambda-exec-role"))
    return EXIT_OK
