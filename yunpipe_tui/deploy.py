"""The deploy engine: applies a `Plan` with idempotent ensure-operations.

    from yunpipe_tui.deploy import deploy, diff
    result = deploy(plan, ctx, sink)          # -> DeployResult; raises DeployError
    actions = diff(plan, ctx)                 # {key: "create" | "update" | "keep"}, read-only

For every resource the engine *inspects* AWS (missing / stale / current), then creates, updates or
keeps it. Before each create the journal records an intent; right after, the result. Independent
resources run in a small thread pool; a resource starts only when its dependencies are done.
On the first failure no new work starts, running work finishes, and `DeployError` names the
resource and AWS's reason; the journal keeps everything for teardown.

Real-AWS behaviours handled here (moto does not imitate them):
- a Lambda created right after its role: "The role defined for the function cannot be assumed by
  Lambda" is retried with bounded backoff, and only that error;
- S3 validates notification destinations: the Lambda permission is a dependency of the
  notification, and "Unable to validate the following destination configurations" is retried;
- `create_bucket` takes a LocationConstraint everywhere but us-east-1; 403 on `head_bucket` means
  the bucket name belongs to someone else;
- SQS refuses to recreate a queue for 60 s after its deletion (QueueDeletedRecently): retried.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from yunpipe_tui import events as ev
from yunpipe_tui import journal as jr
from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_code, error_message
from yunpipe_tui.errors import AwsError, YunpipeError
from yunpipe_tui.plan import Plan, Resource, Unresolved, resolve

MISSING, STALE, CURRENT = "missing", "stale", "current"
ACTION = {MISSING: "create", STALE: "update", CURRENT: "keep"}
SPEC_TAG = "yunpipe:spec"
ROLE_NOT_ASSUMABLE = "cannot be assumed by Lambda"
DESTINATION_INVALID = "Unable to validate the following destination configurations"
MAX_WORKERS = 8


class DeployError(YunpipeError):
    """A resource could not be created or updated; the journal keeps what was done."""

    def __init__(self, resource: Resource, reason: str, created: list[str]) -> None:
        self.resource = resource
        self.reason = reason
        self.created = created
        super().__init__(f"{resource.label} failed: {reason}")


class _NotStarted(Exception):
    """A resource queued for the pool when the cancel event was set; it was not touched."""


class DeployCancelled(YunpipeError):
    """The caller's `cancel` event was set: work in flight finished, nothing new started.

    The journal is consistent (every started resource has its result) and marked failed, so
    a later deploy converges and teardown/rollback find everything this run created."""

    def __init__(self, pipeline: str, created: list[str], skipped: list[str]) -> None:
        self.pipeline = pipeline
        self.created = created
        self.skipped = skipped
        super().__init__(
            f"deploy of {pipeline} cancelled: {len(skipped)} resource(s) not attempted"
        )


@dataclass
class DeployResult:
    pipeline: str
    actions: dict[str, str]
    outputs: dict[str, dict[str, Any]]
    elapsed: float
    warnings: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions.values() if a == action)


# --- the dispatcher's code ---------------------------------------------------------------------

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def zip_source(files: Mapping[str, bytes]) -> bytes:
    """A zip whose bytes depend only on the files' names and contents (fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            archive.writestr(info, files[name])
    return buf.getvalue()


def dispatcher_zip() -> bytes:
    """The packaged `yunpipe_tui.lambda_functions/dispatcher.py`, zipped at the archive root."""
    from importlib import resources

    source = resources.files("yunpipe_tui.lambda_functions").joinpath("dispatcher.py")
    try:
        code = source.read_bytes()
    except (FileNotFoundError, OSError):
        raise YunpipeError(
            "the dispatcher's code (lambda/dispatcher.py) is missing from this installation; "
            "reinstall yunpipe"
        ) from None
    return zip_source({"dispatcher.py": code})


def code_sha256(zip_bytes: bytes) -> str:
    """What Lambda reports as CodeSha256: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def spec_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:32]


def _tag_list(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict]:
    return [{key: k, value: v} for k, v in tags.items()]


def _json_equal(a: Any, b: Any) -> bool:
    def norm(x: Any) -> Any:
        if isinstance(x, str):
            try:
                x = json.loads(x)
            except ValueError:
                return x
        return json.loads(json.dumps(x, sort_keys=True))

    return norm(a) == norm(b)


# --- handlers: inspect / create / update per resource kind ------------------------------------


class Handlers:
    """One inspect/create/update triple per kind. `cfg` is the resource's resolved config."""

    def __init__(
        self,
        ctx: AwsContext,
        code: Callable[[], bytes],
        sleep: Callable[[float], None],
        warn: Callable[[str], None],
    ) -> None:
        self.ctx = ctx
        self._code = code
        self._zip: bytes | None = None
        self._zip_lock = threading.Lock()
        self.sleep = sleep
        self.warn = warn

    def zip(self) -> bytes:
        with self._zip_lock:
            if self._zip is None:
                self._zip = self._code()
            return self._zip

    def retry(
        self,
        call: Callable[[], Any],
        matches: Callable[[BaseException], bool],
        attempts: int = 8,
        first: float = 1.0,
        cap: float = 8.0,
    ) -> Any:
        """Retry `call` while it fails with an error `matches` accepts; bounded backoff."""
        delay = first
        for attempt in range(attempts):
            try:
                return call()
            except Exception as exc:
                if attempt == attempts - 1 or not matches(exc):
                    raise
            self.sleep(delay)
            delay = min(cap, delay * 2)
        raise AssertionError("unreachable")

    # buckets

    def bucket_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        s3 = self.ctx.client("s3")
        try:
            s3.head_bucket(Bucket=r.name)
        except Exception as exc:
            code = error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                return MISSING, {}
            if code in ("403", "AccessDenied", "Forbidden"):
                raise AwsError(
                    f"bucket {r.name} exists but is owned by someone else (403); "
                    "choose another bucket name in the workflow"
                ) from None
            raise
        return CURRENT, {"bucket": r.name}

    def bucket_create(self, r: Resource, cfg: Mapping[str, Any]) -> dict:
        s3 = self.ctx.client("s3")
        region = cfg["region"]
        kwargs: dict[str, Any] = {"Bucket": r.name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**kwargs)
        except Exception as exc:
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        s3.put_public_access_block(
            Bucket=r.name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=r.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_tagging(Bucket=r.name, Tagging={"TagSet": _tag_list(r.tags)})
        return {"bucket": r.name}

    def bucket_check_public(self, name: str) -> None:
        """Warn about an existing bucket that is not fully blocked from public access."""
        s3 = self.ctx.client("s3")
        try:
            block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
            blocked = all(block.get(k) for k in ("BlockPublicAcls", "BlockPublicPolicy"))
        except Exception:
            blocked = False
        if not blocked:
            self.warn(
                f"bucket {name} existed already and does not block public access; "
                "yunpipe leaves it as it is — check that this is what you want"
            )

    # ECS cluster

    def cluster_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        found = self.ctx.client("ecs").describe_clusters(clusters=[r.name]).get("clusters", [])
        for c in found:
            if c.get("status") == "ACTIVE":
                return CURRENT, {"arn": c["clusterArn"]}
        return MISSING, {}

    def cluster_create(self, r: Resource, cfg: Mapping[str, Any]) -> dict:
        out = self.ctx.client("ecs").create_cluster(
            clusterName=r.name, tags=_tag_list(r.tags, "key", "value")
        )
        return {"arn": out["cluster"]["clusterArn"]}

    # log group

    def log_group_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        logs = self.ctx.client("logs")
        for g in logs.describe_log_groups(logGroupNamePrefix=r.name).get("logGroups", []):
            if g["logGroupName"] == r.name:
                same = g.get("retentionInDays") == cfg["retention_days"]
                return (CURRENT if same else STALE), {"arn": g.get("arn", "")}
        return MISSING, {}

    def log_group_create(self, r: Resource, cfg: Mapping[str, Any]) -> dict:
        logs = self.ctx.client("logs")
        try:
            logs.create_log_group(logGroupName=r.name, tags=dict(r.tags))
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        return self.log_group_update(r, cfg)

    def log_group_update(
        self, r: Resource, cfg: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict:
        self.ctx.client("logs").put_retention_policy(
            logGroupName=r.name, retentionInDays=cfg["retention_days"]
        )
        return {}

    # schedule rule

    def schedule_rule_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        try:
            rule = self.ctx.client("events").describe_rule(Name=r.name)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return MISSING, {}
            raise
        same = rule.get("ScheduleExpression") == cfg["expression"] and rule.get("State") == (
            "ENABLED"
        )
        return (CURRENT if same else STALE), {"arn": rule["Arn"]}

    def schedule_rule_create(self, r: Resource, cfg: Mapping[str, Any]) -> dict:
        out = self.ctx.client("events").put_rule(
            Name=r.name,
            ScheduleExpression=cfg["expression"],
            State="ENABLED",
            Description=cfg["description"],
            Tags=_tag_list(r.tags),
        )
        return {"arn": out["RuleArn"]}

    def schedule_rule_update(
        self, r: Resource, cfg: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict:
        out = self.ctx.client("events").put_rule(
            Name=r.name,
            ScheduleExpression=cfg["expression"],
            State="ENABLED",
            Description=cfg["description"],
        )
        return {"arn": out["RuleArn"]}

    # task role

    def task_role_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        iam = self.ctx.client("iam")
        try:
            role = iam.get_role(RoleName=r.name)["Role"]
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                return MISSING, {}
            raise
        outputs = {"arn": role["Arn"]}
        if not _json_equal(role.get("AssumeRolePolicyDocument"), cfg["trust"]):
            return STALE, outputs
        try:
            doc = iam.get_role_policy(RoleName=r.name, PolicyName=cfg["policy_name"])
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                return STALE, outputs
            raise
        same = _json_equal(doc.get("PolicyDocument"), cfg["policy"])
        return (CURRENT if same else STALE), outputs

    def task_role_create(self, r: Resource, cfg: Mapping[str, Any]) -> dict:
        iam = self.ctx.client("iam")
        try:
            role = iam.create_role(
                Path=cfg["path"],
                RoleName=r.name,
                AssumeRolePolicyDocument=json.dumps(cfg["trust"]),
                Description=cfg["description"],
                Tags=_tag_list(r.tags),
            )["Role"]
        except Exception as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            role = iam.get_role(RoleName=r.name)["Role"]
        iam.put_role_policy(
            RoleName=r.name, PolicyName=cfg["policy_name"], PolicyDocument=json.dumps(cfg["policy"])
        )
        return {"arn": role["Arn"]}

    def task_role_update(
        self, r: Resource, cfg: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict:
        iam = self.ctx.client("iam")
        iam.update_assume_role_policy(RoleName=r.name, PolicyDocument=json.dumps(cfg["trust"]))
        iam.put_role_policy(
            RoleName=r.name, PolicyName=cfg["policy_name"], PolicyDocument=json.dumps(cfg["policy"])
        )
        return {}

    # queues (work queue and dead-letter queue share the code)

    def _queue_url(self, name: str) -> str | None:
        try:
            return str(self.ctx.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
        except Exception as exc:
            if "NonExistentQueue" in error_code(exc) or error_code(exc) == "QueueDoesNotExist":
                return None
            raise

    def _queue_diff(self, url: str, wanted: Mapping[str, str]) -> dict[str, str]:
        got = self.ctx.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        attrs = got.get("Attributes", {})
        changed = {}
        for key, value in wanted.items():
            have = attrs.get(key)
            if key in ("Policy", "RedrivePolicy"):
                if have is None or not _json_equal(_redrive_norm(have), _redrive_norm(value)):
                    changed[key] = value
            elif str(have).lower() != str(value).lower():
                changed[key] = value
        return changed

    def queue_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        url = self._queue_url(r.name)
        if url is None:
            return MISSING, {}
        outputs = {"url": url, "arn": cfg["arn"]}
        changed = self._queue_diff(url, cfg["attributes"])
        return (STALE if changed else CURRENT), outputs

    def queue_create(self, r: Resource, cfg: Mapping[str, Any]) -> dict:
        sqs = self.ctx.client("sqs")

        def create() -> Any:
            return sqs.create_queue(
                QueueName=r.name, Attributes=dict(cfg["attributes"]), tags=dict(r.tags)
            )

        def transient(exc: BaseException) -> bool:
            # 60 s after a deletion SQS refuses the name; a role created seconds ago may not
            # be visible to SQS yet as a policy principal ("Invalid value for ... Policy").
            code = error_code(exc)
            return "QueueDeletedRecently" in code or (
                "InvalidAttributeValue" in code and "Policy" in error_message(exc)
            )

        try:
            url = self.retry(create, transient, attempts=8, first=4.0, cap=15.0)["QueueUrl"]
        except Exception as exc:
            if "QueueAlreadyExists" not in error_code(exc) and "QueueNameExists" not in (
                error_code(exc)
            ):
                raise
            url = self._queue_url(r.name)
            self.queue_update(r, cfg, {"url": url})
        return {"url": url, "arn": cfg["arn"]}

    def queue_update(
        self, r: Resource, cfg: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict:
        url = (outputs or {}).get("url") or self._queue_url(r.name)
        changed = self._queue_diff(url, cfg["attributes"])
        if changed:
            self.ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes=changed)
        return {"url": url, "arn": cfg["arn"]}

    dlq_inspect = queue_inspect
    dlq_create = queue_create
    dlq_update = queue_update

    # task definition

    def task_definition_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        try:
            out = self.ctx.client("ecs").describe_task_definition(
                taskDefinition=r.name, include=["TAGS"]
            )
        except Exception as exc:
            if error_code(exc) in ("ClientException", "ResourceNotFoundException"):
                return MISSING, {}
            raise
        td = out["taskDefinition"]
        outputs = {"arn": td["taskDefinitionArn"], "revision": td.get("revision")}
        if td.get("status") != "ACTIVE":
            return MISSING, {}
        tags = {t["key"]: t["value"] for t in out.get("tags", [])}
        same = tags.get(SPEC_TAG) == spec_hash(cfg)
        return (CURRENT if same else STALE), outputs

    def task_definition_create(self, r: Resource, cfg: Mapping[str, Any]) -> dict:
        ecs = self.ctx.client("ecs")
        tags = {**r.tags, SPEC_TAG: spec_hash(cfg)}
        out = ecs.register_task_definition(**cfg, tags=_tag_list(tags, "key", "value"))
        td = out["taskDefinition"]
        return {"arn": td["taskDefinitionArn"], "revision": td.get("revision")}

    def task_definition_update(
        self, r: Resource, cfg: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict:
        old = (outputs or {}).get("arn")
        new = self.task_definition_create(r, cfg)
        if old and old != new["arn"]:
            try:
                self.ctx.client("ecs").deregister_task_definition(taskDefinition=old)
            except Exception as exc:  # the new revision is what matters; report, go on
                self.warn(f"could not retire {old}: {error_message(exc)}")
        return new

    # dispatcher Lambda

    def dispatcher_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        try:
            fn = self.ctx.client("lambda").get_function(FunctionName=r.name)["Configuration"]
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return MISSING, {}
            raise
        outputs = {"arn": fn["FunctionArn"], "code_sha256": fn.get("CodeSha256", "")}
        return (CURRENT if not self._dispatcher_changes(fn, cfg) else STALE), outputs

    def _dispatcher_changes(self, fn: Mapping[str, Any], cfg: Mapping[str, Any]) -> set[str]:
        changes = set()
        if fn.get("CodeSha256") != code_sha256(self.zip()):
            changes.add("code")
        env = (fn.get("Environment") or {}).get("Variables") or {}
        if (
            fn.get("Runtime") != cfg["runtime"]
            or fn.get("Handler") != cfg["handler"]
            or fn.get("Role") != cfg["role"]
            or fn.get("Timeout") != cfg["timeout"]
            or fn.get("MemorySize") != cfg["memory"]
            or env != dict(cfg["environment"])
        ):
            changes.add("config")
        return changes

    @staticmethod
    def _role_not_ready(exc: BaseException) -> bool:
        return error_code(exc) == "InvalidParameterValueException" and ROLE_NOT_ASSUMABLE in str(
            error_message(exc)
        )

    def dispatcher_create(self, r: Resource, cfg: Mapping[str, Any]) -> dict:
        lam = self.ctx.client("lambda")

        def create() -> Any:
            return lam.create_function(
                FunctionName=r.name,
                Runtime=cfg["runtime"],
                Role=cfg["role"],
                Handler=cfg["handler"],
                Code={"ZipFile": self.zip()},
                Description=cfg["description"],
                Timeout=cfg["timeout"],
                MemorySize=cfg["memory"],
                Environment={"Variables": dict(cfg["environment"])},
                Tags=dict(r.tags),
                Publish=False,
            )

        try:
            fn = self.retry(create, self._role_not_ready, attempts=8, first=1.0, cap=8.0)
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException":
                raise
            return self.dispatcher_update(r, cfg)
        return {"arn": fn["FunctionArn"], "code_sha256": fn.get("CodeSha256", "")}

    def _wait_updated(self, name: str) -> None:
        lam = self.ctx.client("lambda")
        delay = 0.5
        for _ in range(20):
            status = lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus")
            if status != "InProgress":
                return
            self.sleep(delay)
            delay = min(4.0, delay * 2)

    def dispatcher_update(
        self, r: Resource, cfg: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict:
        lam = self.ctx.client("lambda")
        fn = lam.get_function(FunctionName=r.name)["Configuration"]
        changes = self._dispatcher_changes(fn, cfg)
        if "code" in changes:
            fn = lam.update_function_code(FunctionName=r.name, ZipFile=self.zip())
            self._wait_updated(r.name)
        if "config" in changes:

            def update() -> Any:
                return lam.update_function_configuration(
                    FunctionName=r.name,
                    Runtime=cfg["runtime"],
                    Role=cfg["role"],
                    Handler=cfg["handler"],
                    Description=cfg["description"],
                    Timeout=cfg["timeout"],
                    MemorySize=cfg["memory"],
                    Environment={"Variables": dict(cfg["environment"])},
                )

            fn = self.retry(update, self._role_not_ready, attempts=8)
            self._wait_updated(r.name)
        return {"arn": fn["FunctionArn"], "code_sha256": fn.get("CodeSha256", "")}

    # Lambda permissions (from S3, from the schedule)

    def _statement(self, function: str, sid: str) -> dict | None:
        try:
            policy = self.ctx.client("lambda").get_policy(FunctionName=function)["Policy"]
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        for statement in json.loads(policy).get("Statement", []):
            if statement.get("Sid") == sid:
                return statement
        return None

    def permission_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        statement = self._statement(cfg["function"], cfg["statement_id"])
        if statement is None:
            return MISSING, {}
        text = json.dumps(statement)
        same = (
            cfg["source_arn"] in text and cfg["source_account"] in text and cfg["principal"] in text
        )
        return (CURRENT if same else STALE), {"sid": cfg["statement_id"]}

    def permission_create(self, r: Resource, cfg: Mapping[str, Any]) -> dict:
        try:
            self.ctx.client("lambda").add_permission(
                FunctionName=cfg["function"],
                StatementId=cfg["statement_id"],
                Action="lambda:InvokeFunction",
                Principal=cfg["principal"],
                SourceArn=cfg["source_arn"],
                SourceAccount=cfg["source_account"],
            )
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException":
                raise
            return self.permission_update(r, cfg)
        return {"sid": cfg["statement_id"]}

    def permission_update(
        self, r: Resource, cfg: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict:
        lam = self.ctx.client("lambda")
        try:
            lam.remove_permission(FunctionName=cfg["function"], StatementId=cfg["statement_id"])
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        return self.permission_create(r, cfg)

    s3_permission_inspect = schedule_permission_inspect = permission_inspect
    s3_permission_create = schedule_permission_create = permission_create
    s3_permission_update = schedule_permission_update = permission_update

    # bucket notification (merged with the user's own entries)

    def _notifications(self, bucket: str) -> dict[str, Any]:
        got = self.ctx.client("s3").get_bucket_notification_configuration(Bucket=bucket)
        keep = (
            "TopicConfigurations",
            "QueueConfigurations",
            "LambdaFunctionConfigurations",
            "EventBridgeConfiguration",
        )
        return {k: got[k] for k in keep if k in got}

    def notification_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        current = self._notifications(cfg["bucket"])
        for entry in current.get("LambdaFunctionConfigurations", []):
            if entry.get("Id") == cfg["id"]:
                same = entry.get("LambdaFunctionArn") == cfg["function_arn"] and sorted(
                    entry.get("Events", [])
                ) == sorted(cfg["events"])
                return (CURRENT if same else STALE), {"id": cfg["id"]}
        return MISSING, {}

    def notification_create(
        self, r: Resource, cfg: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict:
        s3 = self.ctx.client("s3")

        def put() -> None:
            merged = self._notifications(cfg["bucket"])
            entries = [
                e
                for e in merged.get("LambdaFunctionConfigurations", [])
                if e.get("Id") != cfg["id"]
            ]
            entries.append(
                {
                    "Id": cfg["id"],
                    "LambdaFunctionArn": cfg["function_arn"],
                    "Events": list(cfg["events"]),
                }
            )
            merged["LambdaFunctionConfigurations"] = entries
            s3.put_bucket_notification_configuration(
                Bucket=cfg["bucket"], NotificationConfiguration=merged
            )

        def not_yet_valid(exc: BaseException) -> bool:
            return DESTINATION_INVALID in error_message(exc)

        self.retry(put, not_yet_valid, attempts=6, first=1.0, cap=8.0)
        return {"id": cfg["id"]}

    notification_update = notification_create

    # schedule target

    def schedule_target_inspect(self, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict]:
        try:
            targets = self.ctx.client("events").list_targets_by_rule(Rule=cfg["rule"])["Targets"]
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return MISSING, {}
            raise
        for t in targets:
            if t.get("Id") == cfg["target_id"]:
                same = t.get("Arn") == cfg["arn"] and _json_equal(t.get("Input"), cfg["input"])
                return (CURRENT if same else STALE), {"id": cfg["target_id"]}
        return MISSING, {}

    def schedule_target_create(
        self, r: Resource, cfg: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict:
        out = self.ctx.client("events").put_targets(
            Rule=cfg["rule"],
            Targets=[{"Id": cfg["target_id"], "Arn": cfg["arn"], "Input": cfg["input"]}],
        )
        if out.get("FailedEntryCount"):
            entry = out["FailedEntries"][0]
            code, message = entry.get("ErrorCode"), entry.get("ErrorMessage")
            raise AwsError(f"PutTargets failed: {code}: {message}")
        return {"id": cfg["target_id"]}

    schedule_target_update = schedule_target_create


def _redrive_norm(value: Any) -> Any:
    data = json.loads(value) if isinstance(value, str) else value
    if isinstance(data, dict) and "maxReceiveCount" in data:
        data = {**data, "maxReceiveCount": int(data["maxReceiveCount"])}
    return data


# --- the engine --------------------------------------------------------------------------------


class Engine:
    def __init__(
        self,
        ctx: AwsContext,
        sink: ev.EventSink | None = None,
        *,
        code: Callable[[], bytes] | None = None,
        max_workers: int = MAX_WORKERS,
        sleep: Callable[[float], None] = time.sleep,
        cancel: threading.Event | None = None,
    ) -> None:
        self.ctx = ctx
        self.sink = sink or ev.null_sink
        self.max_workers = max_workers
        self.cancel = cancel  # checked before starting each resource; set it to stop safely
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self.handlers = Handlers(ctx, code or dispatcher_zip, sleep, self._warn)

    def _warn(self, message: str) -> None:
        with self._lock:
            if message in self.warnings:
                return
            self.warnings.append(message)
        self.sink(ev.Event(ev.WARNING, message=message))

    def _handler(self, kind: str, op: str) -> Callable[..., Any]:
        return getattr(self.handlers, f"{kind}_{op}")

    def inspect(
        self, r: Resource, outputs: Mapping[str, Mapping[str, Any]]
    ) -> tuple[str, dict, dict]:
        """(state, outputs, resolved config); a reference to a missing resource means stale."""
        try:
            cfg = resolve(r.config, outputs)
        except Unresolved:
            state, out = self._handler(r.kind, "inspect")(r, {**r.config, "_unresolved": True})
            return (MISSING if state == MISSING else STALE), out, dict(r.config)
        state, out = self._handler(r.kind, "inspect")(r, cfg)
        return state, out, cfg

    def _use_region(self, plan: Plan) -> None:
        """Work in the plan's region whatever the caller's context says."""
        if plan.facts.region:
            self.handlers.ctx = self.ctx.for_region(plan.facts.region)

    def diff(self, plan: Plan) -> dict[str, str]:
        """create / update / keep for every resource, without changing anything."""
        self._use_region(plan)
        outputs: dict[str, dict[str, Any]] = {}
        actions: dict[str, str] = {}
        for r in plan.resources:
            try:
                state, out, _ = self.inspect(r, outputs)
            except YunpipeError:
                raise
            except Exception as exc:
                if error_code(exc) in ("ResourceNotFoundException", "NoSuchBucket"):
                    state, out = MISSING, {}
                else:
                    raise AwsError(f"{r.label}: {error_message(exc)}") from None
            actions[r.key] = ACTION[state]
            outputs[r.key] = out
        return actions

    def _ensure(
        self,
        r: Resource,
        outputs: dict[str, dict[str, Any]],
        journal: jr.Journal,
    ) -> tuple[str, dict[str, Any]]:
        if self.cancel is not None and self.cancel.is_set():
            raise _NotStarted(r.key)  # queued in the pool when the cancel came: never started
        start = time.monotonic()
        self.sink(ev.Event(ev.STARTED, r.key, r.kind, r.name, r.group))
        with self._lock:
            known = dict(outputs)
        cfg = resolve(r.config, known)
        state, out = self._handler(r.kind, "inspect")(r, cfg)
        if state == MISSING:
            journal.intent(r.key)
            out = {**out, **self._handler(r.kind, "create")(r, cfg)}
            journal.result(r.key, jr.CREATED, out)
        elif state == STALE:
            new = self._handler(r.kind, "update")(r, cfg, out)
            out = {**out, **(new or {})}
            journal.result(r.key, self._owned(r), out)
        else:
            if r.kind == "bucket":
                self.handlers.bucket_check_public(r.name)
            journal.result(r.key, self._owned(r), out)
        elapsed = time.monotonic() - start
        action = ACTION[state]
        status = ev.KEPT if state == CURRENT else ev.DONE
        self.sink(ev.Event(status, r.key, r.kind, r.name, r.group, action, elapsed=elapsed))
        return action, out

    @staticmethod
    def _owned(r: Resource) -> str:
        """Buckets that existed are the user's; every other resource has a yunpipe name."""
        return jr.EXISTING if r.kind == "bucket" else jr.CREATED

    def apply(self, plan: Plan, journal: jr.Journal | None = None) -> DeployResult:
        self._use_region(plan)
        journal = journal or jr.Journal.open(plan.pipeline)
        journal.begin(plan)
        start = time.monotonic()
        outputs: dict[str, dict[str, Any]] = {}
        actions: dict[str, str] = {}
        done: set[str] = set()
        pending = list(plan.resources)
        running: dict[Future[tuple[str, dict]], Resource] = {}
        failure: tuple[Resource, BaseException] | None = None
        self.sink(ev.Event(ev.INFO, kind="phase", name="deploy", message=plan.pipeline))
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="yunpipe-deploy") as pool:
            while pending or running:
                if failure is None and not (self.cancel is not None and self.cancel.is_set()):
                    ready = [r for r in pending if all(d in done for d in r.depends_on)]
                    for r in ready:
                        pending.remove(r)
                        running[pool.submit(self._ensure, r, outputs, journal)] = r
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    r = running.pop(future)
                    exc = future.exception()
                    if isinstance(exc, _NotStarted):
                        pending.append(r)
                        continue
                    if exc is not None:
                        reason = str(exc) if isinstance(exc, YunpipeError) else error_message(exc)
                        self.sink(
                            ev.Event(ev.FAILED, r.key, r.kind, r.name, r.group, message=reason)
                        )
                        if failure is None:
                            failure = (r, exc)
                        continue
                    action, out = future.result()
                    with self._lock:
                        outputs[r.key] = out
                    actions[r.key] = action
                    done.add(r.key)
        if failure is None and pending and self.cancel is not None and self.cancel.is_set():
            for r in pending:
                self.sink(ev.Event(ev.SKIPPED, r.key, r.kind, r.name, r.group, message="cancelled"))
            journal.set_status(jr.FAILED, "cancelled by the user")
            raise DeployCancelled(
                plan.pipeline, journal.created_this_run(), [r.key for r in pending]
            )
        if failure is None and pending:
            r = pending[0]
            failure = (r, YunpipeError(f"unmet dependency among {r.depends_on}"))
        if failure is not None:
            for r in pending:
                self.sink(
                    ev.Event(ev.SKIPPED, r.key, r.kind, r.name, r.group, message="not attempted")
                )
            r, exc = failure
            reason = str(exc) if isinstance(exc, YunpipeError) else error_message(exc)
            journal.set_status(jr.FAILED, f"{r.label}: {reason}")
            raise DeployError(r, reason, journal.created_this_run()) from None
        journal.set_status(jr.DEPLOYED)
        return DeployResult(
            pipeline=plan.pipeline,
            actions=actions,
            outputs=outputs,
            elapsed=time.monotonic() - start,
            warnings=list(self.warnings),
        )


def deploy(
    plan: Plan,
    ctx: AwsContext,
    sink: ev.EventSink | None = None,
    *,
    journal: jr.Journal | None = None,
    code: Callable[[], bytes] | None = None,
    max_workers: int = MAX_WORKERS,
    sleep: Callable[[float], None] = time.sleep,
    cancel: threading.Event | None = None,
) -> DeployResult:
    """Create or update every resource of `plan`; see the module docstring.

    `cancel`: when set (from any thread), resources in flight finish and nothing new starts;
    raises DeployCancelled."""
    engine = Engine(ctx, sink, code=code, max_workers=max_workers, sleep=sleep, cancel=cancel)
    return engine.apply(plan, journal)


def diff(plan: Plan, ctx: AwsContext, *, code: Callable[[], bytes] | None = None) -> dict[str, str]:
    """What `deploy` would do to each resource: create / update / keep. Read-only."""
    return Engine(ctx, code=code).diff(plan)


def pipeline_names(plan: Plan) -> dict[str, str]:
    """Handy names for messages: input, output, cluster."""
    return {
        "input": plan.workflow.input_bucket,
        "output": plan.workflow.output_bucket,
        "cluster": names.cluster(plan.pipeline),
    }
