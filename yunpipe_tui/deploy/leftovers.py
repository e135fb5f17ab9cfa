"""The leftover scan: what of a pipeline still exists in the account, by name and by tag.

Teardown ends with it, and it answers on its own for a pipeline torn down elsewhere. Each kind
scans for its own resources (`Kind.leftovers`, in `scan_rank` order); a last pass over the
Resource Groups Tagging API catches anything else carrying the pipeline's tag. Buckets and the
ledger table are not counted (they stay on purpose), but notification entries of ours left on
buckets are.

`present` answers per kind, buckets included: every kind a plan can create has a scan (kinds
without tags through their parent: Lambda permissions on the dispatchers, schedule targets on
the rules, notification entries on the buckets). tests/deploy/test_leftover_kinds.py proves it
kind by kind.
"""

from __future__ import annotations

from collections.abc import Sequence

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext
from yunpipe_tui.deploy.kinds import scanned
from yunpipe_tui.deploy.kinds.base import DATA, Scope

# Services whose deleted resources the tagging API may still list (ECS and Batch keep INACTIVE
# task and job definitions, EC2 terminated instances) or that stay on purpose (S3): checked by
# the kinds.
_TAG_SCAN_SKIP = {"s3", "ecs", "ec2", "cloudwatch", "dynamodb", "batch"}


def leftovers(
    ctx: AwsContext, pipeline: str, buckets: Sequence[str] = (), include_data: bool = False
) -> list[str]:
    """What still carries this pipeline's names or tag (buckets and the ledger table are not
    counted: they stay, unless `include_data` — teardown deleted data — asks for the ledger),
    including notification entries of ours left on `buckets`."""
    scope = Scope(ctx, pipeline, tuple(buckets), include_data)
    found: list[str] = []
    for kind in scanned():
        if kind.teardown_stage != DATA or (include_data and kind.leftover_with_data):
            found += kind.leftovers(scope)
    found += _tagged(ctx, pipeline, found)
    return found


def present(ctx: AwsContext, pipeline: str, buckets: Sequence[str] = ()) -> dict[str, list[str]]:
    """{kind: what of it exists} for every scanned kind, buckets included."""
    scope = Scope(ctx, pipeline, tuple(buckets), include_data=True)
    return {kind.name: kind.leftovers(scope) for kind in scanned()}


def _tagged(ctx: AwsContext, pipeline: str, known: list[str]) -> list[str]:
    """Anything else tagged yunpipe:pipeline=<pipeline>, from the Resource Groups Tagging API."""
    try:
        pages = (
            ctx.client("resourcegroupstaggingapi")
            .get_paginator("get_resources")
            .paginate(TagFilters=[{"Key": names.TAG_PIPELINE, "Values": [pipeline]}])
        )
        arns = [m["ResourceARN"] for page in pages for m in page["ResourceTagMappingList"]]
    except Exception:  # the tag scan is a cross-check; the name scan above already ran
        return []
    text = " ".join(known)
    out = []
    for arn in arns:
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        name = arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        if ":parameter/yunpipe/" in arn:  # the lock marker and registry record: bookkeeping
            continue
        if service and service not in _TAG_SCAN_SKIP and name not in text:
            out.append(f"tagged {arn}")
    return out
