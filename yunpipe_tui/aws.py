"""The one place that builds AWS sessions and clients.

Profile, region, endpoint (`AWS_ENDPOINT_URL`, honoured by botocore itself), retry mode and the
API-call counter are decided here; nothing else calls `boto3.client(...)`.

Extra credential sources (yunpipe's keyring store) are not known here: the caller that builds
the first context (the CLI, the wizard) passes them in as a `CredentialProvider`, so this module
stays on the lowest floor and imports nothing of yunpipe.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

DEFAULT_REGION = "us-east-1"
# Standard mode retries throttling (ThrottlingException, TooManyRequestsException,
# RequestLimitExceeded, SlowDown, ...) and transient errors with jittered backoff.
RETRY_MODE = "standard"
MAX_ATTEMPTS = 8

# Adds a credential source to a fresh botocore session for a profile (None: the default one).
CredentialProvider = Callable[[Any, str | None], Any]


class CallCounter:
    """Counts API calls per `service.Operation`, thread-safe; attached to every client we build."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def __call__(self, event_name: str = "", **_: Any) -> None:
        # event_name: before-call.<service>.<Operation>
        parts = event_name.split(".")
        key = ".".join(parts[1:3]) if len(parts) >= 3 else event_name
        with self._lock:
            self.calls[key] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.calls)


COUNTER = CallCounter()


@dataclass
class AwsContext:
    """Where and as whom yunpipe talks to AWS. Cheap to build; clients are cached per service."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    counter: CallCounter = field(default_factory=lambda: COUNTER)
    max_attempts: int = MAX_ATTEMPTS
    provider: CredentialProvider | None = field(default=None, repr=False)
    _session: Any = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _hooks: list[tuple[str, Any]] = field(default_factory=list, repr=False)

    @property
    def session(self) -> boto3.Session:
        with self._lock:
            if self._session is None:
                self._session = self._make_session()
            return self._session

    def _make_session(self) -> boto3.Session:
        import boto3
        import botocore.session

        core = botocore.session.get_session()
        if self.provider is not None:
            self.provider(core, self.profile)
        return boto3.Session(
            botocore_session=core, profile_name=self.profile, region_name=self.region
        )

    @property
    def region_name(self) -> str:
        return self.session.region_name or DEFAULT_REGION

    def profile_status(self) -> tuple[str, bool]:
        """The profile this context asks for ('' when none: `--profile`, else `AWS_PROFILE`) and
        whether it exists (in the AWS config files or yunpipe's keyring). With no profile asked
        for, the answer is whether a `default` profile exists. Reads files only, never AWS."""
        if self._session is not None and self.profile is None and self.provider is None:
            return "", False  # a session built by the caller (fixed keys, the sandbox)
        import botocore.session

        try:
            core = botocore.session.get_session()
            if self.provider is not None:
                self.provider(core, self.profile)
            asked = self.profile or core.get_config_variable("profile") or ""
            return asked, (asked or "default") in core.available_profiles
        except Exception:  # unreadable config files: the credentials check says why
            return self.profile or "", False

    def profile_label(self) -> str:
        """What to call the profile in a title: `profile NAME`, `profile NAME (not found)` or
        `no profile` (keys from the environment, or nothing set up yet)."""
        asked, exists = self.profile_status()
        if asked:
            return f"profile {asked}" if exists else f"profile {asked} (not found)"
        return "profile default" if exists else "no profile"

    def missing_profile(self) -> str:
        """The name of the profile asked for when it does not exist, else ''."""
        asked, exists = self.profile_status()
        return asked if asked and not exists else ""

    def add_hook(self, event: str, handler: Any) -> None:
        """Register a botocore hook on every client (tests and benchmarks: faults, latency)."""
        self._hooks.append((event, handler))
        for client in self._clients.values():
            client.meta.events.register(event, handler)

    def client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
        if client is not None:
            return client
        from botocore.config import Config

        config = Config(
            retries={"mode": RETRY_MODE, "max_attempts": self.max_attempts},
            max_pool_connections=32,
            user_agent_extra="yunpipe",
        )
        kwargs: dict[str, Any] = {"region_name": self.region_name, "config": config}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        client = self.session.client(service, **kwargs)
        client.meta.events.register("before-call.*.*", self.counter)
        for event, handler in self._hooks:
            client.meta.events.register(event, handler)
        with self._lock:
            return self._clients.setdefault(service, client)

    @classmethod
    def from_environment(
        cls,
        profile: str | None = None,
        region: str | None = None,
        *,
        provider: CredentialProvider | None = None,
    ) -> AwsContext:
        """A context for the user's profile and region, on `AWS_ENDPOINT_URL` when it is set."""
        return cls(
            profile=profile,
            region=region,
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            provider=provider,
        )

    @classmethod
    def from_session(
        cls,
        session: boto3.Session,
        *,
        endpoint_url: str | None = None,
        counter: CallCounter | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> AwsContext:
        """A context over a session the caller built (fixed keys, the sandbox's dummy ones)."""
        return cls(
            profile=session.profile_name if session.profile_name != "default" else None,
            region=session.region_name,
            endpoint_url=endpoint_url,
            counter=counter or COUNTER,
            max_attempts=max_attempts,
            _session=session,
        )

    def with_attempts(self, max_attempts: int) -> AwsContext:
        """The same identity and session, with another retry budget (one-shot probes)."""
        return AwsContext(
            profile=self.profile,
            region=self.region_name,
            endpoint_url=self.endpoint_url,
            counter=self.counter,
            max_attempts=max_attempts,
            provider=self.provider,
            _session=self.session,
            _hooks=list(self._hooks),
        )

    def for_region(self, region: str) -> AwsContext:
        """The same identity in another region (a workflow may name its own)."""
        if region == self.region_name:
            return self
        return AwsContext(
            profile=self.profile,
            region=region,
            endpoint_url=self.endpoint_url,
            counter=self.counter,
            max_attempts=self.max_attempts,
            provider=self.provider,
            _hooks=list(self._hooks),
        )


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, or ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    """AWS's own words for a failure, without request ids or secrets."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        code, msg = err.get("Code", ""), err.get("Message", "")
        op = getattr(exc, "operation_name", "")
        text = f"{code}: {msg}" if msg else code
        return f"{op} failed: {text}" if op else text
    return str(exc) or exc.__class__.__name__


# --------------------------------------------------------------------------- classification
# The one place that knows which AWS error codes mean what; callers ask, never match codes.

_GONE = frozenset(
    {
        "NoSuchEntity",
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NoSuchBucket",
        "404",
        "ClusterNotFoundException",
        "InvalidInstanceID.NotFound",
    }
)
_MISSING_QUEUE = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


def is_gone(exc: BaseException) -> bool:
    """AWS says the resource does not exist (any service's way of saying it)."""
    code = error_code(exc)
    if code in ("InvalidParameterException", "ClientException"):
        # ECS says "The referenced task/container instance was not found." this way, Batch
        # "Job queue ... does not exist".
        text = str(exc).lower()
        return "not found" in text or "does not exist" in text
    return code in _GONE or "NotFound" in code or "NonExistent" in code


def is_missing_queue(exc: BaseException) -> bool:
    """SQS says the queue does not exist."""
    return error_code(exc) in _MISSING_QUEUE


def is_denied(exc: BaseException) -> bool:
    """The caller lacks permission (IAM, SCP or a resource policy)."""
    code = error_code(exc)
    return code in _DENIED or "AccessDenied" in code


def is_throttled(exc: BaseException) -> bool:
    """AWS asked us to slow down; worth a retry later."""
    return error_code(exc) in _THROTTLED
