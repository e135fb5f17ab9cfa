"""The global options (`--profile`, `--region`, `--debug`) every subcommand receives.

Kept apart from `cli` so that subcommands can ask for them without importing the command line
that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext


@dataclass
class Options:
    """Global options, shared by every subcommand through the click context."""

    profile: str | None = None
    region: str | None = None
    debug: bool = False
    # the doctor and the wizard report a missing profile themselves; other commands stop on it
    allow_missing_profile: bool = False
    _aws: AwsContext | None = field(default=None, repr=False)

    def aws(self) -> AwsContext:
        """The AwsContext of these options, built once; yunpipe's keyring store is one of its
        credential sources. A profile asked for that exists nowhere stops the command with one
        line saying what to do, unless `allow_missing_profile` is set."""
        if self._aws is None:
            from yunpipe_tui.aws import AwsContext
            from yunpipe_tui.credentials import install_provider

            self._aws = AwsContext.from_environment(
                self.profile, self.region, provider=install_provider
            )
        if not self.allow_missing_profile:
            missing = self._aws.missing_profile()
            if missing:
                from yunpipe_tui.errors import YunpipeError, missing_profile_advice

                raise YunpipeError(missing_profile_advice(missing))
        return self._aws


# `@pass_options` hands a subcommand the group's Options (defaults when run on its own).
pass_options = click.make_pass_decorator(Options, ensure=True)


def current_options() -> Options:
    """The Options of the running click command, or defaults outside one (tests, scripts)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Options) if ctx is not None else None
    return found or Options()
