"""The place a record belongs to: account id, region and endpoint URL ("" for AWS itself).

A journal or lock made against the sandbox (an endpoint on 127.0.0.1) or another account must
never steer calls sent with the credentials in use, so every record carries its target and
callers compare before acting.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


def normalise_endpoint(endpoint: str | None) -> str:
    """One spelling per endpoint: lower-case scheme and host, no trailing slash; "" for AWS."""
    if not endpoint:
        return ""
    text = endpoint.strip()
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc:
        return text.rstrip("/")
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


@dataclass(frozen=True)
class Target:
    account_id: str
    region: str
    endpoint: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", normalise_endpoint(self.endpoint))

    @classmethod
    def of(cls, ctx: Any, account_id: str | None = None) -> Target:
        """The target an AwsContext talks to; asks STS for the account when not given."""
        if account_id is None:
            account_id = str(ctx.client("sts").get_caller_identity()["Account"])
        return cls(account_id, ctx.region_name, ctx.endpoint_url or "")

    def key(self) -> str:
        """A short stable hash, used in local file names (lock files)."""
        text = f"{self.account_id}|{self.region}|{self.endpoint}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        where = f"account {self.account_id or '?'} in {self.region or '?'}"
        return f"{where} at {self.endpoint}" if self.endpoint else where

    def to_json(self) -> dict[str, str]:
        return {"account_id": self.account_id, "region": self.region, "endpoint": self.endpoint}


def matches(
    record_account: str,
    record_region: str,
    record_endpoint: str,
    account_id: str,
    region: str | None,
    endpoint: str | None,
) -> bool:
    """Whether a record made against (account, region, endpoint) belongs to the target in use.

    `region=None` (or "") accepts any region of the same account and endpoint: a workflow may
    name its own region, and its record is still the account's. A record without an account id
    belongs nowhere (it cannot be proven to be ours).
    """
    if not record_account or record_account != account_id:
        return False
    if normalise_endpoint(record_endpoint) != normalise_endpoint(endpoint):
        return False
    return not region or record_region == region
