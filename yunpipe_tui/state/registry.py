"""The account's record of deployed pipelines: who owns a name, and which buckets feed which.

One SSM parameter per pipeline, `/yunpipe/pipelines/<pipeline>`, tagged `yunpipe:pipeline`,
holding `Deployed` as JSON. It lives in the account, so every machine deciding whether a name is
taken or a deploy would close a bucket loop decides from the same facts, with or without a
local journal.

Workflow identity (`workflow_id`): a workflow is where it lives, not what it says. Editing the
steps, variables or even the buckets of a file in place keeps its id (an edit of the same
workflow); another file, or the same file copied elsewhere, is another workflow and must say
`--replace` to take a deployed name over. The id hashes the file's canonical path and the
pipeline name; the host is left out on purpose so CI runners with changing host names that check
out the same repository path keep deploying "the same workflow".
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from yunpipe_tui import aws
from yunpipe_tui import resource_names as names
from yunpipe_tui.state import process
from yunpipe_tui.state._text import cap

PREFIX = "/yunpipe/pipelines/"
STANDARD_LIMIT = 4096  # bytes an SSM Standard parameter holds


def parameter_name(pipeline: str) -> str:
    return f"{PREFIX}{pipeline}"


def workflow_id(path: str | os.PathLike[str], pipeline: str) -> str:
    """A stable id of a workflow: its canonical file path and pipeline name, hashed."""
    canonical = os.path.realpath(os.path.abspath(Path(path).expanduser()))
    return hashlib.sha256(json.dumps([canonical, pipeline]).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Deployed:
    """One pipeline as the account records it. `buckets` is the chain input → … → output."""

    pipeline: str
    input_bucket: str
    output_bucket: str
    buckets: tuple[str, ...]
    workflow_id: str
    deployed_at: float = 0.0
    deployed_by: str = ""
    region: str = ""
    steps: tuple[str, ...] = ()  # algorithm names, in order

    @classmethod
    def new(
        cls,
        pipeline: str,
        buckets: list[str] | tuple[str, ...],
        workflow_id: str,
        region: str,
        steps: list[str] | tuple[str, ...] = (),
    ) -> Deployed:
        """A record for a deploy happening now, by this user on this host."""
        me = process.current_writer()
        chain = tuple(buckets)
        return cls(
            pipeline=pipeline,
            input_bucket=chain[0] if chain else "",
            output_bucket=chain[-1] if chain else "",
            buckets=chain,
            workflow_id=workflow_id,
            deployed_at=time.time(),
            deployed_by=f"{me['user']}@{me['host']}",
            region=region,
            steps=tuple(steps),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["buckets"] = list(self.buckets)
        data["steps"] = list(self.steps)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Deployed:
        """Raises ValueError naming the first field of the wrong shape."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        out: dict[str, Any] = {}
        for key in ("pipeline", "input_bucket", "output_bucket", "workflow_id"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"{key} is missing or not a string")
            out[key] = data[key]
        for key in ("deployed_by", "region"):
            value = data.get(key, "")
            if not isinstance(value, str):
                raise ValueError(f"{key} is not a string")
            out[key] = value
        at = data.get("deployed_at", 0)
        if isinstance(at, bool) or not isinstance(at, int | float):
            raise ValueError("deployed_at is not a number")
        out["deployed_at"] = float(at)
        for key in ("buckets", "steps"):
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{key} is not a list of names")
            out[key] = tuple(value)
        if not out["buckets"]:
            out["buckets"] = (out["input_bucket"], out["output_bucket"])
        return cls(**out)

    @property
    def when(self) -> str:
        if not self.deployed_at:
            return "at an unknown time"
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.deployed_at))


# --------------------------------------------------------------------------- SSM access


def read(ctx: Any, pipeline: str) -> Deployed | None:
    """The account's record of `pipeline`; None when there is none. ValueError if damaged."""
    try:
        param = ctx.client("ssm").get_parameter(Name=parameter_name(pipeline))["Parameter"]
    except Exception as exc:
        if aws.error_code(exc) == "ParameterNotFound" or aws.is_gone(exc):
            return None
        raise
    try:
        data = json.loads(param.get("Value", ""))
    except ValueError:
        raise ValueError(f"registry entry {parameter_name(pipeline)} is not JSON") from None
    try:
        return Deployed.from_json(data)
    except ValueError as exc:
        raise ValueError(f"registry entry {parameter_name(pipeline)} is damaged: {exc}") from None


def write(ctx: Any, record: Deployed) -> None:
    """Create or replace the account's record of `record.pipeline` (tagged on creation)."""
    ssm = ctx.client("ssm")
    name = parameter_name(record.pipeline)
    value = json.dumps(record.to_json(), separators=(",", ":"))
    kwargs: dict[str, Any] = {"Name": name, "Value": value, "Type": "String"}
    if len(value.encode()) > STANDARD_LIMIT:
        kwargs["Tier"] = "Intelligent-Tiering"
    tags = [{"Key": names.TAG_PIPELINE, "Value": record.pipeline}]
    try:
        ssm.put_parameter(
            **kwargs,
            Overwrite=False,
            Description="yunpipe: a deployed pipeline (owner, buckets)",
            Tags=tags,
        )
    except Exception as exc:
        if aws.error_code(exc) != "ParameterAlreadyExists":
            raise
        ssm.put_parameter(**kwargs, Overwrite=True)


def delete(ctx: Any, pipeline: str) -> bool:
    """Remove the account's record; False when there was none."""
    try:
        ctx.client("ssm").delete_parameter(Name=parameter_name(pipeline))
    except Exception as exc:
        if aws.error_code(exc) == "ParameterNotFound" or aws.is_gone(exc):
            return False
        raise
    return True


@dataclass(frozen=True)
class RegistryListing:
    records: list[Deployed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # one line per damaged entry


def list_all(ctx: Any) -> RegistryListing:
    """Every pipeline the account records (GetParametersByPath, all pages)."""
    paginator = ctx.client("ssm").get_paginator("get_parameters_by_path")
    records, warnings = [], []
    for page in paginator.paginate(Path=PREFIX.rstrip("/"), Recursive=True):
        for param in page.get("Parameters", []):
            name = str(param.get("Name", ""))
            try:
                records.append(Deployed.from_json(json.loads(param.get("Value", ""))))
            except ValueError as exc:
                warnings.append(
                    f"registry entry {cap(name)} is damaged ({cap(exc)}); it is left out of "
                    "the ownership and loop checks"
                )
    records.sort(key=lambda r: r.pipeline)
    return RegistryListing(records, warnings)


# --------------------------------------------------------------------------- ownership


@dataclass(frozen=True)
class Ownership:
    """The verdict on deploying `new` over what the account records under its name.

    - `problem`: why the deploy is refused (None when allowed);
    - `moves_from`: an old input bucket whose notification must be moved off (same workflow
      with a new input bucket, or a `--replace` takeover of another input bucket);
    - `takes_over`: a `--replace` of another workflow's pipeline.
    """

    problem: str | None = None
    moves_from: str | None = None
    takes_over: bool = False

    @property
    def allowed(self) -> bool:
        return self.problem is None


def check_ownership(existing: Deployed | None, new: Deployed, replace: bool) -> Ownership:
    if existing is None:
        return Ownership()
    other_workflow = existing.workflow_id != new.workflow_id
    other_input = existing.input_bucket != new.input_bucket
    moves = existing.input_bucket if other_input else None
    if not other_workflow:
        return Ownership(moves_from=moves)
    if replace:
        return Ownership(moves_from=moves, takes_over=True)
    by = f" by {cap(existing.deployed_by)}" if existing.deployed_by else ""
    return Ownership(
        problem=(
            f"pipeline {cap(new.pipeline)} is already deployed from another workflow{by} "
            f"(input bucket {cap(existing.input_bucket)}, deployed {existing.when}); choose "
            "another pipeline name, or take it over with --replace"
        )
    )


def ownership_problem(existing: Deployed | None, new: Deployed, replace: bool) -> str | None:
    """The refusal line, or None; `check_ownership` also says what moves."""
    return check_ownership(existing, new, replace).problem


# --------------------------------------------------------------------------- loops and sharing


Edge = tuple[str, str, str]  # from bucket, to bucket, pipeline


def _edges(records: list[Deployed]) -> list[Edge]:
    out: list[Edge] = []
    for r in records:
        chain = r.buckets or (r.input_bucket, r.output_bucket)
        out.extend((a, b, r.pipeline) for a, b in pairwise(chain))
    return out


def _describe(path: list[Edge]) -> str:
    """`x → [p1] → y → [p2] → x`, merging consecutive steps of one pipeline."""
    parts = [path[0][0]]
    for i, (_, b, label) in enumerate(path):
        last = i == len(path) - 1
        if not last and path[i + 1][2] == label:
            continue
        parts += [f"[{label}]", b]
    return " → ".join(cap(p, 63) for p in parts)


def find_loop(records: list[Deployed], new: Deployed) -> str | None:
    """The shortest loop through `new` among the account's pipelines (named), or None."""
    others = [r for r in records if r.pipeline != new.pipeline]
    edges = _edges([*others, new])
    out: dict[str, list[Edge]] = {}
    for edge in edges:
        out.setdefault(edge[0], []).append(edge)
    best: list[Edge] | None = None
    for first in _edges([new]):
        start, after = first[0], first[1]
        # breadth-first from the end of `first` back to its start
        previous: dict[str, Edge | None] = {after: None}
        queue = deque([after])
        while queue and start not in previous:
            node = queue.popleft()
            for edge in out.get(node, []):
                if edge[1] not in previous:
                    previous[edge[1]] = edge
                    queue.append(edge[1])
        if start == after:
            path = [first]
        elif start in previous:
            path = []
            node = start
            while node != after:
                step = previous[node]
                assert step is not None
                path.append(step)
                node = step[0]
            path = [first, *reversed(path)]
        else:
            continue
        if best is None or len(path) < len(best):
            best = path
    return _describe(best) if best else None


def loop_problem(records: list[Deployed], new: Deployed) -> str | None:
    """The refusal line when deploying `new` would feed a bucket back into itself."""
    loop = find_loop(records, new)
    if loop is None:
        return None
    return (
        f"pipeline {cap(new.pipeline)} would close a loop through the account's yunpipe "
        f"pipelines: {loop}; every result would be processed again without end. Choose an "
        "output bucket that no pipeline reads from"
    )


def shared_input_warning(records: list[Deployed], new: Deployed) -> str | None:
    """A warning when `new`'s input bucket already feeds another pipeline (each gets uploads)."""
    feeding = sorted(
        r.pipeline
        for r in records
        if r.pipeline != new.pipeline and new.input_bucket in r.buckets[:-1]
    )
    if not feeding:
        return None
    return (
        f"input bucket {cap(new.input_bucket, 63)} already feeds pipeline(s) "
        f"{cap(', '.join(feeding))}; every upload will be processed by each of them"
    )
