"""Before deploying anything: who we are, where, and whether the account has what yunpipe needs.

    facts = account_facts(ctx, workflow)           # AccountFacts (STS, SSM, EC2 reads)
    problems = check(ctx, workflow, plan)          # list[str]; empty means go
    require(ctx, workflow, plan)                   # raises YunpipeError naming the first problems

Nothing here creates or changes a resource.
"""

from __future__ import annotations

from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_code, error_message
from yunpipe_tui.deploy.model import AccountFacts, Plan
from yunpipe_tui.errors import AwsError, YunpipeError
from yunpipe_tui.workflow import BATCH, Workflow

AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
GPU_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
DOCTOR_HINT = "run `yunpipe doctor --fix` to create it"


def region_context(ctx: AwsContext, workflow: Workflow) -> AwsContext:
    """The workflow's region wins over the profile's."""
    return ctx.for_region(workflow.region) if workflow.region else ctx


def caller_account(ctx: AwsContext) -> str:
    try:
        return str(ctx.client("sts").get_caller_identity()["Account"])
    except Exception as exc:
        name = type(exc).__name__
        if name in ("NoCredentialsError", "PartialCredentialsError"):
            raise YunpipeError(
                "no AWS credentials found; run `yunpipe creds set`, set AWS_PROFILE, "
                "or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            ) from None
        raise AwsError(f"cannot identify the AWS account: {error_message(exc)}") from None


def _ami(ctx: AwsContext, parameter: str, what: str) -> str:
    try:
        return str(ctx.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"])
    except Exception as exc:
        raise AwsError(f"cannot read the {what} id ({parameter}): {error_message(exc)}") from None


def account_facts(ctx: AwsContext, workflow: Workflow, gpu: bool = False) -> AccountFacts:
    """Account id, region, the ECS-optimized AMI (and the GPU one when a step needs GPUs),
    default-VPC subnets, lambda_exec_role's ARN."""
    ctx = region_context(ctx, workflow)
    account = caller_account(ctx)
    ami = _ami(ctx, AMI_PARAMETER, "ECS-optimized AMI")
    gpu_ami = _ami(ctx, GPU_AMI_PARAMETER, "ECS GPU-optimized AMI") if gpu else ""
    subnets: list[str] = []
    security_group = ""
    ec2 = ctx.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}]).get("Vpcs", [])
    if vpcs:
        in_vpc = [{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}]
        found = ec2.describe_subnets(Filters=in_vpc).get("Subnets", [])
        subnets = sorted(s["SubnetId"] for s in found if s.get("DefaultForAz", True))
        if workflow.compute.backend == BATCH:
            # Batch's compute environments name their security group; the ECS backend's
            # instances take the VPC's default one implicitly.
            security_group = _default_security_group(ec2, in_vpc)
    role_arn = ""
    try:
        role_arn = ctx.client("iam").get_role(RoleName=names.LAMBDA_EXEC_ROLE)["Role"]["Arn"]
    except Exception as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
    return AccountFacts(
        account_id=account,
        region=ctx.region_name,
        ami_id=ami,
        gpu_ami_id=gpu_ami,
        subnet_ids=tuple(subnets),
        security_group_id=security_group,
        lambda_role_arn=role_arn,
        endpoint_url=ctx.endpoint_url or "",
    )


def _default_security_group(ec2: Any, in_vpc: list[dict[str, Any]]) -> str:
    """The id of the VPC's security group called "default", or ""."""
    filters = [*in_vpc, {"Name": "group-name", "Values": ["default"]}]
    groups = ec2.describe_security_groups(Filters=filters).get("SecurityGroups", [])
    return str(groups[0]["GroupId"]) if groups else ""


def batch_problems(facts: AccountFacts) -> list[str]:
    """What the Batch backend needs of the network that the account facts show (the instance
    profile ecsInstanceRole is checked for every backend)."""
    problems = []
    if not facts.subnet_ids:
        problems.append(
            f"compute.backend batch: no default VPC with subnets in {facts.region}; Batch "
            "launches its instances there: create one (`aws ec2 create-default-vpc`) or use "
            "backend ecs"
        )
    elif not facts.security_group_id:
        problems.append(
            f"compute.backend batch: the default VPC in {facts.region} has no security group "
            'called "default"; create one (EC2 → Security groups) or use backend ecs'
        )
    return problems


def check(ctx: AwsContext, workflow: Workflow, plan: Plan | None = None) -> list[str]:
    """Every reason not to deploy, each one line saying what to do. Read-only."""
    ctx = region_context(ctx, workflow)
    problems: list[str] = []
    if workflow.compute.backend == BATCH:
        facts = plan.facts if plan is not None else account_facts(ctx, workflow)
        problems += batch_problems(facts)
    account = caller_account(ctx)
    if workflow.account_id and workflow.account_id != account:
        problems.append(
            f"the workflow's account_id {workflow.account_id} is not the account of these "
            f"credentials ({account}); use the right profile or fix account_id"
        )
    if workflow.key_pair:
        try:
            ctx.client("ec2").describe_key_pairs(KeyNames=[workflow.key_pair])
        except Exception as exc:
            if "NotFound" in error_code(exc):
                problems.append(
                    f"key pair {workflow.key_pair!r} does not exist in {ctx.region_name}; "
                    "create it (EC2 → Key pairs) or remove key_pair from the workflow"
                )
            else:
                raise AwsError(f"checking key pair: {error_message(exc)}") from None
    iam = ctx.client("iam")
    for role in (names.LAMBDA_EXEC_ROLE, names.ECS_INSTANCE_ROLE):
        try:
            iam.get_role(RoleName=role)
        except Exception as exc:
            if error_code(exc) != "NoSuchEntity":
                raise AwsError(f"checking role {role}: {error_message(exc)}") from None
            problems.append(f"IAM role {role} is missing; {DOCTOR_HINT}")
    try:
        iam.get_instance_profile(InstanceProfileName=names.ECS_INSTANCE_ROLE)
    except Exception as exc:
        if error_code(exc) != "NoSuchEntity":
            raise AwsError(f"checking instance profile: {error_message(exc)}") from None
        problems.append(f"instance profile {names.ECS_INSTANCE_ROLE} is missing; {DOCTOR_HINT}")
    buckets = (
        [r.name for r in plan.buckets]
        if plan is not None
        else [workflow.input_bucket, workflow.output_bucket]
    )
    s3 = ctx.client("s3")
    for bucket in buckets:
        try:
            s3.head_bucket(Bucket=bucket)
        except Exception as exc:
            code = error_code(exc)
            if code in ("403", "AccessDenied", "Forbidden"):
                problems.append(
                    f"bucket {bucket} is owned by someone else (403); "
                    "choose another bucket name in the workflow"
                )
            elif code in ("301", "PermanentRedirect", "400"):
                problems.append(
                    f"bucket {bucket} exists in another region than {ctx.region_name}; S3 can "
                    "only notify a dispatcher in its own region: set the workflow's region to "
                    "the bucket's, or choose another bucket"
                )
            elif code not in ("404", "NoSuchBucket", "NotFound"):
                raise AwsError(f"checking bucket {bucket}: {error_message(exc)}") from None
    return problems


def require(ctx: AwsContext, workflow: Workflow, plan: Plan | None = None) -> None:
    problems = check(ctx, workflow, plan)
    if problems:
        raise YunpipeError("\n".join(problems))
