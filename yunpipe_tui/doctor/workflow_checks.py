"""Checks that only a workflow makes possible, run in the workflow's region: its key pair, its
buckets (free, already ours, taken, or in another region), the default network and the AMI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import error_code
from yunpipe_tui.doctor.model import FAIL, OK, Facts, Outcome
from yunpipe_tui.doctor.services import check_ami

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext


def _wf_ctx(facts: Facts) -> AwsContext:
    """The context in the workflow's region (built once, before the checks run)."""
    return facts.workflow_ctx or facts.ctx


def check_key_pair(facts: Facts) -> Outcome:
    wf = facts.workflow
    assert wf is not None
    if not wf.key_pair:
        return OK, "no key pair named (instances get no SSH key)", None
    ctx = _wf_ctx(facts)
    try:
        ctx.client("ec2").describe_key_pairs(KeyNames=[wf.key_pair])
    except Exception as exc:
        if error_code(exc) in ("InvalidKeyPair.NotFound", "InvalidKeyPair.Malformed"):
            return (
                FAIL,
                f"key pair {wf.key_pair!r} does not exist in {ctx.region_name}; create or import "
                "it (EC2 console → Key Pairs) or remove key_pair from the workflow",
                None,
            )
        raise
    return OK, f"key pair {wf.key_pair!r} exists in {ctx.region_name}", None


def _buckets(facts: Facts) -> list[str]:
    wf = facts.workflow
    assert wf is not None
    out = [wf.input_bucket]
    for index in range(len(wf.steps) - 1):
        out.append(names.intermediate_bucket(wf.name, names.step_id(index), facts.account))
    out.append(wf.output_bucket)
    return out


def check_buckets(facts: Facts) -> Outcome:
    s3 = _wf_ctx(facts).client("s3")
    taken: list[str] = []
    ours: list[str] = []
    free: list[str] = []
    elsewhere: list[str] = []
    region = _wf_ctx(facts).region_name
    for bucket in _buckets(facts):
        try:
            answer = s3.head_bucket(Bucket=bucket)
            headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            where = answer.get("BucketRegion") or headers.get("x-amz-bucket-region") or region
            (ours if where == region else elsewhere).append(bucket)
        except Exception as exc:
            code = error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                free.append(bucket)
            elif code in ("403", "AccessDenied", "Forbidden"):
                taken.append(bucket)
            elif code in ("301", "PermanentRedirect", "400"):
                elsewhere.append(bucket)
            else:
                raise
    parts = []
    if free:
        parts.append("free: " + ", ".join(free))
    if ours:
        parts.append("already yours (will be used): " + ", ".join(ours))
    problems = []
    if taken:
        problems.append("taken by another account (choose other names): " + ", ".join(taken))
    if elsewhere:
        problems.append(
            f"exist in another region than {region} (S3 events reach only "
            "a dispatcher in the bucket's region): " + ", ".join(elsewhere)
        )
    if problems:
        return FAIL, "; ".join(problems + parts), None
    return OK, "; ".join(parts), None


def check_network(facts: Facts) -> Outcome:
    ctx = _wf_ctx(facts)
    ec2 = ctx.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        return (
            FAIL,
            f"no default VPC in {ctx.region_name}; create one (`aws ec2 create-default-vpc`)",
            None,
        )
    vpc = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    if not subnets:
        return FAIL, f"the default VPC {vpc} has no subnet in {ctx.region_name}", None
    return OK, f"default VPC {vpc} with {len(subnets)} subnet(s) in {ctx.region_name}", None


def check_workflow_ami(facts: Facts) -> Outcome:
    ctx = _wf_ctx(facts)
    return check_ami(Facts(ctx=ctx, workflow=facts.workflow, account=facts.account, arn=facts.arn))
