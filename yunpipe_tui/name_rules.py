"""AWS naming rules that input must meet before anything is created."""

from __future__ import annotations

import re
from functools import cache

from yunpipe_tui.input_rules import quote

_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "sthree-configurator", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problems(name: str) -> list[str]:
    """Every S3 general-purpose bucket naming rule the name breaks, each with what to do."""
    problems: list[str] = []
    if not 3 <= len(name) <= 63:
        problems.append(
            f"bucket name {quote(name)} must be 3 to 63 characters long (it has {len(name)})"
        )
        if len(name) > 255:
            return problems  # nothing else about it matters; don't scan megabytes
    if not _BUCKET_CHARS.match(name or "-"):
        bad = sorted(set(re.sub(r"[a-z0-9.-]", "", name)))
        shown = " ".join(repr(c) for c in bad[:10]) if bad else "none"
        problems.append(
            f"bucket name {quote(name)} may hold only lowercase letters, digits, '.' and '-' "
            f"(found {shown})"
        )
    if name and (not name[0].isalnum() or not name[-1].isalnum()):
        problems.append(f"bucket name {quote(name)} must begin and end with a letter or digit")
    if ".." in name:
        problems.append(f"bucket name {quote(name)} must not contain '..'")
    if _IPV4.match(name):
        problems.append(f"bucket name {quote(name)} must not look like an IP address")
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            problems.append(
                f"bucket name {quote(name)} must not start with the reserved {prefix!r}"
            )
            break
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            problems.append(f"bucket name {quote(name)} must not end with the reserved {suffix!r}")
            break
    return problems


# `yunpipe-<pipeline>-s<k>-...` must parse one way only: a pipeline name never holds a later
# segment that looks like a step id (`x-s2` would make `yunpipe-x-s2` both pipeline `x`'s step 2
# and pipeline `x-s2`, and a prefix scan for one would find the other's resources).
_STEP_SEGMENT = re.compile(r"-s(\d+)(?=-|$)")


def pipeline_name_problem(name: str) -> str | None:
    if _STEP_SEGMENT.search(name):
        return (
            f"pipeline name {quote(name)} must not contain '-s<number>' (yunpipe names steps that "
            "way); e.g. use '-step2' or '-v2'"
        )
    return None


def normalise_pipeline_name(raw: str) -> str:
    """A file stem or free text as a pipeline name usable inside AWS resource names."""
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)[:31].strip("-")
    name = _STEP_SEGMENT.sub(r"-step\1", name)[:31].strip("-")
    return name or "pipeline"


@cache
def known_regions() -> frozenset[str]:
    """Every region botocore knows, across partitions."""
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return frozenset(regions)
