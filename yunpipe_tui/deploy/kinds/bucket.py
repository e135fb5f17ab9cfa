"""S3 buckets: the workflow's input and output buckets and a sequence's intermediates.

Buckets that existed before are the user's: kept as they are (a warning when one is not blocked
from public access), never deleted. Teardown deletes the ones yunpipe created only on request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_code
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    DATA,
    GONE_MARK,
    MISSING,
    Kind,
    Ops,
    Scope,
    removed,
    tag_list,
    unless_gone,
)
from yunpipe_tui.deploy.layout import PipelineLayout, bucket_key
from yunpipe_tui.deploy.model import Resource, tags_for
from yunpipe_tui.errors import AwsError


class Bucket(Kind):
    name = "bucket"
    label = "S3 bucket"
    user_owned_when_found = True
    teardown_stage = DATA
    scan_rank = 5  # reported by `present`, never a leftover: buckets stay unless asked

    def plan_shared(self, layout: PipelineLayout) -> list[Resource]:
        chain, step_ids = layout.chain, layout.step_ids
        out = []
        for i, bucket in enumerate(chain):
            role = "input" if i == 0 else "output" if i == len(chain) - 1 else "intermediate"
            out.append(
                Resource(
                    key=bucket_key(bucket),
                    kind=self.name,
                    name=bucket,
                    group="buckets",
                    config={"role": role, "region": layout.region},
                    tags=tags_for(
                        layout.pipeline, step_ids[i - 1] if role == "intermediate" else ""
                    ),
                )
            )
        return out

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        s3 = ops.ctx.client("s3")
        try:
            s3.head_bucket(Bucket=r.name)
        except Exception as exc:
            code = error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                return MISSING, {}
            if code in ("403", "AccessDenied", "Forbidden"):
                raise AwsError(
                    f"bucket {r.name} exists but is owned by someone else (403); "
                    "choose another bucket name in the workflow"
                ) from None
            raise
        return CURRENT, {"bucket": r.name}

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        s3 = ops.ctx.client("s3")
        region = cfg["region"]
        kwargs: dict[str, Any] = {"Bucket": r.name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**kwargs)
        except Exception as exc:
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        s3.put_public_access_block(
            Bucket=r.name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=r.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_tagging(Bucket=r.name, Tagging={"TagSet": tag_list(r.tags)})
        return {"bucket": r.name}

    def kept(self, ops: Ops, r: Resource) -> None:
        """Warn about an existing bucket that is not fully blocked from public access."""
        s3 = ops.ctx.client("s3")
        try:
            block = s3.get_public_access_block(Bucket=r.name)["PublicAccessBlockConfiguration"]
            blocked = all(block.get(k) for k in ("BlockPublicAcls", "BlockPublicPolicy"))
        except Exception:
            blocked = False
        if not blocked:
            ops.warn(
                f"bucket {r.name} existed already and does not block public access; "
                "yunpipe leaves it as it is — check that this is what you want"
            )

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        """Every object version, then the bucket (only for buckets yunpipe created)."""
        s3 = ctx.client("s3")
        if unless_gone(lambda: s3.head_bucket(Bucket=name)) is GONE_MARK:
            return False
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=name):
            batch = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for i in range(0, len(batch), 1000):
                s3.delete_objects(Bucket=name, Delete={"Objects": batch[i : i + 1000]})
        return removed(lambda: s3.delete_bucket(Bucket=name))

    def tagged(self, scope: Scope) -> Iterator[str]:
        """Buckets carrying this pipeline's tag (the ones yunpipe created for it)."""
        paginator = scope.ctx.client("resourcegroupstaggingapi").get_paginator("get_resources")
        for page in paginator.paginate(
            ResourceTypeFilters=["s3"],
            TagFilters=[{"Key": names.TAG_PIPELINE, "Values": [scope.pipeline]}],
        ):
            for item in page.get("ResourceTagMappingList", []):
                yield str(item["ResourceARN"]).rsplit(":", 1)[-1]

    def leftovers(self, scope: Scope) -> list[str]:
        return [f"bucket {name}" for name in self.tagged(scope)]
