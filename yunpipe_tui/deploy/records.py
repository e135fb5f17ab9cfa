"""The journals of the target in use: what `status`, Home, `monitor` and `teardown` act on.

A journal made against another account or endpoint (a stopped sandbox on 127.0.0.1, another
profile) must never steer calls sent with the credentials in use, so every reader goes through
`here(ctx)`: the records of this account and endpoint, one line per damaged journal, and one
line per record that belongs elsewhere ("not touched").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from yunpipe_tui.deploy import journal as jr
from yunpipe_tui.state.target import Target, normalise_endpoint


def endpoint_of(ctx: Any) -> str:
    """The endpoint a context's clients talk to ("" for AWS): its own, else AWS_ENDPOINT_URL,
    which botocore honours for every client."""
    return normalise_endpoint(
        getattr(ctx, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL") or ""
    )


def current_target(ctx: Any) -> Target:
    """Account (asked from STS), region and endpoint of the context. Raises what STS raises."""
    account = str(ctx.client("sts").get_caller_identity()["Account"])
    return Target(account, ctx.region_name, endpoint_of(ctx))


def elsewhere_line(record: jr.PipelineRecord, verb: str = "not touched") -> str:
    """The one line a user reads about a record of another account or endpoint."""
    where = f"account {record.account_id or '(unknown)'}"
    if record.region:
        where += f" in {record.region}"
    where += f" at {record.endpoint}" if record.endpoint else " on AWS"
    return f"pipeline {record.pipeline} was deployed to {where}; {verb}"


def belongs(record: jr.PipelineRecord, target: Target) -> bool:
    """Whether the record is the target's (any region of the same account and endpoint)."""
    return jr.belongs_to(record, target.account_id, None, target.endpoint)


@dataclass(frozen=True)
class Here:
    """The journals of `target` (newest first) and what the user should read about the rest."""

    target: Target | None
    records: list[jr.PipelineRecord] = field(default_factory=list)
    elsewhere: list[jr.PipelineRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    note: str = ""  # set when the account could not be asked (records filtered by endpoint)

    def lines(self, verb: str = "not touched") -> list[str]:
        """Every line to show besides the records: the note, damaged journals, elsewhere."""
        out = [self.note] if self.note else []
        return out + self.warnings + [elsewhere_line(r, verb) for r in self.elsewhere]


def here(ctx: Any, include_torn_down: bool = True) -> Here:
    """The journals that belong to the account and endpoint `ctx` talks to, for the read-only
    views (status, Home, monitor). A journal that names no account is shown by its endpoint;
    teardown never acts on one (`belongs` is strict): it removes by tag instead.

    When STS cannot be asked (no credentials yet), records are kept by endpoint alone and
    `note` says so: a sandbox's records never show outside it either way."""
    listing = jr.scan(include_torn_down)
    if not listing.records:  # nothing to sort: no need to ask AWS (status works offline)
        return Here(None, [], [], listing.warnings)
    note = ""
    try:
        target: Target | None = current_target(_probe(ctx))
    except Exception as exc:
        from yunpipe_tui.errors import describe_error

        target = None
        note = (
            f"could not ask AWS which account is in use ({describe_error(exc)}); "
            "showing the records of this endpoint without checking their account"
        )
    records: list[jr.PipelineRecord] = []
    elsewhere: list[jr.PipelineRecord] = []
    for record in listing.records:
        same_endpoint = normalise_endpoint(record.endpoint) == endpoint_of(ctx)
        if target is not None and record.account_id:
            ours = belongs(record, target)
        else:  # a journal older than account records: shown by endpoint, never torn down by
            ours = same_endpoint
        (records if ours else elsewhere).append(record)
    return Here(target, records, elsewhere, listing.warnings, note)


def _probe(ctx: Any) -> Any:
    """The context with a small retry budget: one question, asked quickly."""
    with_attempts = getattr(ctx, "with_attempts", None)
    return with_attempts(2) if with_attempts is not None else ctx


def most_recent(ctx: Any) -> tuple[jr.PipelineRecord | None, Here]:
    """The newest record of the target in use that is not torn down, and the listing."""
    found = here(ctx, include_torn_down=False)
    return (found.records[0] if found.records else None), found
