"""The account-wide IAM roles yunpipe needs (the dispatcher's `lambda_exec_role`,
`ecsInstanceRole` with its instance profile; for the ECS backend `EC2ActionsAccess` and the
CloudWatch Events service-linked role its idle alarms act through; for the Batch backend Batch's
service-linked role): a check for each, the fix it offers, and the idempotent fixer that applies
it. The policy documents themselves live in prerequisite_policies."""

from __future__ import annotations

import json
from typing import Any

from yunpipe_tui import prerequisite_policies as pol
from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import error_code
from yunpipe_tui.doctor.iam_reads import (
    attached,
    get_role,
    instance_profile,
    managed_tags,
    role_documents,
    trust_doc,
)
from yunpipe_tui.doctor.model import FAIL, OK, Facts, Fix, Outcome


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
    role = get_role(iam, names.LAMBDA_EXEC_ROLE)
    if role is None:
        return FAIL, f"role {names.LAMBDA_EXEC_ROLE} does not exist", fix
    problems = []
    if not pol.trusts(trust_doc(role), pol.LAMBDA_TRUST_SERVICE):
        problems.append(f"it is not trusted by {pol.LAMBDA_TRUST_SERVICE}")
    missing = pol.missing_actions(
        role_documents(iam, names.LAMBDA_EXEC_ROLE), facts.account, facts.region
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
    doc = trust_doc(role)
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
    role = get_role(iam, name)
    if role is None:
        role = iam.create_role(
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(pol.trust_policy(service)),
            Description=description,
            Tags=managed_tags(),
        )["Role"]
        done.append(f"created role {name}")
    elif _ensure_trust(iam, role, service):
        done.append(f"let {service} assume {name}")
    return role, done


def _ensure_attached(iam: Any, role: str, arn: str) -> list[str]:
    if arn in attached(iam, role):
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


def check_ecs_instance_role(facts: Facts) -> Outcome:
    iam = facts.ctx.client("iam")
    name = names.ECS_INSTANCE_ROLE
    role = get_role(iam, name)
    problems = []
    if role is None:
        problems.append(f"role {name} does not exist")
    else:
        if not pol.trusts(trust_doc(role), pol.ECS_INSTANCE_TRUST_SERVICE):
            problems.append(f"role {name} is not trusted by {pol.ECS_INSTANCE_TRUST_SERVICE}")
        if pol.ECS_FOR_EC2_ARN not in attached(iam, name):
            problems.append("AmazonEC2ContainerServiceforEC2Role is not attached")
    profile = instance_profile(iam, name)
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
    profile = instance_profile(iam, name)
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
    role = get_role(iam, name)
    if role is None:
        return FAIL, f"role {name} does not exist", EC2_ACTIONS_FIX
    if pol.CLOUDWATCH_ACTIONS_EC2_ARN not in attached(iam, name):
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


def _slr_fix(role: str, service: str) -> Fix:
    return Fix(
        description=(
            f"create the service-linked role {role} "
            f"(iam:CreateServiceLinkedRole for {service}); its policy is AWS's own"
        ),
        policy={"AWSServiceName": service},
    )


EVENTS_SLR_FIX = _slr_fix(pol.EVENTS_SERVICE_LINKED_ROLE, pol.EVENTS_SERVICE)
BATCH_SLR_FIX = _slr_fix(pol.BATCH_SERVICE_LINKED_ROLE, pol.BATCH_SERVICE)


def _service_linked_role(iam: Any, name: str, path: str) -> dict[str, Any] | None:
    """The role by AWS's name, else any role under the service's path (an emulator may store it
    under another name: moto says AWSServiceRoleForevents, AWSServiceRoleForbatch)."""
    role = get_role(iam, name)
    if role is not None:
        return role
    for page in iam.get_paginator("list_roles").paginate(PathPrefix=path):
        if page["Roles"]:
            return page["Roles"][0]
    return None


def _ensure_service_linked_role(iam: Any, name: str, service: str, path: str) -> str:
    if _service_linked_role(iam, name, path) is not None:
        return f"{name}: nothing to do"
    try:
        iam.create_service_linked_role(AWSServiceName=service)
    except Exception as exc:
        if error_code(exc) in ("EntityAlreadyExists", "InvalidInput") and _service_linked_role(
            iam, name, path
        ):
            return f"{name}: already exists"
        raise
    return f"created service-linked role {name}"


def _events_slr(iam: Any) -> dict[str, Any] | None:
    return _service_linked_role(iam, pol.EVENTS_SERVICE_LINKED_ROLE, pol.EVENTS_SERVICE_LINKED_PATH)


def check_events_slr(facts: Facts) -> Outcome:
    role = _events_slr(facts.ctx.client("iam"))
    if role is None:
        return (
            FAIL,
            f"{pol.EVENTS_SERVICE_LINKED_ROLE} does not exist; idle alarms could not terminate "
            "instances (arn:aws:automate:...:ec2:terminate)",
            EVENTS_SLR_FIX,
        )
    return OK, f"{pol.EVENTS_SERVICE_LINKED_ROLE} exists", None


def fix_events_slr(facts: Facts) -> str:
    return _ensure_service_linked_role(
        facts.ctx.client("iam"),
        pol.EVENTS_SERVICE_LINKED_ROLE,
        pol.EVENTS_SERVICE,
        pol.EVENTS_SERVICE_LINKED_PATH,
    )


def check_batch_slr(facts: Facts) -> Outcome:
    iam = facts.ctx.client("iam")
    name = pol.BATCH_SERVICE_LINKED_ROLE
    if _service_linked_role(iam, name, pol.BATCH_SERVICE_LINKED_PATH) is None:
        return (
            FAIL,
            f"{name} does not exist; AWS Batch could not launch or scale the compute "
            "environment's instances",
            BATCH_SLR_FIX,
        )
    return OK, f"{name} exists", None


def fix_batch_slr(facts: Facts) -> str:
    return _ensure_service_linked_role(
        facts.ctx.client("iam"),
        pol.BATCH_SERVICE_LINKED_ROLE,
        pol.BATCH_SERVICE,
        pol.BATCH_SERVICE_LINKED_PATH,
    )
