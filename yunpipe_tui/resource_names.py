"""Deterministic AWS resource names for a pipeline, shared by plan, deploy, teardown, monitor,
the doctor's policies and the sandbox. Every name starts with `yunpipe-` so that IAM policies can
be scoped to `yunpipe-*` and leftovers can be found by prefix.

Steps are numbered from 1: step k is `s<k>`.
"""

from __future__ import annotations

PREFIX = "yunpipe"
TAG_PIPELINE = "yunpipe:pipeline"
TAG_STEP = "yunpipe:step"
TAG_MANAGED = "yunpipe:managed"
ROLE_PATH = "/yunpipe/"  # task roles live here, so iam:PassRole can be scoped to role/yunpipe/*
LAMBDA_EXEC_ROLE = "lambda_exec_role"
ECS_INSTANCE_ROLE = "ecsInstanceRole"
EC2_ACTIONS_ROLE = "EC2ActionsAccess"


def step_id(index: int) -> str:
    """`s1`, `s2`, ... for the 0-based index of a step in the workflow."""
    return f"s{index + 1}"


def base(pipeline: str, step: str | None = None) -> str:
    return f"{PREFIX}-{pipeline}" + (f"-{step}" if step else "")


def cluster(pipeline: str) -> str:
    return base(pipeline)


def log_group(pipeline: str) -> str:
    return f"/{PREFIX}/{pipeline}"


def ledger_table(pipeline: str) -> str:
    """The pipeline's file ledger (DynamoDB): one item per input file version and step."""
    return f"{base(pipeline)}-ledger"


STEPS_PER_RULE = 5  # EventBridge allows five targets per rule


def schedule_rule(pipeline: str, index: int = 0) -> str:
    """Reconcile rule of the index-th group of five steps: `...-reconcile`, `...-reconcile-2`."""
    return f"{base(pipeline)}-reconcile" + (f"-{index + 1}" if index else "")


def schedule_rule_index(step_index: int) -> int:
    """Which reconcile rule serves the step with this 0-based index."""
    return step_index // STEPS_PER_RULE


def queue(pipeline: str, step: str) -> str:
    return f"{base(pipeline, step)}-queue"


def dead_letter_queue(pipeline: str, step: str) -> str:
    return f"{base(pipeline, step)}-dlq"


def task_family(pipeline: str, step: str) -> str:
    return base(pipeline, step)


def task_role(pipeline: str, step: str) -> str:
    return f"{base(pipeline, step)}-task"


def dispatcher(pipeline: str, step: str) -> str:
    return f"{base(pipeline, step)}-dispatch"


def alarm(pipeline: str, step: str, instance_id: str) -> str:
    return f"{base(pipeline, step)}-idle-{instance_id}"


def alarm_prefix(pipeline: str) -> str:
    return f"{base(pipeline)}-"


def intermediate_bucket(pipeline: str, step: str, account_id: str) -> str:
    """Between step k and k+1; the account id keeps the global bucket name ours."""
    return f"{base(pipeline, step)}-out-{account_id}"


LEDGER_TABLE_PATTERN = f"{PREFIX}-*-ledger"  # what the dispatcher's role may write to

# --- the Batch backend (issue 13): one job queue and one or two compute environments per
# pipeline, one job definition per step (named like the step's ECS task family).
SPOT, ON_DEMAND = "spot", "ondemand"


def compute_environment(pipeline: str, purchase: str) -> str:
    """`yunpipe-<p>-spot` or `yunpipe-<p>-ondemand` (Batch names allow 128 characters)."""
    return f"{base(pipeline)}-{purchase}"


def job_queue(pipeline: str) -> str:
    return f"{base(pipeline)}-jobs"


def job_definition(pipeline: str, step: str) -> str:
    return base(pipeline, step)


def drain_job(pipeline: str, step: str) -> str:
    """The name of every drain job the step's dispatcher submits (how it counts its own)."""
    return f"{base(pipeline, step)}-drain"
