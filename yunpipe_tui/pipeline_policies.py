"""IAM and resource policy documents for a pipeline's step: the task role's trust and inline
policy, and the queue policies. Pure functions; ARNs are built from names, never looked up.

The dispatcher's own role (`lambda_exec_role`) and the other account-wide prerequisites are the
doctor's business (prerequisite_policies.py), not this module's.
"""

from __future__ import annotations

from typing import Any

VERSION = "2012-10-17"
TASK_POLICY_NAME = "yunpipe-task-access"

# Runner needs: receive, delete after upload, release (visibility 0), read depth.
TASK_QUEUE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
# The runner's ledger writes: read an item (claim), the claim/outcome and counter updates and the
# next step's `queued` item (TransactWriteItems is authorised by these underlying actions).
TASK_LEDGER_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
# The runner writes each file's algorithm output to its own stream in the pipeline's log group.
TASK_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
FILE_LOG_STREAM_PREFIX = "files/"  # the runner's per-file streams: files/<step>/<hash>
# The dispatcher puts S3 records on the queue and reads its depth.
DISPATCHER_QUEUE_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def bucket_arn(bucket: str, region: str = "us-east-1") -> str:
    return f"arn:{partition(region)}:s3:::{bucket}"


def queue_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{partition(region)}:sqs:{region}:{account_id}:{name}"


def table_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{partition(region)}:dynamodb:{region}:{account_id}:table/{name}"


def log_group_arn(region: str, account_id: str, group: str) -> str:
    return f"arn:{partition(region)}:logs:{region}:{account_id}:log-group:{group}"


def role_arn(account_id: str, name: str, path: str = "/", region: str = "us-east-1") -> str:
    return f"arn:{partition(region)}:iam::{account_id}:role{path}{name}"


def function_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{partition(region)}:lambda:{region}:{account_id}:function:{name}"


def rule_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{partition(region)}:events:{region}:{account_id}:rule/{name}"


def ecs_tasks_trust() -> dict[str, Any]:
    """Only ECS tasks may assume a step's task role."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def task_role_policy(
    *,
    queue: str,
    input_bucket: str,
    output_bucket: str,
    region: str,
    ledger_table: str = "",
    log_group: str = "",
) -> dict[str, Any]:
    """What the container runner may do: its own queue, read its input, write its output, and
    (given their ARNs) its pipeline's ledger table items and per-file log streams."""
    extra: list[dict[str, Any]] = []
    if ledger_table:
        extra.append(
            {
                "Sid": "OwnLedger",
                "Effect": "Allow",
                "Action": list(TASK_LEDGER_ACTIONS),
                "Resource": ledger_table,
            }
        )
    if log_group:
        extra.append(
            {
                "Sid": "OwnFileLogs",
                "Effect": "Allow",
                "Action": list(TASK_LOG_ACTIONS),
                "Resource": [log_group, f"{log_group}:log-stream:{FILE_LOG_STREAM_PREFIX}*"],
            }
        )
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "OwnQueue",
                "Effect": "Allow",
                "Action": list(TASK_QUEUE_ACTIONS),
                "Resource": queue,
            },
            {
                "Sid": "ReadInput",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": f"{bucket_arn(input_bucket, region)}/*",
            },
            {
                "Sid": "WriteOutput",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": f"{bucket_arn(output_bucket, region)}/*",
            },
            *extra,
        ],
    }


def _deny_insecure_transport(queue: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": queue,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def work_queue_policy(*, queue: str, dispatcher_role: str, task_role: str) -> dict[str, Any]:
    """Only the dispatcher sends, only the step's task role consumes; never over plain HTTP."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DispatcherSends",
                "Effect": "Allow",
                "Principal": {"AWS": dispatcher_role},
                "Action": list(DISPATCHER_QUEUE_ACTIONS),
                "Resource": queue,
            },
            {
                "Sid": "TaskConsumes",
                "Effect": "Allow",
                "Principal": {"AWS": task_role},
                "Action": list(TASK_QUEUE_ACTIONS),
                "Resource": queue,
            },
            _deny_insecure_transport(queue),
        ],
    }


def dead_letter_queue_policy(*, queue: str) -> dict[str, Any]:
    """SQS itself moves messages here; nobody else needs a grant beyond their IAM policy."""
    return {"Version": VERSION, "Statement": [_deny_insecure_transport(queue)]}


def allows_everyone(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The Allow statements whose principal is anyone (`*`), for checks and tests."""
    out = []
    for statement in policy.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and "*" in principal.values()):
            out.append(statement)
    return out


def wildcard_actions(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """Allow statements granting every action (`*`), for checks and tests."""
    out = []
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") == "Allow" and "*" in actions:
            out.append(statement)
    return out
