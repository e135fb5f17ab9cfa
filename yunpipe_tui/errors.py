"""yunpipe's own error types.

Every failure a user can cause or meet is one of these, so the CLI can print a one-line
`error: ...` and pick the exit code without showing a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    path: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class YunpipeError(Exception):
    """An operation failed for a reason we can explain in one line."""

    exit_code = EXIT_FAILED


class InputError(YunpipeError):
    """Bad user input (a file, a flag, a value), carrying every problem found, not the first."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem] | str, file: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem(file=file or "input", message=problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class AwsError(YunpipeError):
    """An AWS call failed; the message names the operation and AWS's own words."""


def missing_profile_advice(profile: str) -> str:
    """One line for a profile that exists nowhere, with the ways forward."""
    return (
        f"AWS profile {profile!r} not found (not in ~/.aws/config, ~/.aws/credentials or "
        f"yunpipe's keyring): create it with `aws configure --profile {profile}` or "
        f"`yunpipe creds set --profile {profile}`, or unset AWS_PROFILE / drop --profile "
        "to use the default credentials"
    )


def describe_unexpected(exc: BaseException) -> str:
    """One line for an error from a library (botocore, ...), without its traceback.

    The CLI prints it after `error:`; the wizard shows it in a notification.
    """
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return (
            "no AWS credentials found; run `yunpipe creds set`, set AWS_PROFILE, "
            "or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if name == "NoRegionError":
        return "no AWS region set; pass --region or export AWS_REGION"
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return f"cannot reach AWS: {exc}"
    if name == "ProfileNotFound":
        return missing_profile_advice(str(getattr(exc, "kwargs", {}).get("profile", "")) or "?")
    if name == "ClientError":
        from yunpipe_tui.aws import error_message

        return error_message(exc)
    return f"unexpected {name}: {exc} (rerun with --debug for details)"


def describe_error(exc: BaseException | None) -> str:
    """One line for any failure, in the CLI's words; never a traceback, never a secret."""
    if exc is None:
        return "unknown error"
    if isinstance(exc, YunpipeError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return describe_unexpected(exc)
