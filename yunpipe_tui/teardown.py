"""Teardown: remove what yunpipe added for a pipeline, in reverse order, idempotently.

    result = teardown("mypipe", ctx, sink, delete_buckets=False)   # -> TeardownResult
    counts = bucket_object_counts(record, ctx)                     # before --delete-buckets

It reads the journal (`journal.load`) and also cross-checks by name and tag, so a deploy killed
at any instant is cleaned up. Removed: our notification entries (the user's stay), Lambda
permissions, dispatchers, schedule targets and rule, queues, task definitions, task roles,
instances the dispatcher launched (tag `yunpipe:pipeline`) and their idle alarms, the log group,
the cluster. Buckets and their objects stay, unless `delete_buckets=True`, which deletes only
buckets yunpipe created. Prerequisite roles (lambda_exec_role, ecsInstanceRole) stay.
Already-gone is fine everywhere. It ends with a leftover scan, reported in the result.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yunpipe_tui import events as ev
from yunpipe_tui import journal as jr
from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_message, is_gone
from yunpipe_tui.errors import YunpipeError

GONE_MARK = object()


def _unless_gone(fn: Callable[[], Any]) -> Any:
    """fn()'s result, or GONE_MARK when AWS says the resource no longer exists."""
    try:
        return fn()
    except Exception as exc:
        if is_gone(exc):
            return GONE_MARK
        raise


@dataclass
class TeardownResult:
    pipeline: str
    deleted: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    kept_buckets: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.leftovers


class NothingToTearDown(YunpipeError):
    exit_code = 0


def step_pattern(pipeline: str) -> re.Pattern[str]:
    """Names of this pipeline's per-step resources, and no other pipeline's."""
    return re.compile(re.escape(names.base(pipeline)) + r"-s\d+(-[a-z]+)?$")


class Teardown:
    def __init__(
        self,
        record: jr.PipelineRecord,
        ctx: AwsContext,
        sink: ev.EventSink | None = None,
    ) -> None:
        self.record = record
        self.p = record.pipeline
        self.ctx = ctx.for_region(record.region) if record.region else ctx
        self.sink = sink or ev.null_sink
        self.result = TeardownResult(self.p)
        self.journal = jr.Journal(self.p, record.data)

    # each delete returns True when it removed something, False when it was already gone

    def _do(self, key: str, kind: str, name: str, group: str, fn: Callable[[], bool]) -> None:
        start = time.monotonic()
        self.sink(ev.Event(ev.STARTED, key, kind, name, group, "delete"))
        try:
            removed = fn()
        except Exception as exc:
            message = str(exc) if isinstance(exc, YunpipeError) else error_message(exc)
            self.result.failed.append(f"{kind} {name}: {message}")
            self.sink(ev.Event(ev.FAILED, key, kind, name, group, "delete", message))
            return
        elapsed = time.monotonic() - start
        if removed:
            self.result.deleted.append(f"{kind} {name}")
            self.sink(ev.Event(ev.DONE, key, kind, name, group, "delete", elapsed=elapsed))
        else:
            self.result.already_gone.append(f"{kind} {name}")
            self.sink(
                ev.Event(ev.SKIPPED, key, kind, name, group, "delete", "already gone", elapsed)
            )
        if key in self.journal.data.get("resources", {}):
            self.journal.result(key, jr.DELETED)

    def _call(self, fn: Callable[[], Any]) -> bool:
        """Run a delete; False when the thing was already gone."""
        return _unless_gone(fn) is not GONE_MARK

    # per kind

    def notification(self, params: dict[str, Any]) -> bool:
        bucket, our_id = params.get("bucket", ""), params.get("id", "")
        s3 = self.ctx.client("s3")
        got = _unless_gone(lambda: s3.get_bucket_notification_configuration(Bucket=bucket))
        if got is GONE_MARK:
            return False
        keep = (
            "TopicConfigurations",
            "QueueConfigurations",
            "LambdaFunctionConfigurations",
            "EventBridgeConfiguration",
        )
        config = {k: got[k] for k in keep if k in got}
        entries = config.get("LambdaFunctionConfigurations", [])
        mine = [e for e in entries if e.get("Id") == our_id]
        if not mine:
            return False
        config["LambdaFunctionConfigurations"] = [e for e in entries if e.get("Id") != our_id]
        if not config["LambdaFunctionConfigurations"]:
            del config["LambdaFunctionConfigurations"]
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
        return True

    def schedule_target(self, params: dict[str, Any]) -> bool:
        events = self.ctx.client("events")
        rule, target = params.get("rule", ""), params.get("target_id", "")
        targets = _unless_gone(lambda: events.list_targets_by_rule(Rule=rule)["Targets"])
        if targets is GONE_MARK:
            return False
        if not any(t.get("Id") == target for t in targets):
            return False
        events.remove_targets(Rule=rule, Ids=[target])
        return True

    def permission(self, params: dict[str, Any]) -> bool:
        return self._call(
            lambda: self.ctx.client("lambda").remove_permission(
                FunctionName=params["function"], StatementId=params["statement_id"]
            )
        )

    def dispatcher(self, name: str) -> bool:
        removed = self._call(lambda: self.ctx.client("lambda").delete_function(FunctionName=name))
        # Lambda writes its own log group when the function runs; it is ours to remove too.
        self._call(
            lambda: self.ctx.client("logs").delete_log_group(logGroupName=f"/aws/lambda/{name}")
        )
        return removed

    def task_definition(self, family: str) -> bool:
        ecs = self.ctx.client("ecs")
        arns: list[str] = []
        for page in ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix=family, status="ACTIVE"
        ):
            arns += [
                a for a in page["taskDefinitionArns"] if a.split("/")[-1].split(":")[0] == family
            ]
        for arn in arns:
            self._call(lambda arn=arn: ecs.deregister_task_definition(taskDefinition=arn))
        return bool(arns)

    def queue(self, name: str) -> bool:
        sqs = self.ctx.client("sqs")
        url = _unless_gone(lambda: sqs.get_queue_url(QueueName=name)["QueueUrl"])
        if url is GONE_MARK:
            return False
        return self._call(lambda: sqs.delete_queue(QueueUrl=url))

    def task_role(self, name: str) -> bool:
        iam = self.ctx.client("iam")
        policies = _unless_gone(lambda: iam.list_role_policies(RoleName=name)["PolicyNames"])
        if policies is GONE_MARK:
            return False
        for policy in policies:
            self._call(
                lambda policy=policy: iam.delete_role_policy(RoleName=name, PolicyName=policy)
            )
        for att in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
            iam.detach_role_policy(RoleName=name, PolicyArn=att["PolicyArn"])
        return self._call(lambda: iam.delete_role(RoleName=name))

    def schedule_rule(self, name: str) -> bool:
        events = self.ctx.client("events")
        targets = _unless_gone(lambda: events.list_targets_by_rule(Rule=name)["Targets"])
        if targets is GONE_MARK:
            return False
        if targets:
            events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
        return self._call(lambda: events.delete_rule(Name=name))

    def log_group(self, name: str) -> bool:
        return self._call(lambda: self.ctx.client("logs").delete_log_group(logGroupName=name))

    def cluster(self, name: str) -> bool:
        ecs = self.ctx.client("ecs")
        found = _unless_gone(lambda: ecs.describe_clusters(clusters=[name]).get("clusters", []))
        if found is GONE_MARK:
            return False
        if not any(c.get("status") == "ACTIVE" for c in found):
            return False
        for arn in ecs.list_tasks(cluster=name).get("taskArns", []):
            self._call(lambda arn=arn: ecs.stop_task(cluster=name, task=arn, reason="teardown"))
        for arn in ecs.list_container_instances(cluster=name).get("containerInstanceArns", []):
            self._call(
                lambda arn=arn: ecs.deregister_container_instance(
                    cluster=name, containerInstance=arn, force=True
                )
            )
        return self._call(lambda: ecs.delete_cluster(cluster=name))

    def instances(self) -> list[str]:
        ec2 = self.ctx.client("ec2")
        out = ec2.describe_instances(
            Filters=[
                {"Name": f"tag:{names.TAG_PIPELINE}", "Values": [self.p]},
                {
                    "Name": "instance-state-name",
                    "Values": ["pending", "running", "stopping", "stopped"],
                },
            ]
        )
        return [i["InstanceId"] for res in out.get("Reservations", []) for i in res["Instances"]]

    def alarms(self) -> list[str]:
        cw = self.ctx.client("cloudwatch")
        prefix = names.alarm_prefix(self.p)
        pattern = re.compile(re.escape(names.base(self.p)) + r"-s\d+-idle-")
        found: list[str] = []
        for page in cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix):
            found += [a["AlarmName"] for a in page.get("MetricAlarms", [])]
        return [a for a in found if pattern.match(a)]

    def bucket(self, name: str) -> bool:
        s3 = self.ctx.client("s3")
        if _unless_gone(lambda: s3.head_bucket(Bucket=name)) is GONE_MARK:
            return False
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=name):
            batch = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for i in range(0, len(batch), 1000):
                s3.delete_objects(Bucket=name, Delete={"Objects": batch[i : i + 1000]})
        return self._call(lambda: s3.delete_bucket(Bucket=name))

    # the run

    def _delete_entry(self, key: str, entry: dict[str, Any]) -> None:
        kind, name = entry.get("kind", ""), entry.get("name", "")
        params = entry.get("params", {})
        group = entry.get("step") or ("buckets" if kind == "bucket" else "shared")
        fn: Callable[[], bool] | None = {
            "notification": lambda: self.notification(params),
            "schedule_target": lambda: self.schedule_target(params),
            "schedule_permission": lambda: self.permission(params),
            "s3_permission": lambda: self.permission(params),
            "dispatcher": lambda: self.dispatcher(name),
            "task_definition": lambda: self.task_definition(name),
            "queue": lambda: self.queue(name),
            "dlq": lambda: self.queue(name),
            "task_role": lambda: self.task_role(name),
            "schedule_rule": lambda: self.schedule_rule(name),
            "log_group": lambda: self.log_group(name),
            "cluster": lambda: self.cluster(name),
        }.get(kind)
        if fn is not None:
            self._do(key, kind, name, group, fn)

    def run(self, delete_buckets: bool = False, only: list[str] | None = None) -> TeardownResult:
        data = self.journal.data
        data["status"] = jr.TEARING_DOWN
        self.journal.save()
        self.sink(ev.Event(ev.INFO, kind="phase", name="teardown", message=self.p))
        resources = data.get("resources", {})
        order = [k for k in data.get("order", list(resources)) if k in resources]
        live = [
            k
            for k in reversed(order)
            if resources[k].get("status") in (jr.INTENT, jr.CREATED) and (only is None or k in only)
        ]
        late = {"cluster", "log_group", "bucket"}
        for key in live:
            if resources[key].get("kind") not in late:
                self._delete_entry(key, resources[key])
        if only is None:
            self._cross_check()
            for instance in self.instances():
                self._do(
                    f"instance/{instance}",
                    "instance",
                    instance,
                    "shared",
                    lambda i=instance: self._call(
                        lambda: self.ctx.client("ec2").terminate_instances(InstanceIds=[i])
                    ),
                )
            alarms = self.alarms()
            if alarms:
                self._do(
                    "alarms",
                    "alarm",
                    f"{len(alarms)} idle alarm(s)",
                    "shared",
                    lambda: self._call(
                        lambda: self.ctx.client("cloudwatch").delete_alarms(AlarmNames=alarms)
                    ),
                )
        for key in live:
            if resources[key].get("kind") in ("cluster", "log_group"):
                self._delete_entry(key, resources[key])
        for key in live:
            entry = resources[key]
            if entry.get("kind") != "bucket":
                continue
            if delete_buckets:
                name = entry["name"]
                self._do(key, "bucket", name, "buckets", lambda n=name: self.bucket(n))
            else:
                self.result.kept_buckets.append(entry["name"])
        for entry in resources.values():
            if entry.get("kind") == "bucket" and entry.get("status") == jr.EXISTING:
                self.result.kept_buckets.append(entry["name"])
        if only is None:
            self.sink(ev.Event(ev.INFO, kind="phase", name="scan", message=self.p))
            buckets = [e["name"] for e in resources.values() if e.get("kind") == "bucket"]
            self.result.leftovers = leftovers(self.ctx, self.p, buckets)
            for item in self.result.leftovers:
                self.sink(ev.Event(ev.WARNING, message=f"still present: {item}"))
        failed = bool(self.result.failed or self.result.leftovers)
        if only is None:
            self.journal.set_status(jr.FAILED if failed else jr.TORN_DOWN)
        else:
            self.journal.set_status(jr.FAILED, "rolled back after a failed deploy")
        return self.result

    def _cross_check(self) -> None:
        """Anything named like this pipeline's resources that the journal did not list."""
        known = {e.get("name") for e in self.journal.data.get("resources", {}).values()}
        pattern = step_pattern(self.p)
        lam = self.ctx.client("lambda")
        for page in lam.get_paginator("list_functions").paginate():
            for fn in page.get("Functions", []):
                name = fn["FunctionName"]
                if pattern.match(name) and name not in known:
                    self._do(
                        f"extra/{name}",
                        "dispatcher",
                        name,
                        "shared",
                        lambda n=name: self.dispatcher(n),
                    )
        sqs = self.ctx.client("sqs")
        urls = sqs.list_queues(QueueNamePrefix=names.base(self.p) + "-").get("QueueUrls", [])
        for url in urls:
            name = url.rsplit("/", 1)[-1]
            if pattern.match(name) and name not in known:
                self._do(f"extra/{name}", "queue", name, "shared", lambda n=name: self.queue(n))
        for name in schedule_rules(self.ctx, self.p):
            if name not in known:
                self._do(
                    f"extra/{name}",
                    "schedule_rule",
                    name,
                    "shared",
                    lambda n=name: self.schedule_rule(n),
                )
        iam = self.ctx.client("iam")
        for page in iam.get_paginator("list_roles").paginate(PathPrefix=names.ROLE_PATH):
            for role in page.get("Roles", []):
                name = role["RoleName"]
                if pattern.match(name) and name not in known:
                    self._do(
                        f"extra/{name}",
                        "task_role",
                        name,
                        "shared",
                        lambda n=name: self.task_role(n),
                    )


def schedule_rules(ctx: AwsContext, pipeline: str) -> list[str]:
    """This pipeline's reconcile rules (`...-reconcile`, `...-reconcile-2`, ...)."""
    first = names.schedule_rule(pipeline)
    pattern = re.compile(rf"^{re.escape(first)}(-\d+)?$")
    events = ctx.client("events")
    found: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"NamePrefix": first}
        if token:
            kwargs["NextToken"] = token
        page = events.list_rules(**kwargs)
        found += [r["Name"] for r in page.get("Rules", []) if pattern.match(r["Name"])]
        token = page.get("NextToken")
        if not token:
            return found


def leftovers(
    ctx: AwsContext, pipeline: str, buckets: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """What still carries this pipeline's names or tag (buckets are not counted: they stay),
    including notification entries of ours left on `buckets`."""
    found: list[str] = []
    pattern = step_pattern(pipeline)
    base = names.base(pipeline)
    sqs = ctx.client("sqs")
    for url in sqs.list_queues(QueueNamePrefix=base + "-").get("QueueUrls", []):
        if pattern.match(url.rsplit("/", 1)[-1]):
            found.append(f"queue {url.rsplit('/', 1)[-1]}")
    for page in ctx.client("lambda").get_paginator("list_functions").paginate():
        found += [
            f"function {f['FunctionName']}"
            for f in page.get("Functions", [])
            if pattern.match(f["FunctionName"])
        ]
    for page in ctx.client("iam").get_paginator("list_roles").paginate(PathPrefix=names.ROLE_PATH):
        found += [
            f"role {r['RoleName']}" for r in page.get("Roles", []) if pattern.match(r["RoleName"])
        ]
    ecs = ctx.client("ecs")
    active = ecs.list_task_definitions(familyPrefix=base, status="ACTIVE")
    found += [
        f"task definition {arn.split('/')[-1]}"
        for arn in active.get("taskDefinitionArns", [])
        if pattern.match(arn.split("/")[-1].split(":")[0])
    ]
    clusters = ecs.describe_clusters(clusters=[names.cluster(pipeline)]).get("clusters", [])
    found += [f"cluster {c['clusterName']}" for c in clusters if c.get("status") == "ACTIVE"]
    found += [f"schedule rule {name}" for name in schedule_rules(ctx, pipeline)]
    logs = ctx.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=names.log_group(pipeline))
    found += [
        f"log group {g['logGroupName']}"
        for g in groups.get("logGroups", [])
        if g["logGroupName"] == names.log_group(pipeline)
    ]
    lambda_groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{base}-")
    found += [
        f"log group {g['logGroupName']}"
        for g in lambda_groups.get("logGroups", [])
        if pattern.match(g["logGroupName"].rsplit("/", 1)[-1])
    ]
    out = ctx.client("ec2").describe_instances(
        Filters=[
            {"Name": f"tag:{names.TAG_PIPELINE}", "Values": [pipeline]},
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )
    found += [
        f"instance {i['InstanceId']}"
        for res in out.get("Reservations", [])
        for i in res["Instances"]
    ]
    alarms = ctx.client("cloudwatch").describe_alarms(AlarmNamePrefix=names.alarm_prefix(pipeline))
    idle = re.compile(re.escape(base) + r"-s\d+-idle-")
    found += [
        f"alarm {a['AlarmName']}"
        for a in alarms.get("MetricAlarms", [])
        if idle.match(a["AlarmName"])
    ]
    s3 = ctx.client("s3")
    ours = re.compile(re.escape(base) + r"-s\d+$")
    for bucket in buckets:
        got = _unless_gone(
            lambda bucket=bucket: s3.get_bucket_notification_configuration(Bucket=bucket)
        )
        if got is GONE_MARK:
            continue
        found += [
            f"notification {bucket}/{e['Id']}"
            for e in got.get("LambdaFunctionConfigurations", [])
            if ours.match(e.get("Id", ""))
        ]
    found += _tagged(ctx, pipeline, found)
    return found


# Services whose deleted resources the tagging API may still list (ECS keeps INACTIVE task
# definitions, EC2 terminated instances) or that stay on purpose (S3): checked directly above.
_TAG_SCAN_SKIP = {"s3", "ecs", "ec2", "cloudwatch"}


def _tagged(ctx: AwsContext, pipeline: str, known: list[str]) -> list[str]:
    """Anything else tagged yunpipe:pipeline=<pipeline>, from the Resource Groups Tagging API."""
    try:
        pages = (
            ctx.client("resourcegroupstaggingapi")
            .get_paginator("get_resources")
            .paginate(TagFilters=[{"Key": names.TAG_PIPELINE, "Values": [pipeline]}])
        )
        arns = [m["ResourceARN"] for page in pages for m in page["ResourceTagMappingList"]]
    except Exception:  # the tag scan is a cross-check; the name scan above already ran
        return []
    text = " ".join(known)
    out = []
    for arn in arns:
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        name = arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        if service and service not in _TAG_SCAN_SKIP and name not in text:
            out.append(f"tagged {arn}")
    return out


def resolve_pipeline(pipeline: str | None, delete_buckets: bool = False) -> jr.PipelineRecord:
    """The named pipeline's journal (even if torn down: teardown is idempotent and its
    cross-check still runs), or the most recent one not torn down; NothingToTearDown when none.
    """
    if pipeline is None:
        record = jr.most_recent()
        if record is None:
            raise NothingToTearDown("nothing to tear down: no deployed pipeline found")
        return record
    record = jr.load(pipeline)
    if record is None:
        raise NothingToTearDown(
            f"nothing to tear down: no journal for pipeline {pipeline!r} "
            "(see `yunpipe status` for the known ones)"
        )
    return record


def buckets_created(record: jr.PipelineRecord) -> list[str]:
    """Buckets yunpipe created for this pipeline (and that may still exist)."""
    return [
        e["name"]
        for e in record.resources.values()
        if e.get("kind") == "bucket" and e.get("status") in (jr.INTENT, jr.CREATED)
    ]


def bucket_object_counts(record: jr.PipelineRecord, ctx: AwsContext) -> dict[str, int]:
    """Objects in each bucket yunpipe created (shown before --delete-buckets asks)."""
    ctx = ctx.for_region(record.region) if record.region else ctx
    s3 = ctx.client("s3")
    counts: dict[str, int] = {}
    for bucket in buckets_created(record):
        total = 0
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                total += page.get("KeyCount", 0)
        except Exception as exc:
            if is_gone(exc):
                continue
            raise
        counts[bucket] = total
    return counts


def teardown(
    pipeline: str | None,
    ctx: AwsContext,
    sink: ev.EventSink | None = None,
    *,
    delete_buckets: bool = False,
) -> TeardownResult:
    """Tear down `pipeline` (None: the most recent). Raises NothingToTearDown (exit 0)."""
    record = resolve_pipeline(pipeline, delete_buckets)
    return Teardown(record, ctx, sink).run(delete_buckets=delete_buckets)


def rollback(
    pipeline: str, keys: list[str], ctx: AwsContext, sink: ev.EventSink | None = None
) -> TeardownResult:
    """Remove what one deploy run created (its journal intents), buckets included if empty."""
    record = jr.load(pipeline)
    if record is None:
        return TeardownResult(pipeline)
    td = Teardown(record, ctx, sink)
    result = td.run(delete_buckets=False, only=keys)
    s3 = td.ctx.client("s3")
    for key in keys:
        entry = record.resources.get(key, {})
        if entry.get("kind") != "bucket" or entry.get("status") not in (jr.INTENT, jr.CREATED):
            continue
        name = entry["name"]
        empty = _unless_gone(
            lambda name=name: s3.list_objects_v2(Bucket=name, MaxKeys=1).get("KeyCount", 0) == 0
        )
        if empty is GONE_MARK:
            continue
        if empty:
            td._do(key, "bucket", name, "buckets", lambda n=name: td.bucket(n))
            result.kept_buckets = [b for b in result.kept_buckets if b != name]
    return result


def describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, YunpipeError) else error_message(exc)
