"""Do the services yunpipe uses answer in the region: one cheap read per service, the ECS AMI
parameter, and the workflow's algorithm images in ECR."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from yunpipe_tui.aws import error_code, error_message, is_denied
from yunpipe_tui.doctor.model import FAIL, OK, Facts, Outcome

if TYPE_CHECKING:
    from yunpipe_tui.workflow import Workflow

AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"


def service_check(
    service: str, call: Callable[[Any], Any], what: str
) -> Callable[[Facts], Outcome]:
    def run(facts: Facts) -> Outcome:
        try:
            call(facts.ctx.client(service))
        except Exception as exc:
            if is_denied(exc):
                return FAIL, f"{what} is denied: {error_message(exc)}", None
            raise
        return OK, f"{what} answers in {facts.region}", None

    return run


def check_ami(facts: Facts) -> Outcome:
    try:
        value = facts.ctx.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    except Exception as exc:
        if error_code(exc) == "ParameterNotFound":
            return FAIL, f"{AMI_PARAMETER} does not exist in {facts.region}", None
        if is_denied(exc):
            return FAIL, f"reading the ECS AMI parameter is denied: {error_message(exc)}", None
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
            problems.append(f"{repo}: {error_message(exc)}")
    if problems:
        return FAIL, "; ".join(problems), None
    return OK, f"ECR repositories found: {', '.join(found)}", None
