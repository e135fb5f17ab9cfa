"""The doctor checks what the workflow's compute backend needs: Batch's service-linked role for
Batch, EC2ActionsAccess and the CloudWatch Events service-linked role (the idle alarms) only for
ECS; without a workflow, today's (ECS) checks."""

from __future__ import annotations

import json
from typing import Any

from tests.doctor.test_doctor import by_id
from yunpipe_tui import doctor
from yunpipe_tui import prerequisite_policies as pol
from yunpipe_tui.workflow import Workflow, workflow_from_json

ROLE_IDS = (
    "credentials",
    "lambda-exec-role",
    "ecs-instance-role",
    "ec2-actions-role",
    "events-service-linked-role",
    "batch-service-linked-role",
)
ROLE_CHECKS = [c for c in doctor.CHECKS if c.id in ROLE_IDS]
ECS_ONLY = {"ec2-actions-role", "events-service-linked-role"}
BATCH_ONLY = {"batch-service-linked-role", "service-batch"}


def _workflow(tmp_path: Any, backend: str | None) -> Workflow:
    data: dict[str, Any] = {
        "name": "wf",
        "input_s3_name": "yunpipe-doctor-in",
        "output_s3_name": "yunpipe-doctor-out",
        "key_pair": "",
        "region": "us-east-1",
        "process": {"type": "single_run", "algorithms": [{"name": "a"}]},
    }
    if backend is not None:
        data["compute"] = {"backend": backend, "max_vcpus": 16, "spot": True}
    return workflow_from_json(data, source=str(tmp_path / "wf.json"))


def test_the_checks_follow_the_backend() -> None:
    without = set(doctor.check_ids())
    ecs = set(doctor.check_ids(workflow=True))
    batch = set(doctor.check_ids(workflow=True, backend="batch"))
    assert without >= ECS_ONLY and not BATCH_ONLY & without  # no workflow: today's checks
    assert ecs >= ECS_ONLY and not BATCH_ONLY & ecs
    assert batch >= BATCH_ONLY and not ECS_ONLY & batch
    assert ecs - ECS_ONLY == batch - BATCH_ONLY  # everything else serves both
    assert doctor.check_ids(backend="batch") == doctor.check_ids()  # no workflow, no backend
    assert {"batch-service-linked-role", "ec2-actions-role"} <= set(doctor.fixable_ids())


def test_a_batch_workflow_gets_batchs_service_linked_role_and_no_alarm_roles(
    iam_aws: Any, tmp_path: Any
) -> None:
    wf = _workflow(tmp_path, "batch")
    results = by_id(doctor.run_checks(iam_aws, wf, checks=ROLE_CHECKS))
    assert set(results) == set(ROLE_IDS) - ECS_ONLY
    slr = results["batch-service-linked-role"]
    assert slr.status == "fail" and "AWSServiceRoleForBatch does not exist" in slr.detail
    assert slr.fix is not None and slr.fix.policy == {"AWSServiceName": "batch.amazonaws.com"}
    assert "iam:CreateServiceLinkedRole" in slr.fix.description

    assert doctor.apply_fix(iam_aws, "batch-service-linked-role") == (
        "created service-linked role AWSServiceRoleForBatch"
    )
    roles = iam_aws.client("iam").list_roles(PathPrefix="/aws-service-role/batch.amazonaws.com/")
    (role,) = roles["Roles"]
    assert pol.trusts(role["AssumeRolePolicyDocument"], "batch.amazonaws.com")
    results = by_id(doctor.run_checks(iam_aws, wf, checks=ROLE_CHECKS))
    assert results["batch-service-linked-role"].status == "ok"
    assert "nothing to do" in doctor.apply_fix(iam_aws, "batch-service-linked-role")
    # The ECS backend's alarm roles were never needed, nor created.
    assert results.get("ec2-actions-role") is None
    iam = iam_aws.client("iam")
    assert not iam.list_roles(PathPrefix="/aws-service-role/events.amazonaws.com/")["Roles"]


def test_an_ecs_workflow_and_no_workflow_keep_todays_role_checks(
    iam_aws: Any, tmp_path: Any
) -> None:
    for wf in (None, _workflow(tmp_path, None), _workflow(tmp_path, "ecs")):
        results = by_id(doctor.run_checks(iam_aws, wf, checks=ROLE_CHECKS))
        assert set(results) == set(ROLE_IDS) - {"batch-service-linked-role"}
        assert results["ec2-actions-role"].status == "fail"
        assert results["events-service-linked-role"].status == "fail"


def test_the_permission_simulation_asks_for_the_backends_deploy_actions(
    iam_aws: Any, tmp_path: Any
) -> None:
    asked: list[list[str]] = []

    def simulate(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse

        body = params["body"]
        actions = [v for k, v in sorted(body.items()) if k.startswith("ActionNames.member.")]
        asked.append(actions)
        results = [{"EvalActionName": a, "EvalDecision": "allowed"} for a in actions]
        return AWSResponse("https://iam", 200, {}, None), {"EvaluationResults": results}

    iam_aws.add_hook("before-call.iam.SimulatePrincipalPolicy", simulate)
    checks = [c for c in doctor.CHECKS if c.id in ("credentials", "simulate-deploy")]
    for backend in ("batch", "ecs"):
        result = by_id(doctor.run_checks(iam_aws, _workflow(tmp_path, backend), checks=checks))
        simulated = result["simulate-deploy"]
        assert simulated.status == "ok", simulated
        assert set(asked[-1]) == set(pol.deploy_actions(backend))
        assert f"all {len(pol.deploy_actions(backend))} deploy actions" in simulated.detail
    assert "batch:CreateComputeEnvironment" in asked[0]
    assert "ecs:CreateCluster" in asked[1] and not any(a.startswith("batch:") for a in asked[1])


def test_cli_with_a_batch_workflow(iam_aws: Any, run_cli: Any, tmp_path: Any) -> None:
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(_workflow(tmp_path, "batch").to_json()))
    code, out, err = run_cli("doctor", "--json", "-f", str(path))
    assert code == 1, err  # the roles are missing
    checks = json.loads(out)["checks"]
    assert [c["id"] for c in checks] == doctor.check_ids(workflow=True, backend="batch")
    service = next(c for c in checks if c["id"] == "service-batch")
    assert service["status"] == "ok" and "Batch answers" in service["detail"]
