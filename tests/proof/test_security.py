"""Security, proven on a whole run in the sandbox.

A user with keys in the keyring (and the seed's plaintext task file, migrated) runs
`doctor --fix`, `deploy -uu`, uploads a file and watches it flow. Then:
- no secret appears under the temporary HOME, in journals, in anything printed or logged, or in
  any resource read back from the (emulated) account;
- every policy yunpipe created passes the audit: no `Action: "*"`, no allow for `Principal: "*"`,
  `iam:PassRole` only for named roles with `iam:PassedToService`; task definitions carry a task
  role and no AWS keys; buckets are public-blocked and encrypted; Lambda permissions carry source
  conditions; instances launch with IMDSv2 required.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import run_cli
from yunpipe_tui import credentials
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog

pytest.importorskip("moto")

from yunpipe_tui.sandbox import Sandbox, Timings, flow

ACCESS_KEY = "AKIAYUNPIPESCANTEST1"
SECRET = "yunpipe/Scan+Secret/0123456789abcdefGHIJKLmnop"
TASK_SECRET = "yunpipe/Task+Secret/zyxwvutsrqp9876543210ABCD"
SECRETS = (SECRET, TASK_SECRET)
PIPELINE = "secure"


class MemoryKeyring:
    """An in-memory keyring backend for this test only."""

    def __init__(self) -> None:
        from keyring.backend import KeyringBackend

        class _Backend(KeyringBackend):
            priority = 1  # type: ignore[assignment]
            items: dict[tuple[str, str], str] = {}  # noqa: RUF012

            def get_password(self, service: str, username: str) -> str | None:
                return self.items.get((service, username))

            def set_password(self, service: str, username: str, password: str) -> None:
                self.items[(service, username)] = password

            def delete_password(self, service: str, username: str) -> None:
                self.items.pop((service, username), None)

        self.backend = _Backend()


def find_secrets(text: str) -> list[str]:
    return [s[:12] for s in SECRETS if s in text]


def files_with_secrets(root: Path) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path}" for s in SECRETS if s.encode() in data]
    return hits


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(timings=Timings.fast(), workdir=tmp_path / "sandbox") as sb:
        yield sb


def read_back_everything(ctx: Any) -> dict[str, Any]:
    """Every resource the run could have written a secret into, as AWS would return it."""
    lam, ecs, sqs, s3, iam = (ctx.client(s) for s in ("lambda", "ecs", "sqs", "s3", "iam"))
    ec2, cw, logs = ctx.client("ec2"), ctx.client("cloudwatch"), ctx.client("logs")
    out: dict[str, Any] = {"functions": [], "task_definitions": [], "queues": [], "roles": []}
    for fn in lam.list_functions()["Functions"]:
        out["functions"].append(lam.get_function_configuration(FunctionName=fn["FunctionName"]))
    for arn in ecs.list_task_definitions()["taskDefinitionArns"]:
        out["task_definitions"].append(ecs.describe_task_definition(taskDefinition=arn))
    for url in sqs.list_queues().get("QueueUrls", []):
        out["queues"].append(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        out["roles"].append(
            {
                "role": role,
                "inline": [
                    iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                    for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
                ],
            }
        )
    out["buckets"] = {}
    for bucket in s3.list_buckets()["Buckets"]:
        objects = s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
        out["buckets"][bucket["Name"]] = [
            s3.get_object(Bucket=bucket["Name"], Key=o["Key"])["Body"]
            .read()
            .decode(errors="replace")
            for o in objects
        ]
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    out["instances"] = instances
    out["user_data"] = [
        ec2.describe_instance_attribute(InstanceId=i["InstanceId"], Attribute="userData")
        for i in instances
    ]
    out["alarms"] = cw.describe_alarms()["MetricAlarms"]
    out["log_groups"] = logs.describe_log_groups()["logGroups"]
    # issue 12: the file ledger's items and the per-file log streams of the algorithm's output
    ddb = ctx.client("dynamodb")
    out["ledger"] = {t: ddb.scan(TableName=t)["Items"] for t in ddb.list_tables()["TableNames"]}
    out["log_events"] = [
        e
        for g in out["log_groups"]
        for st in logs.describe_log_streams(logGroupName=g["logGroupName"])["logStreams"]
        for e in logs.get_log_events(
            logGroupName=g["logGroupName"], logStreamName=st["logStreamName"]
        )["events"]
    ]
    return out


def statements(doc: Any) -> list[dict[str, Any]]:
    st = doc.get("Statement", [])
    return st if isinstance(st, list) else [st]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def audit_policy(where: str, doc: Any) -> list[str]:
    problems = []
    if isinstance(doc, str):
        doc = json.loads(doc)
    for st in statements(doc):
        if st.get("Effect") != "Allow":
            continue
        actions = as_list(st.get("Action", []))
        if "*" in actions or any(a.endswith(":*") for a in actions):
            problems.append(f"{where}: wildcard action {actions}")
        principal = st.get("Principal")
        if principal == "*" or (
            isinstance(principal, dict) and "*" in as_list(principal.get("AWS", []))
        ):
            problems.append(f"{where}: allows Principal '*'")
        if "iam:PassRole" in actions:
            resources = as_list(st.get("Resource", []))
            if any(r == "*" or r.endswith(":role/*") for r in resources):
                problems.append(f"{where}: iam:PassRole on any role {resources}")
            if "iam:PassedToService" not in json.dumps(st.get("Condition", {})):
                problems.append(f"{where}: iam:PassRole without iam:PassedToService")
        if any(a.startswith("dynamodb:") for a in actions):
            resources = as_list(st.get("Resource", []))
            if not all(":table/yunpipe-" in r and r.endswith("-ledger") for r in resources):
                problems.append(f"{where}: dynamodb beyond the ledger tables {resources}")
    return problems


@pytest.fixture
def keyring_user(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> MemoryKeyring:
    ring = MemoryKeyring()
    credentials.set_backend_override(ring.backend)
    credentials.set_interactive(False)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    # The seed kept task credentials in plaintext; yunpipe migrates them into the keyring.
    seed = isolated_home / ".yunpipe"
    seed.mkdir()
    (seed / "task").write_text(
        f"[default]\naws_access_key_id = AKIATASKKEY000000001\n"
        f"aws_secret_access_key = {TASK_SECRET}\nregion = us-east-1\n"
    )
    yield ring
    credentials.set_backend_override(None)
    credentials.set_interactive(True)


def test_whole_run_leaks_no_secret_and_passes_the_policy_audit(
    sandbox: Sandbox,
    keyring_user: MemoryKeyring,
    isolated_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint)
    credentials.set_profile("research", ACCESS_KEY, SECRET, region="us-east-1")
    for source in credentials.find_plaintext(aws_profiles=False):
        credentials.migrate(source)
        credentials.delete_plaintext(source)
    assert files_with_secrets(isolated_home) == []

    # The user's keys come from the keyring for every command below.
    code, out, err = run_cli(["--profile", "research", "doctor", "--fix", "--yes"], capsys)
    printed = out + err
    catalog = Catalog()
    catalog.add(flow.text_algorithm("sec-upper", "upper"))
    catalog.add(flow.text_algorithm("sec-number", "number"))
    workflow = flow.workflow_for(PIPELINE, ["sec-upper", "sec-number"], "sec-in", "sec-out")
    path = tmp_path / "secure.json"
    workflow.save(path)
    code, out, err = run_cli(
        ["--profile", "research", "setup-pipe", "-f", str(path), "-uu"], capsys
    )
    printed += out + err
    assert code == 0, err
    assert "task role" in (out + err)

    ctx = sandbox.aws_context()
    flow.upload(ctx, "sec-in", {"data/hello.txt": b"hello\nworld\n"})
    final = flow.final_key(["sec-upper", "sec-number"], "data/hello.txt")
    arrived = flow.wait_for_objects(ctx, "sec-out", [final], timeout=90)
    assert arrived.complete, "the file did not flow through the pipeline"

    # --- secrets ---
    everything = json.dumps(read_back_everything(ctx), default=str)
    assert find_secrets(everything) == []
    assert ACCESS_KEY not in everything
    assert files_with_secrets(isolated_home) == []
    assert files_with_secrets(tmp_path) == []
    printed += capsys.readouterr().out
    assert find_secrets(printed) == []
    assert find_secrets("\n".join(r.getMessage() for r in caplog.records)) == []

    # --- policies ---
    problems: list[str] = []
    snap = read_back_everything(ctx)
    for entry in snap["roles"]:
        role = entry["role"]
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue
        name = role["RoleName"]
        problems += audit_policy(f"{name} trust", role["AssumeRolePolicyDocument"])
        for doc in entry["inline"]:
            problems += audit_policy(f"{name} inline", doc)
    for attrs in snap["queues"]:
        policy = attrs["Attributes"].get("Policy")
        if policy:
            problems += audit_policy("queue", policy)
    lam = ctx.client("lambda")
    for fn in snap["functions"]:
        policy = json.loads(lam.get_policy(FunctionName=fn["FunctionName"])["Policy"])
        problems += audit_policy(fn["FunctionName"], policy)
        for st in statements(policy):
            cond = json.dumps(st.get("Condition", {}))
            assert "SourceArn" in cond and "SourceAccount" in cond, (fn["FunctionName"], st)
    for td in snap["task_definitions"]:
        definition = td["taskDefinition"]
        assert definition.get("taskRoleArn"), definition["family"]
        for container in definition["containerDefinitions"]:
            env = {e["name"] for e in container.get("environment", [])}
            assert not {
                n
                for n in env
                if n.startswith("AWS_") and ("KEY" in n or "SECRET" in n or "TOKEN" in n)
            }
    s3 = ctx.client("s3")
    created = ["sec-in", "sec-out", names.intermediate_bucket(PIPELINE, "s1", "123456789012")]
    for bucket in created:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), bucket
        enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert enc["Rules"], bucket
    launched = [
        i
        for i in snap["instances"]
        if any(t["Key"] == names.TAG_PIPELINE and t["Value"] == PIPELINE for t in i.get("Tags", []))
    ]
    assert launched, "the dispatcher launched no instance"
    for instance in launched:
        assert instance["MetadataOptions"]["HttpTokens"] == "required", instance["InstanceId"]
    ddb = ctx.client("dynamodb")
    table = ddb.describe_table(TableName=names.ledger_table(PIPELINE))["Table"]
    assert table["SSEDescription"]["Status"] in ("ENABLED", "ENABLING")
    assert snap["ledger"][names.ledger_table(PIPELINE)], "the ledger recorded nothing"
    assert problems == []

    code, out, err = run_cli(["--profile", "research", "teardown", PIPELINE, "--yes"], capsys)
    assert code == 0, err
    assert find_secrets(out + err) == []
    assert files_with_secrets(isolated_home) == []


def test_the_audit_and_the_scan_can_fail(tmp_path: Path) -> None:
    """The checks above are not vacuous: each catches what it looks for."""
    bad = {
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b"},
        ]
    }
    found = audit_policy("bad", bad)
    assert len(found) == 5, found
    too_wide = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}]}
    assert len(audit_policy("ledger", too_wide)) == 1
    good = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::123456789012:role/ecsInstanceRole",
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            }
        ]
    }
    assert audit_policy("good", good) == []
    (tmp_path / "leak.txt").write_text(f"x={SECRET}")
    assert files_with_secrets(tmp_path) == [str(tmp_path / "leak.txt")]
    assert find_secrets(f"..{TASK_SECRET}..") == [TASK_SECRET[:12]]
