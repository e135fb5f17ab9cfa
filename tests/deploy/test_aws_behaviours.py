"""Real-AWS behaviours moto does not imitate, injected with botocore before-call hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import fail_first, plan_for, snapshot, write_workflow
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import DeployError, deploy, journal, preflight
from yunpipe_tui.deploy.events import FAILED, SKIPPED, Recorder
from yunpipe_tui.deploy.teardown import rollback
from yunpipe_tui.errors import AwsError

ROLE_MSG = "The role defined for the function cannot be assumed by Lambda."
DEST_MSG = "Unable to validate the following destination configurations"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_lambda_role_not_yet_assumable_is_retried(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    hook = fail_first(2, "InvalidParameterValueException", ROLE_MSG)
    ctx.add_hook("before-call.lambda.CreateFunction", hook)
    plan = plan_for(ctx, write_workflow(tmp_path), catalog)
    sleeps = Sleeps()
    result = deploy(plan, ctx, code=code, sleep=sleeps)
    assert result.actions["s1/dispatcher"] == "create"
    assert hook.state["calls"] == 3
    assert sleeps == [1.0, 2.0]


def test_role_retry_is_bounded(prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any) -> None:
    ctx = prereqs
    ctx.add_hook(
        "before-call.lambda.CreateFunction",
        fail_first(100, "InvalidParameterValueException", ROLE_MSG),
    )
    plan = plan_for(ctx, write_workflow(tmp_path), catalog)
    sleeps = Sleeps()
    with pytest.raises(DeployError, match="cannot be assumed"):
        deploy(plan, ctx, code=code, sleep=sleeps)
    assert len(sleeps) == 7 and sum(sleeps) <= 60 and max(sleeps) <= 8


def test_other_lambda_errors_are_not_retried_and_stop_the_deploy(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    hook = fail_first(100, "InvalidParameterValueException", "Unsupported runtime")
    ctx.add_hook("before-call.lambda.CreateFunction", hook)
    plan = plan_for(ctx, write_workflow(tmp_path), catalog)
    rec = Recorder()
    with pytest.raises(DeployError) as info:
        deploy(plan, ctx, rec, code=code, sleep=Sleeps())
    assert hook.state["calls"] == 1
    assert info.value.resource.key == "s1/dispatcher"
    assert "Unsupported runtime" in str(info.value)
    (failed,) = rec.by_status(FAILED)
    assert failed.key == "s1/dispatcher" and "Unsupported runtime" in failed.message
    skipped = {e.key for e in rec.by_status(SKIPPED)}
    assert {"s1/s3-permission", "s1/notification", "s1/schedule-target"} <= skipped
    record = journal.load("demo")
    assert record.status == journal.FAILED and "dispatcher" in record.data["error"]
    assert record.resources["s1/dispatcher"]["status"] == journal.INTENT
    assert record.resources["s1/notification"]["status"] == journal.PLANNED
    assert "s1/queue" in info.value.created


def test_rollback_removes_what_the_run_created(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    before = snapshot(ctx)
    ctx.add_hook(
        "before-call.lambda.CreateFunction", fail_first(100, "InvalidParameterValueException", "x")
    )
    plan = plan_for(ctx, write_workflow(tmp_path), catalog)
    with pytest.raises(DeployError) as info:
        deploy(plan, ctx, code=code, sleep=Sleeps())
    rollback("demo", info.value.created, ctx)
    assert snapshot(ctx) == before


def test_notification_destination_validation_is_retried_after_permission(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    order: list[str] = []
    ctx.add_hook("before-call.*.*", lambda event_name, **_: order.append(event_name))
    hook = fail_first(2, "InvalidArgument", DEST_MSG)
    ctx.add_hook("before-call.s3.PutBucketNotificationConfiguration", hook)
    plan = plan_for(ctx, write_workflow(tmp_path), catalog)
    sleeps = Sleeps()
    deploy(plan, ctx, code=code, sleep=sleeps)
    assert hook.state["calls"] == 3 and sleeps == [1.0, 2.0]
    first_put = order.index("before-call.s3.PutBucketNotificationConfiguration")
    s3_permission = [i for i, e in enumerate(order) if e == "before-call.lambda.AddPermission"]
    assert s3_permission and min(s3_permission) < first_put


def test_bucket_owned_by_someone_else(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    ctx.add_hook("before-call.s3.HeadBucket", fail_first(100, "403", "Forbidden", status=403))
    path = write_workflow(tmp_path)
    plan = plan_for(ctx, path, catalog)
    problems = preflight.check(ctx, plan.workflow, plan)
    assert any("owned by someone else" in p and "demo-input-bucket" in p for p in problems)
    with pytest.raises(DeployError, match="owned by someone else"):
        deploy(plan, ctx, code=code)


def test_create_bucket_location_constraint(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    seen: list[dict] = []
    ctx.add_hook("before-call.s3.CreateBucket", lambda params, **_: seen.append(params))
    deploy(plan_for(ctx, write_workflow(tmp_path), catalog), ctx, code=code)
    assert seen and all(b"LocationConstraint" not in p.get("body", b"") for p in seen)
    seen.clear()
    from tests.deploy.helpers import make_prerequisites  # noqa: F401 - roles are global in IAM

    plan = plan_for(ctx, write_workflow(tmp_path, name="eu", region="eu-west-1"), catalog)
    assert plan.facts.region == "eu-west-1"
    deploy(plan, ctx, code=code)
    assert seen and all(b"eu-west-1" in p.get("body", b"") for p in seen)
    eu = ctx.for_region("eu-west-1")
    loc = eu.client("s3").get_bucket_location(Bucket="eu-input-bucket")
    assert loc["LocationConstraint"] == "eu-west-1"
    assert journal.load("eu").region == "eu-west-1"
    fn = eu.client("lambda").get_function(FunctionName=names.dispatcher("eu", "s1"))
    assert fn["Configuration"]["FunctionArn"].split(":")[3] == "eu-west-1"


def test_preflight_names_missing_prerequisites(aws: Any, tmp_path: Path, catalog: Catalog) -> None:
    path = write_workflow(tmp_path, key_pair="nope", account_id="111111111111")
    from yunpipe_tui.workflow import load_workflow

    workflow = load_workflow(path, catalog)
    problems = preflight.check(aws, workflow)
    text = "\n".join(problems)
    assert "account_id 111111111111" in text and "123456789012" in text
    assert "key pair 'nope'" in text
    assert "lambda_exec_role is missing; run `yunpipe doctor --fix`" in text
    assert "ecsInstanceRole is missing" in text
    assert "instance profile ecsInstanceRole is missing" in text
    with pytest.raises(Exception, match="doctor --fix"):
        preflight.require(aws, workflow)


def test_account_facts(prereqs: Any, tmp_path: Path, catalog: Catalog) -> None:
    from yunpipe_tui.workflow import load_workflow

    facts = preflight.account_facts(prereqs, load_workflow(write_workflow(tmp_path), catalog))
    assert facts.account_id == "123456789012" and facts.region == "us-east-1"
    assert facts.ami_id.startswith("ami-")
    assert facts.subnet_ids and all(s.startswith("subnet-") for s in facts.subnet_ids)
    assert facts.lambda_role_arn == "arn:aws:iam::123456789012:role/lambda_exec_role"


def test_no_credentials_is_one_clear_line(monkeypatch: Any, tmp_path: Path) -> None:
    from yunpipe_tui.aws import AwsContext

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises((AwsError, Exception), match="credentials"):
        preflight.caller_account(AwsContext(region="us-east-1"))


def test_queue_policy_principal_not_yet_visible_is_retried(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    hook = fail_first(1, "InvalidAttributeValue", "Invalid value for the parameter Policy.")
    ctx.add_hook("before-call.sqs.CreateQueue", hook)
    sleeps = Sleeps()
    deploy(plan_for(ctx, write_workflow(tmp_path), catalog), ctx, code=code, sleep=sleeps)
    assert hook.state["calls"] == 3 and sleeps == [4.0]  # dlq retried once, then the queue


def test_bucket_in_another_region_is_named(prereqs: Any, tmp_path: Path, catalog: Catalog) -> None:
    prereqs.add_hook(
        "before-call.s3.HeadBucket", fail_first(1, "301", "Moved Permanently", status=301)
    )
    plan = plan_for(prereqs, write_workflow(tmp_path), catalog)
    problems = preflight.check(prereqs, plan.workflow, plan)
    assert any("demo-input-bucket exists in another region" in p for p in problems)
