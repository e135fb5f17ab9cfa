"""Small read-only AWS look-ups the wizard's forms need (no Textual; usable from scripts).

Each takes an `AwsContext` and makes one or two calls; callers run them off the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str
    user_id: str
    profile: str
    region: str


def caller_identity(ctx: AwsContext) -> CallerIdentity:
    """`sts:GetCallerIdentity`, plus the profile and region the context resolves to."""
    answer = ctx.client("sts").get_caller_identity()
    return CallerIdentity(
        account=str(answer.get("Account", "")),
        arn=str(answer.get("Arn", "")),
        user_id=str(answer.get("UserId", "")),
        profile=_existing_profile(ctx),
        region=ctx.region_name,
    )


def _existing_profile(ctx: AwsContext) -> str:
    """The profile the keys come from, '' when none exists (keys from the environment)."""
    asked, exists = ctx.profile_status()
    return (asked or "default") if exists else ""


def key_pair_names(ctx: AwsContext, region: str | None = None) -> list[str]:
    """The EC2 key pairs of a region (the context's own when None), sorted by name."""
    target = ctx.for_region(region) if region else ctx
    answer = target.client("ec2").describe_key_pairs()
    return sorted(str(k["KeyName"]) for k in answer.get("KeyPairs", []) if k.get("KeyName"))
