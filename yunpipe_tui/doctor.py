"""The prerequisite doctor: checks that an account is ready for yunpipe, and fixes what it can.

Each check has an id, a title, a status (ok / warn / fail), a one-paragraph detail and, where one
exists, a fix (what it will do and the exact policy JSON it will apply). Checks run concurrently;
a check that raises becomes a failed check carrying the error.

Core API (no printing, no prompts; used by `yunpipe doctor` and the wizard's Doctor screen):
    run_checks(ctx, workflow=None) -> list[CheckResult]
    apply_fix(ctx, check_id) -> str            # what was done, one line
    report_json(results) -> dict               # {"ok": bool, "checks": [...]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from yunpipe_tui import prerequisite_policies as pol
from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import is_denied
from yunpipe_tui.errors import YunpipeError

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.workflow import Workflow

Status = Literal["ok", "warn", "fail"]
OK: Status = "ok"
WARN: Status = "warn"
FAIL: Status = "fail"

AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
MAX_WORKERS = 8


@dataclass(frozen=True)
class Fix:
    """What a fix will do, and the exact IAM documents it applies (None when it applies none)."""

    description: str
    policy: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "policy": self.policy}


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: Status
    detail: str
    fix: Fix | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix.to_json() if self.fix else None,
        }


@dataclass
class Facts:
    """What checks share: the AWS context, the workflow, and the caller's identity."""

    ctx: AwsContext
    workflow: Workflow | None = None
    account: str = ""
    arn: str = ""
    source: str = ""
    workflow_ctx: AwsContext | None = None

    @property
    def region(self) -> str:
        return self.ctx.region_name


Outcome = tuple[Status, str, Fix | None]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    run: Callable[[Facts], Outcome]
    needs_credentials: bool = True
    workflow_only: bool = False
    fixer: Callable[[Facts], str] | None = field(default=None, compare=False)


# --------------------------------------------------------------------------- helpers


def _code(exc: BaseException) -> str:
    from yunpipe_tui.aws import error_code

    return error_code(exc)


def _msg(exc: BaseException) -> str:
    from yunpipe_tui.aws import error_message

    return error_message(exc)


def _get_role(iam: Any, name: str) -> dict[str, Any] | None:
    try:
        return iam.get_role(RoleName=name)["Role"]
    except Exception as exc:
        if _code(exc) == "NoSuchEntity":
            return None
        raise


def _trust_doc(role: dict[str, Any]) -> dict[str, Any]:
    doc = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(doc, str):
        from urllib.parse import unquote

        doc = json.loads(unquote(doc))
    return doc


def _attached(iam: Any, role: str) -> list[str]:
    arns: list[str] = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        arns += [p["PolicyArn"] for p in page["AttachedPolicies"]]
    return arns


def _as_doc(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        from urllib.parse import unquote

        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return json.loads(unquote(raw))
    return raw or {}


def _role_documents(iam: Any, role: str) -> list[dict[str, Any]]:
    """Every identity policy document on a role: inline and attached managed ones."""
    docs: list[dict[str, Any]] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for name in page["PolicyNames"]:
            docs.append(
                _as_doc(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
            )
    for arn in _attached(iam, role):
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
        docs.append(_as_doc(doc["Document"]))
    return docs


def _tags() -> list[dict[str, str]]:
    return [{"Key": names.TAG_MANAGED, "Value": "true"}]


# --------------------------------------------------------------------------- credentials, region

_SOURCES = {
    "env": "environment variables",
    "explicit": "explicit keys",
    "shared-credentials-file": "a profile in the shared credentials file (plaintext)",
    "config-file": "a profile in the AWS config file (plaintext)",
    "custom-process": "a credential_process",
    "sso": "AWS SSO / IAM Identity Center",
    "assume-role": "an assume-role profile",
    "assume-role-with-web-identity": "web identity",
    "container-role": "the container's role",
    "iam-role": "the instance's role",
    "boto-config": "a boto config file (plaintext)",
    "ec2-credentials-file": "the EC2 credentials file",
    "yunpipe-keyring": "yunpipe's keyring",
}


def describe_source(ctx: AwsContext) -> str:
    creds = ctx.session.get_credentials()
    if creds is None:
        return ""
    method = getattr(creds, "method", "") or "unknown"
    text = _SOURCES.get(method, method)
    profile = ctx.session.profile_name
    if method not in ("env", "iam-role", "container-role") and profile:
        text += f", profile {profile!r}"
    return text


def check_credentials(facts: Facts) -> Outcome:
    ctx = facts.ctx
    source = describe_source(ctx)
    if not source:
        return (
            FAIL,
            "no AWS credentials found. Run `yunpipe creds set` (keeps them in the OS keyring), "
            "`aws sso login --profile P`, or export AWS_PROFILE / AWS_ACCESS_KEY_ID.",
            None,
        )
    ident = ctx.client("sts").get_caller_identity()
    facts.account, facts.arn, facts.source = ident["Account"], ident["Arn"], source
    detail = f"account {ident['Account']} as {ident['Arn']}, from {source}"
    if "plaintext" in source:
        detail += "; move the keys into the keyring with `yunpipe creds migrate`"
        return WARN, detail, None
    return OK, detail, None


def check_region(facts: Facts) -> Outcome:
    from yunpipe_tui.aws import DEFAULT_REGION

    region = facts.ctx.session.region_name
    wf = facts.workflow.region if facts.workflow else ""
    if not region:
        return (
            WARN,
            f"no region set; yunpipe would use {DEFAULT_REGION}. Pass --region or export "
            "AWS_REGION.",
            None,
        )
    detail = region
    if wf and wf != region:
        detail += f" (the workflow names {wf}; its resources go there)"
    return OK, detail, None


# --------------------------------------------------------------------------- services


def _service(service: str, call: Callable[[Any], Any], what: str) -> Callable[[Facts], Outcome]:
    def run(facts: Facts) -> Outcome:
        try:
            call(facts.ctx.client(service))
        except Exception as exc:
            if is_denied(exc):
                return FAIL, f"{what} is denied: {_msg(exc)}", None
            raise
        return OK, f"{what} answers in {facts.region}", None

    return run


def _ssm_ami(facts: Facts) -> Outcome:
    try:
        value = facts.ctx.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    except Exception as exc:
        if _code(exc) == "ParameterNotFound":
            return FAIL, f"{AMI_PARAMETER} does not exist in {facts.region}", None
        if is_denied(exc):
            return FAIL, f"reading the ECS AMI parameter is denied: {_msg(exc)}", None
        raise
    return OK, f"ECS-optimized AMI {value} in {facts.region}", None


_ECR_RE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)")


def _ecr_images(workflow: Workflow | None) -> list[tuple[str, str, str]]:
    """(account, region, repository) of every workflow algorithm whose image lives in ECR."""
    if workflow is None:
        return []
    from yunpipe_tui.catalog import default_catalog

    catalog = default_catalog()
    out = []
    for step in workflow.steps:
        algorithm = catalog.get(step.algorithm)
        if algorithm is None:
            continue
        match = _ECR_RE.match(algorithm.run_image)
        if match:
            out.append((match.group(1), match.group(2), match.group(3)))
    return out


def check_ecr(facts: Facts) -> Outcome:
    images = _ecr_images(facts.workflow)
    if not images:
        return OK, "no algorithm image lives in ECR", None
    problems, found = [], []
    for account, region, repo in images:
        try:
            facts.ctx.for_region(region).client("ecr").describe_repositories(
                registryId=account, repositoryNames=[repo]
            )
            found.append(repo)
        except Exception as exc:
            problems.append(f"{repo}: {_msg(exc)}")
    if problems:
        return FAIL, "; ".join(problems), None
    return OK, f"ECR repositories found: {', '.join(found)}", None


# --------------------------------------------------------------------------- roles


def lambda_exec_fix(account: str) -> Fix:
    return Fix(
        description=(
            f"create (or update) role {names.LAMBDA_EXEC_ROLE} trusted by "
            f"{pol.LAMBDA_TRUST_SERVICE}, put the inline policy {pol.DISPATCHER_POLICY_NAME} "
            f"scoped to {names.PREFIX}-* resources, and attach {pol.LAMBDA_BASIC_EXECUTION_ARN}"
        ),
        policy={
            "RoleName": names.LAMBDA_EXEC_ROLE,
            "AssumeRolePolicyDocument": pol.trust_policy(pol.LAMBDA_TRUST_SERVICE),
            "PolicyName": pol.DISPATCHER_POLICY_NAME,
            "PolicyDocument": pol.lambda_exec_policy(account or "<account-id>"),
            "ManagedPolicyArns": [pol.LAMBDA_BASIC_EXECUTION_ARN],
        },
    )


def check_lambda_exec_role(facts: Facts) -> Outcome:
    iam = facts.ctx.client("iam")
    fix = lambda_exec_fix(facts.account)
    role = _get_role(iam, names.LAMBDA_EXEC_ROLE)
    if role is None:
        return FAIL, f"role {names.LAMBDA_EXEC_ROLE} does not exist", fix
    problems = []
    if not pol.trusts(_trust_doc(role), pol.LAMBDA_TRUST_SERVICE):
        problems.append(f"it is not trusted by {pol.LAMBDA_TRUST_SERVICE}")
    missing = pol.missing_actions(
        _role_documents(iam, names.LAMBDA_EXEC_ROLE), facts.account, facts.region
    )
    if missing:
        problems.append("its policies do not grant " + ", ".join(missing))
    if problems:
        return FAIL, f"role {names.LAMBDA_EXEC_ROLE} exists but " + "; ".join(problems), fix
    return (
        OK,
        f"role {names.LAMBDA_EXEC_ROLE} grants all {len(pol.DISPATCHER_ACTIONS)} "
        "dispatcher actions",
        None,
    )


def _ensure_trust(iam: Any, role: dict[str, Any], service: str) -> bool:
    doc = _trust_doc(role)
    if pol.trusts(doc, service):
        return False
    statements = list(pol._as_list(doc.get("Statement")))
    statements += pol.trust_policy(service)["Statement"]
    new = {"Version": pol.VERSION, "Statement": statements}
    iam.update_assume_role_policy(RoleName=role["RoleName"], PolicyDocument=json.dumps(new))
    return True


def _ensure_role(
    iam: Any, name: str, service: str, description: str, path: str = "/"
) -> tuple[dict[str, Any], list[str]]:
    done = []
    role = _get_role(iam, name)
    if role is None:
        role = iam.create_role(
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(pol.trust_policy(service)),
            Description=description,
            Tags=_tags(),
        )["Role"]
        done.append(f"created role {name}")
    elif _ensure_trust(iam, role, service):
        done.append(f"let {service} assume {name}")
    return role, done


def _ensure_attached(iam: Any, role: str, arn: str) -> list[str]:
    if arn in _attached(iam, role):
        return []
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return [f"attached {arn.rsplit('/', 1)[-1]}"]


def fix_lambda_exec_role(facts: Facts) -> str:
    iam = facts.ctx.client("iam")
    _role, done = _ensure_role(
        iam,
        names.LAMBDA_EXEC_ROLE,
        pol.LAMBDA_TRUST_SERVICE,
        "yunpipe dispatcher (Lambda) execution role",
    )
    iam.put_role_policy(
        RoleName=names.LAMBDA_EXEC_ROLE,
        PolicyName=pol.DISPATCHER_POLICY_NAME,
        PolicyDocument=json.dumps(pol.lambda_exec_policy(facts.account)),
    )
    done.append(f"put inline policy {pol.DISPATCHER_POLICY_NAME}")
    done += _ensure_attached(iam, names.LAMBDA_EXEC_ROLE, pol.LAMBDA_BASIC_EXECUTION_ARN)
    return f"{names.LAMBDA_EXEC_ROLE}: " + ", ".join(done)


ECS_INSTANCE_FIX = Fix(
    description=(
        f"create what is missing of role {names.ECS_INSTANCE_ROLE} (trusted by "
        f"{pol.ECS_INSTANCE_TRUST_SERVICE}), attach {pol.ECS_FOR_EC2_ARN}, and an instance "
        f"profile {names.ECS_INSTANCE_ROLE} holding the role"
    ),
    policy={
        "RoleName": names.ECS_INSTANCE_ROLE,
        "AssumeRolePolicyDocument": pol.trust_policy(pol.ECS_INSTANCE_TRUST_SERVICE),
        "ManagedPolicyArns": [pol.ECS_FOR_EC2_ARN],
        "InstanceProfileName": names.ECS_INSTANCE_ROLE,
    },
)


def _instance_profile(iam: Any, name: str) -> dict[str, Any] | None:
    try:
        return iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except Exception as exc:
        if _code(exc) == "NoSuchEntity":
            return None
        raise


def check_ecs_instance_role(facts: Facts) -> Outcome:
    iam = facts.ctx.client("iam")
    name = names.ECS_INSTANCE_ROLE
    role = _get_role(iam, name)
    problems = []
    if role is None:
        problems.append(f"role {name} does not exist")
    else:
        if not pol.trusts(_trust_doc(role), pol.ECS_INSTANCE_TRUST_SERVICE):
            problems.append(f"role {name} is not trusted by {pol.ECS_INSTANCE_TRUST_SERVICE}")
        if pol.ECS_FOR_EC2_ARN not in _attached(iam, name):
            problems.append("AmazonEC2ContainerServiceforEC2Role is not attached")
    profile = _instance_profile(iam, name)
    if profile is None:
        problems.append(f"instance profile {name} does not exist")
    elif not any(r["RoleName"] == name for r in profile.get("Roles", [])):
        problems.append(f"instance profile {name} does not hold the role")
    if problems:
        return FAIL, "; ".join(problems), ECS_INSTANCE_FIX
    return OK, f"role and instance profile {name} ready", None


def fix_ecs_instance_role(facts: Facts) -> str:
    iam = facts.ctx.client("iam")
    name = names.ECS_INSTANCE_ROLE
    _role, done = _ensure_role(
        iam, name, pol.ECS_INSTANCE_TRUST_SERVICE, "ECS container instances (yunpipe)"
    )
    done += _ensure_attached(iam, name, pol.ECS_FOR_EC2_ARN)
    profile = _instance_profile(iam, name)
    if profile is None:
        profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        done.append(f"created instance profile {name}")
    if not any(r["RoleName"] == name for r in profile.get("Roles", [])):
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        done.append("added the role to the instance profile")
    return f"{name}: " + (", ".join(done) or "nothing to do")


EC2_ACTIONS_FIX = Fix(
    description=(
        f"create role {names.EC2_ACTIONS_ROLE} (path {pol.EC2_ACTIONS_ROLE_PATH}, trusted by "
        f"{pol.EC2_ACTIONS_TRUST_SERVICE}) with {pol.CLOUDWATCH_ACTIONS_EC2_ARN} attached"
    ),
    policy={
        "RoleName": names.EC2_ACTIONS_ROLE,
        "Path": pol.EC2_ACTIONS_ROLE_PATH,
        "AssumeRolePolicyDocument": pol.trust_policy(pol.EC2_ACTIONS_TRUST_SERVICE),
        "ManagedPolicyArns": [pol.CLOUDWATCH_ACTIONS_EC2_ARN],
    },
)


def check_ec2_actions_role(facts: Facts) -> Outcome:
    iam = facts.ctx.client("iam")
    name = names.EC2_ACTIONS_ROLE
    role = _get_role(iam, name)
    if role is None:
        return FAIL, f"role {name} does not exist", EC2_ACTIONS_FIX
    if pol.CLOUDWATCH_ACTIONS_EC2_ARN not in _attached(iam, name):
        return (
            FAIL,
            f"role {name} exists but CloudWatchActionsEC2Access is not attached",
            EC2_ACTIONS_FIX,
        )
    return OK, f"role {name} with CloudWatchActionsEC2Access", None


def fix_ec2_actions_role(facts: Facts) -> str:
    iam = facts.ctx.client("iam")
    name = names.EC2_ACTIONS_ROLE
    _role, done = _ensure_role(
        iam,
        name,
        pol.EC2_ACTIONS_TRUST_SERVICE,
        "CloudWatch alarm actions on EC2",
        path=pol.EC2_ACTIONS_ROLE_PATH,
    )
    done += _ensure_attached(iam, name, pol.CLOUDWATCH_ACTIONS_EC2_ARN)
    return f"{name}: " + (", ".join(done) or "nothing to do")


EVENTS_SLR_FIX = Fix(
    description=(
        f"create the service-linked role {pol.EVENTS_SERVICE_LINKED_ROLE} "
        f"(iam:CreateServiceLinkedRole for {pol.EVENTS_SERVICE}); its policy is AWS's own"
    ),
    policy={"AWSServiceName": pol.EVENTS_SERVICE},
)


def _events_slr(iam: Any) -> dict[str, Any] | None:
    role = _get_role(iam, pol.EVENTS_SERVICE_LINKED_ROLE)
    if role is not None:
        return role
    for page in iam.get_paginator("list_roles").paginate(PathPrefix=pol.EVENTS_SERVICE_LINKED_PATH):
        if page["Roles"]:
            return page["Roles"][0]
    return None


def check_events_slr(facts: Facts) -> Outcome:
    role = _events_slr(facts.ctx.client("iam"))
    if role is None:
        return (
            FAIL,
            f"{pol.EVENTS_SERVICE_LINKED_ROLE} does not exist; idle alarms could not terminate "
            "instances (arn:aws:automate:...:ec2:terminate)",
            EVENTS_SLR_FIX,
        )
    return OK, f"{role['RoleName']} exists", None


def fix_events_slr(facts: Facts) -> str:
    iam = facts.ctx.client("iam")
    if _events_slr(iam) is not None:
        return f"{pol.EVENTS_SERVICE_LINKED_ROLE}: nothing to do"
    try:
        role = iam.create_service_linked_role(AWSServiceName=pol.EVENTS_SERVICE)["Role"]
    except Exception as exc:
        if _code(exc) in ("EntityAlreadyExists", "InvalidInput") and _events_slr(iam):
            return f"{pol.EVENTS_SERVICE_LINKED_ROLE}: already exists"
        raise
    return f"created service-linked role {role['RoleName']}"


# --------------------------------------------------------------------------- simulation


def principal_arn(facts: Facts) -> str | None:
    """The IAM principal to simulate: a user or role ARN (assumed-role sessions resolved)."""
    arn = facts.arn
    match = re.match(r"^arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/", arn)
    if match:
        role = _get_role(facts.ctx.client("iam"), match.group(3))
        return role["Arn"] if role else None
    if re.match(r"^arn:[^:]+:iam::\d+:(user|role)/", arn):
        return arn
    match = re.match(r"^arn:([^:]+):sts::(\d+):user/(.+)$", arn)  # some emulators say sts for users
    if match:
        return f"arn:{match.group(1)}:iam::{match.group(2)}:user/{match.group(3)}"
    return None


def check_simulate(facts: Facts) -> Outcome:
    from botocore.parsers import ResponseParserError

    if facts.arn.endswith(":root"):
        return (
            WARN,
            "signed in as the account root user: everything is allowed; use an IAM user or role",
            None,
        )
    try:
        source = principal_arn(facts)
    except Exception as exc:
        return WARN, f"could not resolve {facts.arn} to a role: {_msg(exc)}", None
    if source is None:
        return WARN, f"cannot simulate policies for {facts.arn}", None
    ctx = facts.ctx
    once = ctx.with_attempts(1)
    try:
        answer = once.client("iam").simulate_principal_policy(
            PolicySourceArn=source, ActionNames=list(pol.DEPLOY_ACTIONS)
        )
    except (NotImplementedError, ResponseParserError):  # moto: in-process / HTTP 500 page
        return (
            WARN,
            "iam:SimulatePrincipalPolicy is not implemented by this endpoint; not checked",
            None,
        )
    except Exception as exc:
        status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if is_denied(exc):
            return (
                WARN,
                f"iam:SimulatePrincipalPolicy is denied to {source}; "
                "deploy permissions not checked",
                None,
            )
        if status in (500, 501) or _code(exc) in (
            "500",
            "501",
            "InternalFailure",
            "NotImplemented",
        ):
            return (
                WARN,
                "iam:SimulatePrincipalPolicy is not implemented by this endpoint; not checked",
                None,
            )
        raise
    denied = [
        r["EvalActionName"]
        for r in answer.get("EvaluationResults", [])
        if r.get("EvalDecision") != "allowed"
    ]
    if denied:
        return (
            WARN,
            f"the simulator says {source} may not: {', '.join(denied)} (on '*'; policies scoped to "
            "yunpipe-* resources may still allow them)",
            None,
        )
    return OK, f"{source} may make all {len(pol.DEPLOY_ACTIONS)} deploy actions", None


# --------------------------------------------------------------------------- workflow checks


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
        if _code(exc) in ("InvalidKeyPair.NotFound", "InvalidKeyPair.Malformed"):
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
    taken, ours, free, elsewhere = [], [], [], []
    region = _wf_ctx(facts).region_name
    for bucket in _buckets(facts):
        try:
            answer = s3.head_bucket(Bucket=bucket)
            headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            where = answer.get("BucketRegion") or headers.get("x-amz-bucket-region") or region
            (ours if where == region else elsewhere).append(bucket)
        except Exception as exc:
            code = _code(exc)
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
    return _ssm_ami(Facts(ctx=ctx, workflow=facts.workflow, account=facts.account, arn=facts.arn))


# --------------------------------------------------------------------------- registry


def _checks() -> list[Check]:
    svc = _service
    return [
        Check("credentials", "AWS credentials", check_credentials),
        Check("region", "AWS region", check_region, needs_credentials=False),
        Check(
            "service-lambda",
            "Lambda",
            svc("lambda", lambda c: c.list_functions(MaxItems=1), "Lambda"),
        ),
        Check("service-sqs", "SQS", svc("sqs", lambda c: c.list_queues(MaxResults=1), "SQS")),
        Check("service-s3", "S3", svc("s3", lambda c: c.list_buckets(MaxBuckets=1), "S3")),
        Check("service-ecs", "ECS", svc("ecs", lambda c: c.list_clusters(maxResults=1), "ECS")),
        Check("service-ec2", "EC2", svc("ec2", lambda c: c.describe_availability_zones(), "EC2")),
        Check(
            "service-cloudwatch",
            "CloudWatch",
            svc("cloudwatch", lambda c: c.describe_alarms(MaxRecords=1), "CloudWatch"),
        ),
        Check(
            "service-logs",
            "CloudWatch Logs",
            svc("logs", lambda c: c.describe_log_groups(limit=1), "CloudWatch Logs"),
        ),
        Check("service-ssm", "SSM (ECS AMI parameter)", _ssm_ami),
        Check("service-ecr", "ECR (algorithm images)", check_ecr, workflow_only=True),
        Check(
            "lambda-exec-role",
            f"IAM role {names.LAMBDA_EXEC_ROLE}",
            check_lambda_exec_role,
            fixer=fix_lambda_exec_role,
        ),
        Check(
            "ecs-instance-role",
            f"IAM role {names.ECS_INSTANCE_ROLE}",
            check_ecs_instance_role,
            fixer=fix_ecs_instance_role,
        ),
        Check(
            "ec2-actions-role",
            f"IAM role {names.EC2_ACTIONS_ROLE}",
            check_ec2_actions_role,
            fixer=fix_ec2_actions_role,
        ),
        Check(
            "events-service-linked-role",
            "CloudWatch Events service-linked role",
            check_events_slr,
            fixer=fix_events_slr,
        ),
        Check("simulate-deploy", "Permissions for deploy", check_simulate),
        Check("workflow-key-pair", "Key pair", check_key_pair, workflow_only=True),
        Check("workflow-buckets", "Buckets", check_buckets, workflow_only=True),
        Check("workflow-network", "Default VPC and subnet", check_network, workflow_only=True),
        Check("workflow-ami", "ECS-optimized AMI", check_workflow_ami, workflow_only=True),
    ]


CHECKS: list[Check] = _checks()


def check_ids(workflow: bool = False) -> list[str]:
    return [c.id for c in CHECKS if workflow or not c.workflow_only]


def _run_one(check: Check, facts: Facts) -> CheckResult:
    try:
        status, detail, fix = check.run(facts)
    except Exception as exc:
        detail = _msg(exc) if getattr(exc, "response", None) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, YunpipeError):
            detail = str(exc)
        return CheckResult(check.id, check.title, FAIL, f"the check failed: {detail}", None)
    return CheckResult(check.id, check.title, status, detail, fix)


def run_checks(
    ctx: AwsContext,
    workflow: Workflow | None = None,
    *,
    checks: list[Check] | None = None,
    max_workers: int = MAX_WORKERS,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run every check (the workflow ones only with a workflow), concurrently; results come
    back in the checks' order, and each is also passed to `on_result` (in the calling thread) as
    soon as it is known. Credentials are checked first: without them, the checks that need AWS
    are reported as not run."""
    chosen = [
        c for c in (checks if checks is not None else CHECKS) if workflow or not c.workflow_only
    ]
    facts = Facts(ctx=ctx, workflow=workflow)
    if workflow is not None and workflow.region:
        facts.workflow_ctx = ctx.for_region(workflow.region)
    results: dict[str, CheckResult] = {}

    def done(result: CheckResult) -> CheckResult:
        if on_result is not None:
            on_result(result)
        return result

    first = [c for c in chosen if c.id == "credentials"]
    for check in first:
        results[check.id] = done(_run_one(check, facts))
    creds_ok = all(results[c.id].status != FAIL for c in first)
    rest = [c for c in chosen if c.id not in results]
    runnable = [c for c in rest if creds_ok or not c.needs_credentials]
    for check in rest:
        if check not in runnable:
            results[check.id] = done(
                CheckResult(
                    check.id,
                    check.title,
                    FAIL,
                    "not checked: the AWS credentials do not work",
                    None,
                )
            )
    if runnable:
        _warm_clients(facts)
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(runnable)))) as pool:
            futures = {pool.submit(_run_one, c, facts): c.id for c in runnable}
            for future in as_completed(futures):
                results[futures[future]] = done(future.result())
    return [results[c.id] for c in chosen]


WARM_SERVICES = ("sts", "iam", "lambda", "sqs", "s3", "ecs", "ec2", "cloudwatch", "logs", "ssm")


def _warm_clients(facts: Facts) -> None:
    """Create the clients in this thread: a boto3 session is not safe to build clients from
    several threads at once (the clients themselves are)."""
    for ctx in {id(c): c for c in (facts.ctx, facts.workflow_ctx) if c is not None}.values():
        for service in WARM_SERVICES:
            try:
                ctx.client(service)
            except Exception:  # the check that uses it reports the problem
                continue


def _facts_for_fix(ctx: AwsContext) -> Facts:
    facts = Facts(ctx=ctx)
    ident = ctx.client("sts").get_caller_identity()
    facts.account, facts.arn = ident["Account"], ident["Arn"]
    return facts


def fixable_ids() -> list[str]:
    return [c.id for c in CHECKS if c.fixer is not None]


def apply_fix(ctx: AwsContext, check_id: str) -> str:
    """Apply one check's fix (idempotent); returns one line saying what was done."""
    check = next((c for c in CHECKS if c.id == check_id), None)
    if check is None or check.fixer is None:
        raise YunpipeError(
            f"no automatic fix for {check_id!r}; fixable: {', '.join(fixable_ids())}"
        )
    facts = _facts_for_fix(ctx)
    try:
        return check.fixer(facts)
    except YunpipeError:
        raise
    except Exception as exc:
        if getattr(exc, "response", None) is None:
            raise
        raise YunpipeError(f"fixing {check_id}: {_msg(exc)}") from None


def all_ok(results: list[CheckResult]) -> bool:
    return all(r.status != FAIL for r in results)


def report_json(results: list[CheckResult]) -> dict[str, Any]:
    return {"ok": all_ok(results), "checks": [r.to_json() for r in results]}


def summary(results: list[CheckResult]) -> str:
    fails = sum(r.status == FAIL for r in results)
    warns = sum(r.status == WARN for r in results)
    if not fails and not warns:
        return "No issues found!"
    parts = []
    if fails:
        parts.append(f"{fails} issue{'s' if fails != 1 else ''}")
    if warns:
        parts.append(f"{warns} warning{'s' if warns != 1 else ''}")
    return "Doctor found " + " and ".join(parts) + "."
