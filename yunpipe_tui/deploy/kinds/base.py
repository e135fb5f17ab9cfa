"""What every resource kind module builds on: the `Kind` interface and the helpers kinds share.

A kind answers five questions about one sort of AWS resource: which `Resource`s a pipeline needs
(`plan_shared` once, `plan_step` per step), what exists (`inspect`), how to make it
(`create`/`update`), how to remove it (`delete`), and how the account-wide scans find stray ones
(`sweep` during teardown, `leftovers` afterwards). Defaults do nothing, so a kind overrides only
what applies to it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, is_gone

if TYPE_CHECKING:
    from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout
    from yunpipe_tui.deploy.model import Resource

MISSING, STALE, CURRENT = "missing", "stale", "current"

# When teardown deletes a kind's journal entries: with the reverse walk of the journal, after the
# sweep (what the swept instances and tasks still need), or last and only on request (user data).
EARLY, LATE, DATA = 0, 1, 2

GONE_MARK = object()


def unless_gone(fn: Callable[[], Any]) -> Any:
    """fn()'s result, or GONE_MARK when AWS says the resource no longer exists."""
    try:
        return fn()
    except Exception as exc:
        if is_gone(exc):
            return GONE_MARK
        raise


def removed(fn: Callable[[], Any]) -> bool:
    """Run a delete; False when the thing was already gone."""
    return unless_gone(fn) is not GONE_MARK


def tag_list(
    tags: Mapping[str, str], key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


def json_equal(a: Any, b: Any) -> bool:
    def norm(x: Any) -> Any:
        if isinstance(x, str):
            try:
                x = json.loads(x)
            except ValueError:
                return x
        return json.loads(json.dumps(x, sort_keys=True))

    return norm(a) == norm(b)


def step_pattern(pipeline: str) -> re.Pattern[str]:
    """Names of this pipeline's per-step resources, and no other pipeline's."""
    return re.compile(re.escape(names.base(pipeline)) + r"-s\d+(-[a-z]+)?$")


class Ops:
    """What inspect/create/update get besides the resource: the AWS context (in the plan's
    region), the dispatcher's zip (built once, on first use), sleep, warn and a bounded retry."""

    def __init__(
        self,
        ctx: AwsContext,
        code: Callable[[], bytes],
        sleep: Callable[[float], None],
        warn: Callable[[str], None],
    ) -> None:
        self.ctx = ctx
        self._code = code
        self._zip: bytes | None = None
        self._zip_lock = threading.Lock()
        self.sleep = sleep
        self.warn = warn

    def zip(self) -> bytes:
        with self._zip_lock:
            if self._zip is None:
                self._zip = self._code()
            return self._zip

    def retry(
        self,
        call: Callable[[], Any],
        matches: Callable[[BaseException], bool],
        attempts: int = 8,
        first: float = 1.0,
        cap: float = 8.0,
    ) -> Any:
        """Retry `call` while it fails with an error `matches` accepts; bounded backoff."""
        delay = first
        for attempt in range(attempts):
            try:
                return call()
            except Exception as exc:
                if attempt == attempts - 1 or not matches(exc):
                    raise
            self.sleep(delay)
            delay = min(cap, delay * 2)
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class Found:
    """A resource the teardown sweep found that neither the journal walk nor the tag sweep
    removed, and how to delete it. `tagged`: found through this pipeline's tag (or a tagged
    parent), so teardown deletes it; otherwise it only matches a derived name and teardown
    reports it and leaves it alone."""

    key: str
    kind: str
    name: str
    delete: Callable[[], bool]
    group: str = "shared"
    tagged: bool = False


@dataclass(frozen=True)
class Scope:
    """What the account-wide scans look for: one pipeline's names (and its buckets)."""

    ctx: AwsContext
    pipeline: str
    buckets: Sequence[str] = ()
    include_data: bool = False  # teardown was asked to delete data: data kinds scan too

    @property
    def base(self) -> str:
        return names.base(self.pipeline)

    @property
    def pattern(self) -> re.Pattern[str]:
        return step_pattern(self.pipeline)


class Kind:
    """One sort of resource. Subclasses set `name` and `label` and override what applies.

    `sweep_rank` and `scan_rank` order the account-wide scans (their AWS calls run in rank
    order); a kind without a sweep or scan leaves them at None."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    in_plan: ClassVar[bool] = True  # False: launched at run time (instances), never planned
    user_owned_when_found: ClassVar[bool] = False  # found existing: the user's, not ours
    teardown_stage: ClassVar[int] = EARLY
    sweep_rank: ClassVar[int | None] = None
    scan_rank: ClassVar[int | None] = None
    # A data kind (teardown stage DATA) that counts as a leftover once teardown was asked to
    # delete the data (the ledger table); buckets never do: the user's own ones always stay.
    leftover_with_data: ClassVar[bool] = False

    # the plan

    def plan_shared(self, layout: PipelineLayout) -> list[Resource]:
        """The resources of this kind the whole pipeline shares."""
        return []

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        """The resources of this kind one step needs."""
        return []

    # deploy: `cfg` is the resource's resolved config

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError(f"{self.name} is not deployed by the engine")

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name} is not deployed by the engine")

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name} is not deployed by the engine")

    def kept(self, ops: Ops, r: Resource) -> None:
        """Called when the resource was found as wanted (nothing changed)."""

    # teardown

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool | None:
        """Remove one journal entry; True when removed, False when already gone.
        None: teardown does not delete this kind by its journal entry."""
        return None

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        """Resources matching this pipeline's names that are not in `known` (the names the
        journal and the tag sweep already handled). Teardown deletes those marked `tagged`
        and reports the others as look-alikes."""
        return iter(())

    def leftovers(self, scope: Scope) -> list[str]:
        """One line per resource of this kind that still exists ("<what> <name>")."""
        return []

    def stray(self, scope: Scope, name: str) -> Found:
        """A resource of this kind found by name that the journal does not list."""
        return Found(f"extra/{name}", self.name, name, partial(self._delete_stray, scope.ctx, name))

    def _delete_stray(self, ctx: AwsContext, name: str) -> bool:
        return bool(self.delete(ctx, name, {}))
