"""Every check, in the order they are shown, which of them have a fix, and which compute backend
needs each (a check without `backends` serves both). A new check is one function in the module
of its area plus one line here."""

from __future__ import annotations

from yunpipe_tui import resource_names as names
from yunpipe_tui.doctor.identity import check_credentials, check_region
from yunpipe_tui.doctor.model import Check
from yunpipe_tui.doctor.permissions import check_simulate
from yunpipe_tui.doctor.roles import (
    check_batch_slr,
    check_ec2_actions_role,
    check_ecs_instance_role,
    check_events_slr,
    check_lambda_exec_role,
    fix_batch_slr,
    fix_ec2_actions_role,
    fix_ecs_instance_role,
    fix_events_slr,
    fix_lambda_exec_role,
)
from yunpipe_tui.doctor.services import check_ami, check_ecr, service_check
from yunpipe_tui.doctor.workflow_checks import (
    check_buckets,
    check_key_pair,
    check_network,
    check_workflow_ami,
)
from yunpipe_tui.workflow import BATCH, ECS

ECS_ONLY = frozenset({ECS})
BATCH_ONLY = frozenset({BATCH})


def _checks() -> list[Check]:
    svc = service_check
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
        Check(
            "service-batch",
            "Batch",
            svc("batch", lambda c: c.describe_job_queues(maxResults=1), "Batch"),
            backends=BATCH_ONLY,
        ),
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
        Check("service-ssm", "SSM (ECS AMI parameter)", check_ami),
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
            backends=ECS_ONLY,  # the ECS backend's idle alarms; Batch scales down itself
        ),
        Check(
            "events-service-linked-role",
            "CloudWatch Events service-linked role",
            check_events_slr,
            fixer=fix_events_slr,
            backends=ECS_ONLY,
        ),
        Check(
            "batch-service-linked-role",
            "AWS Batch service-linked role",
            check_batch_slr,
            fixer=fix_batch_slr,
            backends=BATCH_ONLY,
        ),
        Check("simulate-deploy", "Permissions for deploy", check_simulate),
        Check("workflow-key-pair", "Key pair", check_key_pair, workflow_only=True),
        Check("workflow-buckets", "Buckets", check_buckets, workflow_only=True),
        Check("workflow-network", "Default VPC and subnet", check_network, workflow_only=True),
        Check("workflow-ami", "ECS-optimized AMI", check_workflow_ami, workflow_only=True),
    ]


CHECKS: list[Check] = _checks()


def check_ids(workflow: bool = False, backend: str = ECS) -> list[str]:
    """The ids `run_checks` reports: without a workflow (the ECS backend's account checks), or
    with a workflow whose compute backend is `backend`."""
    if not workflow:
        backend = ECS
    return [c.id for c in CHECKS if backend in c.backends and (workflow or not c.workflow_only)]


def fixable_ids() -> list[str]:
    return [c.id for c in CHECKS if c.fixer is not None]
