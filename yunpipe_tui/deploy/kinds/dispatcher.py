"""Each step's dispatcher Lambda (`lambda/dispatcher.py`): S3 events in, queue messages and ECS
tasks out (launching an instance when none has room). Its code is zipped reproducibly, so an
unchanged installation never re-uploads it.

Real AWS refuses a function whose role was created seconds ago ("cannot be assumed by
Lambda"): that error alone is retried with bounded backoff.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import AwsContext, error_code, error_message
from yunpipe_tui.deploy.kinds.base import CURRENT, MISSING, STALE, Found, Kind, Ops, Scope, removed
from yunpipe_tui.deploy.kinds.job_queue import JOB_QUEUE_KEY
from yunpipe_tui.deploy.kinds.ledger_table import LEDGER_KEY
from yunpipe_tui.deploy.kinds.task_definition import CONTAINER_NAME
from yunpipe_tui.deploy.layout import PipelineLayout, StepLayout
from yunpipe_tui.deploy.model import Resource
from yunpipe_tui.errors import YunpipeError
from yunpipe_tui.instance_types import lookup, tasks_per_instance
from yunpipe_tui.workflow import BATCH

LAMBDA_RUNTIME = "python3.12"
LAMBDA_HANDLER = "dispatcher.handler"
LAMBDA_TIMEOUT = 60
LAMBDA_MEMORY = 128
ROLE_NOT_ASSUMABLE = "cannot be assumed by Lambda"
MAX_JOBS = 1000  # drain jobs one step keeps active at most
FILES_PER_JOB = 1

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


def _role_not_ready(exc: BaseException) -> bool:
    return error_code(exc) == "InvalidParameterValueException" and ROLE_NOT_ASSUMABLE in str(
        error_message(exc)
    )


def batch_environment(layout: PipelineLayout, step: StepLayout) -> dict[str, str]:
    """What the dispatcher needs to submit drain jobs (backend batch): the queue, the job
    definition (by name: the latest ACTIVE revision), the jobs' name it counts by, and how many
    may be active (the compute environment's vCPUs over one job's, at most MAX_JOBS). No
    cluster and no task definition exist then."""
    p, s = layout.pipeline, step.id
    ceiling = max(1, layout.workflow.compute.max_vcpus // step.vcpus)
    return {
        "YUNPIPE_CLUSTER": "",
        "YUNPIPE_TASK_DEFINITION": "",
        "YUNPIPE_BACKEND": BATCH,
        "YUNPIPE_JOB_QUEUE": layout.job_queue,
        "YUNPIPE_JOB_DEFINITION": step.job_definition,
        "YUNPIPE_JOB_NAME": names.drain_job(p, s),
        "YUNPIPE_MAX_JOBS": str(min(MAX_JOBS, ceiling)),
        "YUNPIPE_FILES_PER_JOB": str(FILES_PER_JOB),
    }


# --- the kind ----------------------------------------------------------------------------------


class Dispatcher(Kind):
    name = "dispatcher"
    label = "dispatcher Lambda"
    sweep_rank = 10
    scan_rank = 20

    def plan_step(self, layout: PipelineLayout, step: StepLayout) -> list[Resource]:
        p, s, k, facts = layout.pipeline, step.id, step.prefix, layout.facts
        subnet = facts.subnet_ids[0] if facts.subnet_ids else ""
        compute = layout.workflow.compute
        machine = lookup(step.instance_type)
        lambda_env = {
            "YUNPIPE_PIPELINE": p,
            "YUNPIPE_STEP": s,
            "YUNPIPE_QUEUE_URL": "${" + k + "queue:url}",
            "YUNPIPE_CLUSTER": layout.cluster,
            "YUNPIPE_TASK_DEFINITION": step.family,
            "YUNPIPE_CONTAINER": CONTAINER_NAME,
            "YUNPIPE_TASK_MEMORY": str(step.memory),
            "YUNPIPE_TASK_CPU": str(step.units),
            "YUNPIPE_INSTANCE_TYPE": step.instance_type,
            "YUNPIPE_TASK_GPU": str(step.algorithm.gpu),
            "YUNPIPE_AMI_ID": facts.gpu_ami_id if step.algorithm.gpu else facts.ami_id,
            "YUNPIPE_INSTANCE_PROFILE": names.ECS_INSTANCE_ROLE,
            "YUNPIPE_KEY_PAIR": layout.workflow.key_pair,
            "YUNPIPE_SUBNET_ID": subnet,
            "YUNPIPE_SECURITY_GROUP_ID": facts.security_group_id,
            "YUNPIPE_MAX_TASKS": str(compute.max_tasks),
            "YUNPIPE_SPOT": "true" if compute.spot else "false",
            # How many tasks one instance holds (0: unknown type, the dispatcher assumes 1).
            "YUNPIPE_TASKS_PER_INSTANCE": str(
                tasks_per_instance(machine, step.memory, step.units, step.algorithm.gpu)
                if machine
                else 0
            ),
            "YUNPIPE_ENDPOINT_URL": facts.endpoint_url,
        }
        needs: tuple[str, ...] = (k + "queue", k + "task-definition", "shared/cluster")
        if layout.batch:
            lambda_env.update(batch_environment(layout, step))
            needs = (k + "queue", k + "job-definition", JOB_QUEUE_KEY)
        if step.index == 0:
            # Step 1's dispatcher writes each upload's `queued` ledger item (so it goes live
            # after the table); later steps' come from the upstream runner, which knows the id.
            lambda_env["YUNPIPE_LEDGER_TABLE"] = names.ledger_table(p)
            needs += (LEDGER_KEY,)
        return [
            Resource(
                k + "dispatcher",
                self.name,
                step.function,
                s,
                step=s,
                depends_on=needs,
                config={
                    "arn": step.function_arn,
                    "runtime": LAMBDA_RUNTIME,
                    "handler": LAMBDA_HANDLER,
                    "role": facts.dispatcher_role_arn,
                    "timeout": LAMBDA_TIMEOUT,
                    "memory": LAMBDA_MEMORY,
                    "environment": lambda_env,
                    "description": f"yunpipe {p} step {s}: queue S3 events and start tasks",
                },
                tags=step.tags,
            )
        ]

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        try:
            fn = ops.ctx.client("lambda").get_function(FunctionName=r.name)["Configuration"]
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return MISSING, {}
            raise
        outputs = {"arn": fn["FunctionArn"], "code_sha256": fn.get("CodeSha256", "")}
        return (CURRENT if not self._changes(ops, fn, cfg) else STALE), outputs

    @staticmethod
    def _changes(ops: Ops, fn: Mapping[str, Any], cfg: Mapping[str, Any]) -> set[str]:
        changes = set()
        if fn.get("CodeSha256") != code_sha256(ops.zip()):
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

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        lam = ops.ctx.client("lambda")

        def create() -> Any:
            return lam.create_function(
                FunctionName=r.name,
                Runtime=cfg["runtime"],
                Role=cfg["role"],
                Handler=cfg["handler"],
                Code={"ZipFile": ops.zip()},
                Description=cfg["description"],
                Timeout=cfg["timeout"],
                MemorySize=cfg["memory"],
                Environment={"Variables": dict(cfg["environment"])},
                Tags=dict(r.tags),
                Publish=False,
            )

        try:
            fn = ops.retry(create, _role_not_ready, attempts=8, first=1.0, cap=8.0)
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException":
                raise
            return self.update(ops, r, cfg)
        return {"arn": fn["FunctionArn"], "code_sha256": fn.get("CodeSha256", "")}

    @staticmethod
    def _wait_updated(ops: Ops, name: str) -> None:
        lam = ops.ctx.client("lambda")
        delay = 0.5
        for _ in range(20):
            status = lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus")
            if status != "InProgress":
                return
            ops.sleep(delay)
            delay = min(4.0, delay * 2)

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        lam = ops.ctx.client("lambda")
        fn = lam.get_function(FunctionName=r.name)["Configuration"]
        changes = self._changes(ops, fn, cfg)
        if "code" in changes:
            fn = lam.update_function_code(FunctionName=r.name, ZipFile=ops.zip())
            self._wait_updated(ops, r.name)
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

            fn = ops.retry(update, _role_not_ready, attempts=8)
            self._wait_updated(ops, r.name)
        return {"arn": fn["FunctionArn"], "code_sha256": fn.get("CodeSha256", "")}

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        gone = removed(lambda: ctx.client("lambda").delete_function(FunctionName=name))
        # Lambda writes its own log group when the function runs; it is ours to remove too.
        removed(lambda: ctx.client("logs").delete_log_group(logGroupName=f"/aws/lambda/{name}"))
        return gone

    def functions(self, scope: Scope) -> Iterator[str]:
        """The pipeline's dispatcher functions, by name."""
        return self._functions(scope)

    def _functions(self, scope: Scope) -> Iterator[str]:
        lam = scope.ctx.client("lambda")
        for page in lam.get_paginator("list_functions").paginate():
            for fn in page.get("Functions", []):
                if scope.pattern.match(fn["FunctionName"]):
                    yield fn["FunctionName"]

    def sweep(self, scope: Scope, known: set[str]) -> Iterator[Found]:
        for name in self._functions(scope):
            if name not in known:
                yield self.stray(scope, name)

    def leftovers(self, scope: Scope) -> list[str]:
        return [f"function {name}" for name in self._functions(scope)]
