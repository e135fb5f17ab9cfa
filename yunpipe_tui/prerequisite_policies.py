"""IAM documents for yunpipe's prerequisite roles, and a small evaluator that names what a role's
policies fail to grant.

- `lambda_exec_role` (the dispatcher): a least-privilege inline policy scoped to `yunpipe-*`
  resources (`lambda_exec_policy(account_id)`), plus AWS's basic Lambda execution policy. One
  role serves every pipeline, so it grants both backends' actions (ECS tasks and instances;
  Batch jobs only into yunpipe's job queues with yunpipe's job definitions).
- `ecsInstanceRole`: trusted by EC2, AWS's `AmazonEC2ContainerServiceforEC2Role` attached, and an
  instance profile of the same name.
- `EC2ActionsAccess`: the seed's role for EC2 alarm actions, `CloudWatchActionsEC2Access` attached.

The deploy engine writes task-role and queue policies itself (pipeline_policies.py); this module
covers only the account-wide prerequisites the doctor checks and fixes.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.workflow import BATCH, ECS

VERSION = "2012-10-17"
PARTITION = "aws"

DISPATCHER_POLICY_NAME = "yunpipe-dispatcher"
LAMBDA_BASIC_EXECUTION_ARN = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
ECS_FOR_EC2_ARN = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
CLOUDWATCH_ACTIONS_EC2_ARN = "arn:aws:iam::aws:policy/CloudWatchActionsEC2Access"
EC2_ACTIONS_ROLE_PATH = "/actions/"  # where the EC2/CloudWatch consoles create EC2ActionsAccess

# The service-linked role CloudWatch needs for `arn:aws:automate:<region>:ec2:terminate` actions.
EVENTS_SERVICE = "events.amazonaws.com"
EVENTS_SERVICE_LINKED_ROLE = "AWSServiceRoleForCloudWatchEvents"
EVENTS_SERVICE_LINKED_PATH = f"/aws-service-role/{EVENTS_SERVICE}/"

# The service-linked role AWS Batch manages a compute environment's instances with (the compute
# environments yunpipe creates name no service role of their own).
BATCH_SERVICE = "batch.amazonaws.com"
BATCH_SERVICE_LINKED_ROLE = "AWSServiceRoleForBatch"
BATCH_SERVICE_LINKED_PATH = f"/aws-service-role/{BATCH_SERVICE}/"


def trust_policy(service: str) -> dict[str, Any]:
    """A role trust policy letting one AWS service assume the role."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }


LAMBDA_TRUST_SERVICE = "lambda.amazonaws.com"
ECS_INSTANCE_TRUST_SERVICE = "ec2.amazonaws.com"
EC2_ACTIONS_TRUST_SERVICE = "swf.amazonaws.com"  # the legacy alarm-action role's principal

# The dispatcher writes step 1's `queued` items and their counter in one TransactWriteItems,
# which IAM authorises through the underlying PutItem and UpdateItem actions.
DISPATCHER_LEDGER_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem")


def lambda_exec_policy(account_id: str) -> dict[str, Any]:
    """The dispatcher's inline policy: every action it makes, scoped to yunpipe's resources.

    Replaces the seed's document (`logs:*`, `cloudwatch:*`, the typo `ec2:StartInsatnces` and
    `arn:aws:<service>:*:*:*` catch-alls). Describe/List calls that AWS cannot scope stay on "*".
    """
    acct = account_id
    p = names.PREFIX
    ecs = f"arn:{PARTITION}:ecs:*:{acct}"
    ec2 = f"arn:{PARTITION}:ec2:*:{acct}"
    batch = f"arn:{PARTITION}:batch:*:{acct}"
    managed = {f"aws:RequestTag/{names.TAG_MANAGED}": "true"}
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "YunpipeQueues",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
                "Resource": f"arn:{PARTITION}:sqs:*:{acct}:{p}-*",
            },
            {
                "Sid": "YunpipeLedgers",
                "Effect": "Allow",
                "Action": list(DISPATCHER_LEDGER_ACTIONS),
                "Resource": f"arn:{PARTITION}:dynamodb:*:{acct}:table/{names.LEDGER_TABLE_PATTERN}",
            },
            {
                "Sid": "YunpipeStartTasks",
                "Effect": "Allow",
                "Action": ["ecs:RunTask", "ecs:StartTask"],
                "Resource": f"{ecs}:task-definition/{p}-*",
                "Condition": {"ArnLike": {"ecs:cluster": f"{ecs}:cluster/{p}-*"}},
            },
            {
                "Sid": "YunpipeTagTasksAtLaunch",
                "Effect": "Allow",
                "Action": "ecs:TagResource",
                "Resource": f"{ecs}:task/{p}-*/*",
                "Condition": {"StringEquals": {"ecs:CreateAction": ["RunTask", "StartTask"]}},
            },
            {
                "Sid": "YunpipeClusterReads",
                "Effect": "Allow",
                "Action": [
                    "ecs:ListTasks",
                    "ecs:DescribeTasks",
                    "ecs:ListContainerInstances",
                    "ecs:DescribeContainerInstances",
                ],
                "Resource": [
                    f"{ecs}:cluster/{p}-*",
                    f"{ecs}:container-instance/{p}-*/*",
                    f"{ecs}:task/{p}-*/*",
                ],
            },
            {
                "Sid": "YunpipeLaunchTaggedInstances",
                "Effect": "Allow",
                "Action": "ec2:RunInstances",
                "Resource": f"{ec2}:instance/*",
                "Condition": {"StringEquals": managed},
            },
            {
                "Sid": "YunpipeLaunchInstanceParts",
                "Effect": "Allow",
                "Action": "ec2:RunInstances",
                "Resource": [
                    f"arn:{PARTITION}:ec2:*::image/*",
                    f"{ec2}:subnet/*",
                    f"{ec2}:network-interface/*",
                    f"{ec2}:security-group/*",
                    f"{ec2}:volume/*",
                    f"{ec2}:key-pair/*",
                    f"{ec2}:spot-instances-request/*",  # a step with `spot`
                ],
            },
            {
                "Sid": "YunpipeTagAtLaunch",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": [f"{ec2}:instance/*", f"{ec2}:volume/*"],
                "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}},
            },
            {
                "Sid": "YunpipeTerminateOwnInstances",
                "Effect": "Allow",
                "Action": "ec2:TerminateInstances",
                "Resource": f"{ec2}:instance/*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{names.TAG_MANAGED}": "true"}},
            },
            {
                # SubmitJob is authorised on the job queue and on the job definition: both must
                # be yunpipe's (the bare definition name resolves to a yunpipe-* revision ARN).
                "Sid": "YunpipeSubmitDrainJobs",
                "Effect": "Allow",
                "Action": "batch:SubmitJob",
                "Resource": [f"{batch}:job-queue/{p}-*", f"{batch}:job-definition/{p}-*"],
            },
            {
                # Job ids are random: tagging is limited to jobs tagged as yunpipe's, which the
                # dispatcher does only in its SubmitJob (tags on create).
                "Sid": "YunpipeTagJobsAtSubmit",
                "Effect": "Allow",
                "Action": "batch:TagResource",
                "Resource": f"{batch}:job/*",
                "Condition": {"StringEquals": managed},
            },
            {
                "Sid": "ListJobsCannotBeScoped",
                "Effect": "Allow",
                "Action": "batch:ListJobs",
                "Resource": "*",
            },
            {
                "Sid": "DescribeCannotBeScoped",
                "Effect": "Allow",
                "Action": ["ec2:DescribeInstances", "ec2:DescribeInstanceStatus"],
                "Resource": "*",
            },
            {
                "Sid": "YunpipeIdleAlarms",
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
                "Resource": f"arn:{PARTITION}:cloudwatch:*:{acct}:alarm:{p}-*",
            },
            {
                "Sid": "PassInstanceRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:{PARTITION}:iam::{acct}:role/{names.ECS_INSTANCE_ROLE}",
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
            {
                "Sid": "PassTaskRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:{PARTITION}:iam::{acct}:role{names.ROLE_PATH}*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
            {
                "Sid": "OwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [
                    f"arn:{PARTITION}:logs:*:{acct}:log-group:/aws/lambda/{p}-*",
                    f"arn:{PARTITION}:logs:*:{acct}:log-group:/aws/lambda/{p}-*:*",
                ],
            },
        ],
    }


@dataclass(frozen=True)
class Requirement:
    """One action the dispatcher makes, on a sample resource of each kind it touches."""

    action: str
    resource: str  # a template with {region} and {account}
    kind: str = ""  # shown when only some resource kinds are missing

    def arn(self, account_id: str, region: str) -> str:
        return self.resource.format(account=account_id, region=region)


def _req(action: str, *resources: tuple[str, str]) -> list[Requirement]:
    return [Requirement(action, arn, kind) for kind, arn in resources]


_SQS = ("queue", "arn:aws:sqs:{region}:{account}:yunpipe-check-s1-queue")
_LEDGER = ("table", "arn:aws:dynamodb:{region}:{account}:table/yunpipe-check-ledger")
_TASKDEF = ("task-definition", "arn:aws:ecs:{region}:{account}:task-definition/yunpipe-check-s1:1")
_CLUSTER = ("cluster", "arn:aws:ecs:{region}:{account}:cluster/yunpipe-check")
_CINST = (
    "container-instance",
    "arn:aws:ecs:{region}:{account}:container-instance/yunpipe-check/0a1b",
)
_TASK = ("task", "arn:aws:ecs:{region}:{account}:task/yunpipe-check/0a1b")
_INSTANCE = ("instance", "arn:aws:ec2:{region}:{account}:instance/i-0123456789abcdef0")
_ALL = ("*", "*")
_JOB_QUEUE = ("job-queue", "arn:aws:batch:{region}:{account}:job-queue/yunpipe-check-jobs")
_JOB_DEFINITION = (
    "job-definition",
    "arn:aws:batch:{region}:{account}:job-definition/yunpipe-check-s1:1",
)
_JOB = ("job", "arn:aws:batch:{region}:{account}:job/0a1b2c3d-4e5f-6789-abcd-ef0123456789")
_LOGS = "arn:aws:logs:{region}:{account}:log-group:/aws/lambda/yunpipe-check-s1-dispatch"

DISPATCHER_REQUIREMENTS: tuple[Requirement, ...] = (
    *_req("sqs:SendMessage", _SQS),
    *_req("sqs:GetQueueAttributes", _SQS),
    *_req("dynamodb:PutItem", _LEDGER),
    *_req("dynamodb:UpdateItem", _LEDGER),
    *_req("ecs:RunTask", _TASKDEF),
    *_req("ecs:StartTask", _TASKDEF),
    *_req("ecs:ListTasks", _CINST),
    *_req("ecs:DescribeTasks", _TASK),
    *_req("ecs:ListContainerInstances", _CLUSTER),
    *_req("ecs:DescribeContainerInstances", _CINST),
    *_req(
        "ec2:RunInstances",
        _INSTANCE,
        ("image", "arn:aws:ec2:{region}::image/ami-0123456789abcdef0"),
        ("subnet", "arn:aws:ec2:{region}:{account}:subnet/subnet-0123"),
        ("network-interface", "arn:aws:ec2:{region}:{account}:network-interface/eni-0123"),
        ("security-group", "arn:aws:ec2:{region}:{account}:security-group/sg-0123"),
        ("volume", "arn:aws:ec2:{region}:{account}:volume/vol-0123"),
        ("key-pair", "arn:aws:ec2:{region}:{account}:key-pair/yunpipe-key"),
    ),
    *_req("batch:SubmitJob", _JOB_QUEUE, _JOB_DEFINITION),
    *_req("batch:TagResource", _JOB),
    *_req("batch:ListJobs", _ALL),
    *_req("ec2:DescribeInstances", _ALL),
    *_req("ec2:DescribeInstanceStatus", _ALL),
    *_req("ec2:CreateTags", _INSTANCE),
    *_req("ec2:TerminateInstances", _INSTANCE),
    *_req(
        "cloudwatch:PutMetricAlarm",
        ("alarm", "arn:aws:cloudwatch:{region}:{account}:alarm:yunpipe-check-s1-idle-i-0123"),
    ),
    *_req(
        "cloudwatch:TagResource",
        ("alarm", "arn:aws:cloudwatch:{region}:{account}:alarm:yunpipe-check-s1-idle-i-0123"),
    ),
    *_req(
        "iam:PassRole",
        (names.ECS_INSTANCE_ROLE, "arn:aws:iam::{account}:role/" + names.ECS_INSTANCE_ROLE),
        ("task role", "arn:aws:iam::{account}:role/yunpipe/yunpipe-check-s1-task"),
    ),
    *_req("logs:CreateLogGroup", ("log-group", _LOGS)),
    *_req("logs:CreateLogStream", ("log-stream", _LOGS + ":log-stream:x")),
    *_req("logs:PutLogEvents", ("log-stream", _LOGS + ":log-stream:x")),
)

# Every action the dispatcher needs, in order, once each.
DISPATCHER_ACTIONS: tuple[str, ...] = tuple(
    dict.fromkeys(r.action for r in DISPATCHER_REQUIREMENTS)
)

# What `yunpipe deploy` calls, for iam:SimulatePrincipalPolicy against the caller.
DEPLOY_ACTIONS: tuple[str, ...] = (
    "s3:CreateBucket",
    "s3:PutBucketNotification",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketTagging",
    "sqs:CreateQueue",
    "sqs:SetQueueAttributes",
    "sqs:GetQueueAttributes",
    "sqs:TagQueue",
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:TagResource",
    "lambda:CreateFunction",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:AddPermission",
    "lambda:TagResource",
    "ecs:CreateCluster",
    "ecs:RegisterTaskDefinition",
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:PassRole",
    "logs:CreateLogGroup",
    "logs:PutRetentionPolicy",
    "events:PutRule",
    "events:PutTargets",
    "ec2:DescribeSubnets",
    "ec2:DescribeKeyPairs",
    "ssm:GetParameter",
    # the pipeline lock marker and the account's pipeline registry (/yunpipe/*)
    "ssm:PutParameter",
    "ssm:DeleteParameter",
    "ssm:GetParametersByPath",
    "ssm:AddTagsToResource",
    "tag:GetResources",
)

# What a deploy of the Batch backend calls instead of ECS's cluster and task definitions
# (iam:PassRole above covers the compute environment's instance role and the job roles).
BATCH_DEPLOY_ACTIONS: tuple[str, ...] = (
    "batch:CreateComputeEnvironment",
    "batch:DescribeComputeEnvironments",
    "batch:CreateJobQueue",
    "batch:DescribeJobQueues",
    "batch:RegisterJobDefinition",
    "batch:DescribeJobDefinitions",
    "batch:TagResource",
)
ECS_ONLY_DEPLOY_ACTIONS = frozenset({"ecs:CreateCluster", "ecs:RegisterTaskDefinition"})


def deploy_actions(backend: str = ECS) -> tuple[str, ...]:
    """The actions a deploy with this compute backend makes ("ecs" or "batch")."""
    if backend != BATCH:
        return DEPLOY_ACTIONS
    kept = tuple(a for a in DEPLOY_ACTIONS if a not in ECS_ONLY_DEPLOY_ACTIONS)
    return kept + BATCH_DEPLOY_ACTIONS


# --------------------------------------------------------------------------- evaluation


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _wildcard(pattern: str, value: str, ignore_case: bool) -> bool:
    # fnmatch treats [...] as a class; IAM does not: escape brackets first.
    regex = fnmatch.translate(pattern.replace("[", "\x00").replace("]", "\x01"))
    regex = regex.replace("\x00", r"\[").replace("\x01", r"\]")
    return re.match(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def action_matches(pattern: str, action: str) -> bool:
    return _wildcard(pattern, action, ignore_case=True)


def resource_matches(pattern: str, arn: str) -> bool:
    if pattern == "*":
        return True
    return _wildcard(pattern, arn, ignore_case=False)


def _statement_covers(statement: dict[str, Any], action: str, arn: str) -> bool:
    if "Action" in statement:
        if not any(action_matches(a, action) for a in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(a, action) for a in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        return any(resource_matches(r, arn) for r in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(resource_matches(r, arn) for r in _as_list(statement["NotResource"]))
    return False


def is_allowed(documents: list[dict[str, Any]], action: str, arn: str) -> bool:
    """Identity-policy evaluation for one request: an Allow covers it and no Deny does.

    Conditions are not evaluated: a conditional Allow counts as granting (deploy satisfies
    yunpipe's own conditions), a conditional Deny is ignored.
    """
    allowed = False
    for doc in documents:
        for statement in _as_list(doc.get("Statement")):
            if not isinstance(statement, dict):
                continue
            if not _statement_covers(statement, action, arn):
                continue
            effect = statement.get("Effect")
            if effect == "Deny" and not statement.get("Condition"):
                return False
            if effect == "Allow":
                allowed = True
    return allowed


def missing_actions(
    documents: list[dict[str, Any]],
    account_id: str,
    region: str,
    requirements: tuple[Requirement, ...] = DISPATCHER_REQUIREMENTS,
) -> list[str]:
    """The required actions the documents do not grant, e.g. `ec2:RunInstances (on subnet)`."""
    gaps: dict[str, list[str]] = {}
    kinds: dict[str, list[str]] = {}
    for req in requirements:
        kinds.setdefault(req.action, []).append(req.kind)
        if not is_allowed(documents, req.action, req.arn(account_id, region)):
            gaps.setdefault(req.action, []).append(req.kind)
    out = []
    for action, missing in gaps.items():
        if len(missing) == len(kinds[action]) or missing == ["*"]:
            out.append(action)
        else:
            out.append(f"{action} (on {', '.join(missing)})")
    return out


def trusts(document: dict[str, Any], service: str) -> bool:
    """Whether a trust policy lets `service` assume the role."""
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not any(action_matches(a, "sts:AssumeRole") for a in _as_list(statement.get("Action"))):
            continue
        principal = statement.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if service in services:
            return True
    return False
