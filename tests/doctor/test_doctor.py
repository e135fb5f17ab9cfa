"""The doctor against moto: role checks, fixes, isolation of failing checks, JSON, exit codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from yunpipe_tui import doctor
from yunpipe_tui import prerequisite_policies as pol
from yunpipe_tui import resource_names as names

ROLE_CHECKS = ("lambda-exec-role", "ecs-instance-role", "ec2-actions-role")
SEED_POLICY = {  # the seed's LambdaExec document, typo and catch-alls included
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": [
                "logs:*",
                "cloudwatch:*",
                "lambda:invokeFunction",
                "sqs:SendMessage",
                "ec2:Describe*",
                "ec2:StartInsatnces",
                "iam:PassRole",
                "ecs:RunTask",
            ],
            "Effect": "Allow",
            "Resource": [
                "arn:aws:logs:*:*:*",
                "arn:aws:lambda:*:*:*:*",
                "arn:aws:sqs:*:*:*",
                "arn:aws:ec2:*:*:*",
                "arn:aws:cloudwatch:*:*:*",
                "arn:aws:ecs:*:*:*",
            ],
        }
    ],
}


IAM_CHECKS = [
    c for c in doctor.CHECKS if c.id in ("credentials", *ROLE_CHECKS, "events-service-linked-role")
]


def iam_checks(aws: Any) -> dict[str, doctor.CheckResult]:
    """Only the IAM checks: moto's Lambda and EC2 backends take a second each to start."""
    return by_id(doctor.run_checks(aws, checks=IAM_CHECKS))


def by_id(results: list[doctor.CheckResult]) -> dict[str, doctor.CheckResult]:
    return {r.id: r for r in results}


def test_fresh_account_the_role_checks_fail(iam_aws: Any) -> None:
    results = by_id(doctor.run_checks(iam_aws))
    for cid in ROLE_CHECKS:
        assert results[cid].status == "fail", results[cid]
        assert results[cid].fix is not None
    assert results["events-service-linked-role"].status == "fail"
    assert results["credentials"].status == "ok"
    assert "123456789012" in results["credentials"].detail
    assert "environment variables" in results["credentials"].detail
    for service in ("lambda", "sqs", "s3", "ecs", "ec2", "cloudwatch", "logs", "ssm"):
        assert results[f"service-{service}"].status == "ok"
    # moto does not implement SimulatePrincipalPolicy: a warning that says so, never a failure
    assert results["simulate-deploy"].status == "warn"
    assert "not implemented" in results["simulate-deploy"].detail
    # the fix carries the exact policy it applies
    fix = results["lambda-exec-role"].fix
    assert fix is not None and fix.policy is not None
    assert fix.policy["PolicyDocument"] == pol.lambda_exec_policy("123456789012")
    assert fix.policy["AssumeRolePolicyDocument"] == pol.trust_policy("lambda.amazonaws.com")


def test_apply_every_fix_then_all_pass(iam_aws: Any) -> None:
    for cid in doctor.fixable_ids():
        assert doctor.apply_fix(iam_aws, cid)
    results = iam_checks(iam_aws)
    assert [r.id for r in results.values() if r.status != "ok"] == []
    iam = iam_aws.client("iam")
    role = iam.get_role(RoleName="lambda_exec_role")["Role"]
    assert pol.trusts(role["AssumeRolePolicyDocument"], "lambda.amazonaws.com")
    attached = iam.list_attached_role_policies(RoleName="lambda_exec_role")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [pol.LAMBDA_BASIC_EXECUTION_ARN]
    profile = iam.get_instance_profile(InstanceProfileName="ecsInstanceRole")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["ecsInstanceRole"]
    # fixes are idempotent
    assert "nothing to do" in doctor.apply_fix(iam_aws, "ecs-instance-role")
    assert "nothing to do" in doctor.apply_fix(iam_aws, "events-service-linked-role")
    assert doctor.apply_fix(iam_aws, "lambda-exec-role").count("created") == 0


def test_a_role_missing_actions_names_them(iam_aws: Any) -> None:
    iam = iam_aws.client("iam")
    iam.create_role(
        RoleName="lambda_exec_role",
        AssumeRolePolicyDocument=json.dumps(pol.trust_policy("lambda.amazonaws.com")),
    )
    iam.put_role_policy(
        RoleName="lambda_exec_role", PolicyName="LambdaExec", PolicyDocument=json.dumps(SEED_POLICY)
    )
    result = iam_checks(iam_aws)["lambda-exec-role"]
    assert result.status == "fail"
    for action in ("ecs:StartTask", "ec2:RunInstances", "sqs:GetQueueAttributes", "ec2:CreateTags"):
        assert action in result.detail
    for granted in ("sqs:SendMessage", "ecs:RunTask", "cloudwatch:PutMetricAlarm", "logs:"):
        assert granted not in result.detail
    # the fix replaces nothing of the user's and adds the least-privilege policy
    doctor.apply_fix(iam_aws, "lambda-exec-role")
    assert sorted(iam.list_role_policies(RoleName="lambda_exec_role")["PolicyNames"]) == [
        "LambdaExec",
        pol.DISPATCHER_POLICY_NAME,
    ]
    assert iam_checks(iam_aws)["lambda-exec-role"].status == "ok"


def test_wrong_trust_is_reported_and_fixed(iam_aws: Any) -> None:
    iam = iam_aws.client("iam")
    iam.create_role(
        RoleName="lambda_exec_role",
        AssumeRolePolicyDocument=json.dumps(pol.trust_policy("ec2.amazonaws.com")),
    )
    iam.put_role_policy(
        RoleName="lambda_exec_role",
        PolicyName=pol.DISPATCHER_POLICY_NAME,
        PolicyDocument=json.dumps(pol.lambda_exec_policy("123456789012")),
    )
    result = iam_checks(iam_aws)["lambda-exec-role"]
    assert result.status == "fail" and "not trusted by lambda.amazonaws.com" in result.detail
    assert "do not grant" not in result.detail
    doctor.apply_fix(iam_aws, "lambda-exec-role")
    trust = iam.get_role(RoleName="lambda_exec_role")["Role"]["AssumeRolePolicyDocument"]
    assert pol.trusts(trust, "lambda.amazonaws.com") and pol.trusts(trust, "ec2.amazonaws.com")


def test_ecs_instance_role_parts(iam_aws: Any) -> None:
    iam = iam_aws.client("iam")
    iam.create_role(
        RoleName="ecsInstanceRole",
        AssumeRolePolicyDocument=json.dumps(pol.trust_policy("ec2.amazonaws.com")),
    )
    result = iam_checks(iam_aws)["ecs-instance-role"]
    assert result.status == "fail"
    assert "AmazonEC2ContainerServiceforEC2Role is not attached" in result.detail
    assert "instance profile ecsInstanceRole does not exist" in result.detail
    assert "role ecsInstanceRole does not exist" not in result.detail
    said = doctor.apply_fix(iam_aws, "ecs-instance-role")
    assert "created role" not in said and "created instance profile" in said


def test_a_check_that_raises_is_isolated(iam_aws: Any) -> None:
    def boom(facts: doctor.Facts) -> doctor.Outcome:
        raise RuntimeError("boom")

    checks = [
        doctor.CHECKS[0],
        doctor.Check("exploding", "Exploding check", boom),
        *[c for c in doctor.CHECKS if c.id == "service-sqs"],
    ]
    seen: list[str] = []
    results = doctor.run_checks(iam_aws, checks=checks, on_result=lambda r: seen.append(r.id))
    assert sorted(seen) == ["credentials", "exploding", "service-sqs"]
    assert [(r.id, r.status) for r in results] == [
        ("credentials", "ok"),
        ("exploding", "fail"),
        ("service-sqs", "ok"),
    ]
    assert results[1].detail == "the check failed: RuntimeError: boom"


def test_no_credentials_skips_the_aws_checks(iam_aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from yunpipe_tui.aws import AwsContext

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    results = by_id(doctor.run_checks(AwsContext(region="us-east-1")))
    assert results["credentials"].status == "fail"
    assert "yunpipe creds set" in results["credentials"].detail
    assert results["region"].status == "ok"
    assert results["service-sqs"].detail == "not checked: the AWS credentials do not work"


def test_cli_json_shape_and_exit_codes(iam_aws: Any, run_cli: Any) -> None:
    code, out, err = run_cli("doctor", "--json")
    assert code == 1
    data = json.loads(out)  # stdout is exactly one JSON document
    assert set(data) == {"ok", "checks"} and data["ok"] is False
    for check in data["checks"]:
        assert set(check) == {"id", "title", "status", "detail", "fix"}
        assert check["status"] in ("ok", "warn", "fail")
        assert check["fix"] is None or set(check["fix"]) == {"description", "policy"}
    ids = [c["id"] for c in data["checks"]]
    assert ids == doctor.check_ids()
    code, out, err = run_cli("doctor", "--fix", "--yes", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True
    assert "lambda_exec_role: created role" in err  # progress goes to stderr in JSON mode
    code, out, _ = run_cli("doctor")
    assert code == 0
    assert "[✓] IAM role lambda_exec_role" in out and "[!] Permissions for deploy" in out
    assert out.rstrip().endswith("Doctor found 1 warning.")


def test_cli_text_output_and_fix(iam_aws: Any, run_cli: Any) -> None:
    code, out, _ = run_cli("doctor")
    assert code == 1
    assert "[✗] IAM role ecsInstanceRole" in out
    assert "fix: create what is missing of role ecsInstanceRole" in out
    assert "Doctor found 4 issues and 1 warning." in out
    code, _, err = run_cli("doctor", "--fix")  # no terminal to ask in
    assert code == 2 and "--yes" in err
    code, out, _ = run_cli("doctor", "--fix", "--yes")
    assert code == 0
    assert '"PolicyName": "yunpipe-dispatcher"' in out  # each fix shows its policy JSON
    assert "created service-linked role" in out


def test_create_lambda_exec_role_alias(iam_aws: Any, run_cli: Any) -> None:
    code, out, _ = run_cli("create-lambda-exec-role")
    assert code == 0 and out.startswith("lambda_exec_role: created role lambda_exec_role")
    result = iam_checks(iam_aws)["lambda-exec-role"]
    assert result.status == "ok"
    from yunpipe_tui.cli import create_lambda_exec_role_alias

    assert callable(create_lambda_exec_role_alias)


def test_unknown_fix_is_refused(iam_aws: Any) -> None:
    from yunpipe_tui.errors import YunpipeError

    with pytest.raises(YunpipeError, match="no automatic fix for 'service-sqs'"):
        doctor.apply_fix(iam_aws, "service-sqs")


def _workflow(tmp_path: Any, **overrides: Any) -> Any:
    from yunpipe_tui.workflow import workflow_from_json

    data = {
        "name": "wf",
        "input_s3_name": "yunpipe-doctor-in",
        "output_s3_name": "yunpipe-doctor-out",
        "key_pair": "my-key",
        "region": "us-east-1",
        "process": {"type": "sequence_run", "algorithms": [{"name": "a"}, {"name": "b"}]},
    }
    data.update(overrides)
    return workflow_from_json(data, source=str(tmp_path / "wf.json"))


def test_workflow_checks(iam_aws: Any, tmp_path: Any) -> None:
    wf = _workflow(tmp_path)
    results = by_id(doctor.run_checks(iam_aws, wf))
    assert results["workflow-key-pair"].status == "fail"
    assert "'my-key' does not exist" in results["workflow-key-pair"].detail
    assert results["workflow-buckets"].status == "ok"
    intermediate = names.intermediate_bucket("wf", "s1", "123456789012")
    assert intermediate in results["workflow-buckets"].detail
    assert results["workflow-network"].status == "ok"
    assert results["workflow-ami"].status == "ok"
    assert results["service-ecr"].status == "ok"
    iam_aws.client("ec2").create_key_pair(KeyName="my-key")
    iam_aws.client("s3").create_bucket(Bucket="yunpipe-doctor-in")
    results = by_id(doctor.run_checks(iam_aws, wf))
    assert results["workflow-key-pair"].status == "ok"
    assert "already yours (will be used): yunpipe-doctor-in" in results["workflow-buckets"].detail


def test_workflow_without_default_vpc(iam_aws: Any, tmp_path: Any) -> None:
    ec2 = iam_aws.client("ec2")
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
        for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
            "Subnets"
        ]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
    result = by_id(doctor.run_checks(iam_aws, _workflow(tmp_path, key_pair="")))
    assert result["workflow-network"].status == "fail"
    assert "no default VPC" in result["workflow-network"].detail
    assert result["workflow-key-pair"].status == "ok"


def test_bucket_in_another_region_fails(iam_aws: Any, tmp_path: Any) -> None:
    iam_aws.for_region("eu-west-1").client("s3").create_bucket(
        Bucket="yunpipe-doctor-out",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    )
    checks = [c for c in doctor.CHECKS if c.id in ("credentials", "workflow-buckets")]
    result = by_id(doctor.run_checks(iam_aws, _workflow(tmp_path), checks=checks))
    bucket = result["workflow-buckets"]
    assert bucket.status == "fail", bucket
    assert (
        "another region than us-east-1" in bucket.detail and "yunpipe-doctor-out" in bucket.detail
    )


def test_a_failed_fix_does_not_stop_the_others(iam_aws: Any, run_cli: Any) -> None:
    from yunpipe_tui.cli import Options

    def deny(**_: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse

        error = {"Code": "AccessDenied", "Message": "not for you"}
        meta = {"HTTPStatusCode": 403}
        return AWSResponse("https://iam", 403, {}, None), {"Error": error, "ResponseMetadata": meta}

    original = Options.aws

    def hooked(self: Options) -> Any:
        ctx = original(self)
        ctx.add_hook("before-call.iam.CreateServiceLinkedRole", deny)
        return ctx

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Options, "aws", hooked)
        code, out, _ = run_cli("doctor", "--fix", "--yes")
    assert code == 1
    assert "failed: fixing events-service-linked-role: CreateServiceLinkedRole failed: " in out
    assert "AccessDenied: not for you" in out
    assert "[✓] IAM role ecsInstanceRole" in out  # the other fixes were applied
    assert "[✗] CloudWatch Events service-linked role" in out


def test_cli_with_a_workflow_file(iam_aws: Any, run_cli: Any, tmp_path: Any) -> None:
    path = tmp_path / "wf.json"
    path.write_text(
        json.dumps(
            {
                "input_s3_name": "yunpipe-doctor-in",
                "output_s3_name": "yunpipe-doctor-out",
                "key_pair": "",
                "region": "us-east-1",
                "process": {"type": "single_run", "algorithms": [{"name": "not-registered"}]},
            }
        )
    )
    code, out, err = run_cli("doctor", "--json", "-f", str(path))
    assert code == 1, err  # the roles are missing; the unregistered algorithm is validate's job
    ids = [c["id"] for c in json.loads(out)["checks"]]
    assert ids == doctor.check_ids(workflow=True)
    path.write_text("{")
    code, _, err = run_cli("doctor", "-f", str(path))
    assert code == 2 and "malformed JSON" in err
