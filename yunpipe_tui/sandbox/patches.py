"""The few places where the sandbox reaches into moto (pinned: MOTO_VERSION) to stand in for AWS.

Every patch is installed by `install()` when a sandbox starts and removed by `uninstall()` when it
stops, so `mock_aws` tests in the same process see plain moto. Each one corrects a difference from
AWS in the emulation, never in yunpipe's real code:

- S3 → Lambda: moto delivers the notification by running the function in Docker
  (`moto.s3.notifications._invoke_awslambda`); we hand the event to the LambdaBridge instead.
- Lambda `Invoke` of a yunpipe function: also through the bridge (moto would try Docker and
  print `error running docker` and Docker warnings to the terminal); any other function answers
  a Lambda-style error instead of reaching moto's Docker path.
- ECS `run_task` on a cluster without container instances: moto raises a bare Exception (HTTP 500,
  which botocore retries for seconds); AWS answers InvalidParameterException
  "No Container Instances were found in your cluster." — we answer that.
- ECS `start_task`: moto places the task whether or not it fits; AWS refuses a task that does not
  fit with a failure `RESOURCE:MEMORY` / `RESOURCE:CPU` / `RESOURCE:PORTS` (and `MISSING` for an
  unknown or inactive instance) — we check room the way moto's own `run_task` does.
- ECS `stop_task`: moto answers HTTP 500 when the task's container instance was deregistered
  (a terminated instance) or the task is unknown; AWS stops the task, or answers
  InvalidParameterException "The referenced task was not found." — we do the same.
- ECS `deregister_container_instance`: moto answers HTTP 500 for an instance that is already
  deregistered (teardown and the idle agent may race for it); AWS answers
  InvalidParameterException — we do the same.
- ECS `register_container_instance`: moto registers CPU 4096 / memory 7482 whatever the instance;
  we set the registered and remaining CPU and memory from the EC2 instance's type.
- Batch `SubmitJob`: moto starts a thread per job that runs its container through Docker (no
  engine here: the job fails). We only record the job (SUBMITTED); the sandbox's Batch runner
  (`batch_runner`) moves it through Batch's states and runs the real runner as a local process.
- Batch `CreateComputeEnvironment` without `serviceRole`: moto refuses ("ServiceRole is
  required"); AWS uses its service-linked role AWSServiceRoleForBatch, creating it on first use —
  we do the same. moto's IAM names that role `AWSServiceRoleForbatch`; we name it as AWS does.
  moto names the environment's ECS cluster `OnDemand_Batch_<uuid>` whatever the environment; AWS
  names it `<environment>_Batch_<uuid>` — we rename it.
- Batch `UpdateComputeEnvironment` ignores `computeResources`; AWS applies minvCpus, maxvCpus and
  desiredvCpus — we apply them.
- Batch `SubmitJob` to a DISABLED job queue: moto accepts it; AWS's disabled queue takes no new
  jobs — we refuse with a ClientException. `SubmitJob` with a job definition's bare name: moto
  takes its latest revision even when deregistered; AWS the latest ACTIVE one, and refuses an
  inactive definition — we do the same. `DeleteJobQueue` of an ENABLED queue and
  `DeleteComputeEnvironment` of an ENABLED environment or one a job queue still uses: moto deletes
  at once; AWS refuses until teardown has disabled (and disassociated) them — we refuse too
  (ClientException; the wording is ours).
- Batch `DescribeJobs`: moto appends `AWS_BATCH_JOB_ID` to the job's override environment on
  every call (it grows), and shows no container exit code or reason; we build the environment
  without changing the job and add `exitCode` and `reason`.
- DynamoDB item operations: moto checks a condition and writes without a lock, and a cancelled
  transaction restores a copy of the whole table taken before it, undoing concurrent writes; on
  AWS conditional writes and transactions are atomic (the ledger's claim relies on it). We run
  moto's item operations one at a time (`DYNAMODB_SERIALISED`).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("yunpipe.sandbox")

MOTO_VERSION = "5.2.5"

# Called as handler(account_id, event_body, function_arn, region_name) from moto's request thread.
S3LambdaHandler = Callable[[str, Any, str, str], None]
# Called as handler(function, event_dict, asynchronous) -> result dict | None for a direct Invoke.
InvokeHandler = Callable[[Any, Any, bool], Any]

_lock = threading.Lock()
_originals: dict[str, Any] = {}
_s3_handler: S3LambdaHandler | None = None
_invoke_handler: InvokeHandler | None = None

NO_INSTANCES = "No Container Instances were found in your cluster."


def installed_moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


def check_hooks() -> list[str]:
    """What the patches need from moto and is missing (empty: all present)."""
    missing = []
    try:
        import moto.s3.notifications as notifications

        if not callable(getattr(notifications, "_invoke_awslambda", None)):
            missing.append("moto.s3.notifications._invoke_awslambda")
    except ImportError:
        missing.append("moto.s3.notifications")
    try:
        from moto.ecs.models import ContainerInstance, EC2ContainerServiceBackend

        for name in (
            "run_task",
            "stop_task",
            "register_container_instance",
            "deregister_container_instance",
        ):
            if not callable(getattr(EC2ContainerServiceBackend, name, None)):
                missing.append(f"EC2ContainerServiceBackend.{name}")
        if "remaining_resources" not in ContainerInstance.__init__.__code__.co_names:
            missing.append("ContainerInstance.remaining_resources")
        from moto.ecs.responses import EC2ContainerServiceResponse

        if not callable(getattr(EC2ContainerServiceResponse, "start_task", None)):
            missing.append("EC2ContainerServiceResponse.start_task")
    except ImportError:
        missing.append("moto.ecs")
    try:
        from moto.ec2.responses.instances import InstanceResponse

        if not callable(getattr(InstanceResponse, "run_instances", None)):
            missing.append("InstanceResponse.run_instances")
    except ImportError:
        missing.append("moto.ec2.responses.instances")
    try:
        import moto.iam.models as iam_models
        from moto.batch.models import BatchBackend, Job

        for name in (
            "submit_job",
            "create_compute_environment",
            "update_compute_environment",
            "delete_compute_environment",
            "delete_job_queue",
        ):
            if not callable(getattr(BatchBackend, name, None)):
                missing.append(f"BatchBackend.{name}")
        for name in ("start", "_get_container_property", "_container_details", "_mark_stopped"):
            if not callable(getattr(Job, name, None)):
                missing.append(f"batch Job.{name}")
        if not isinstance(getattr(iam_models, "SERVICE_NAME_CONVERSION", None), dict):
            missing.append("moto.iam.models.SERVICE_NAME_CONVERSION")
    except ImportError:
        missing.append("moto.batch")
    try:
        from moto.awslambda.models import LambdaFunction

        if not callable(getattr(LambdaFunction, "invoke", None)):
            missing.append("LambdaFunction.invoke")
    except ImportError:
        missing.append("moto.awslambda.models")
    return missing


def _patched_invoke_awslambda(
    account_id: str, event_body: Any, fn_arn: str, region_name: str
) -> None:
    handler = _s3_handler
    if handler is None:  # pragma: no cover - only between uninstall and a late request
        return
    try:
        handler(account_id, event_body, fn_arn, region_name)
    except Exception:  # an async delivery on AWS: the upload itself never fails because of it
        LOG.exception("S3 → Lambda delivery to %s failed", fn_arn)


def _patched_lambda_invoke(
    self: Any, body: str, request_headers: Any, response_headers: Any
) -> str | bytes:
    handler = _invoke_handler
    original = _originals["LambdaFunction.invoke"]
    if handler is None:
        return original(self, body, request_headers, response_headers)
    event = json.loads(body) if body else {}
    inv_type = (request_headers or {}).get("x-amz-invocation-type", "RequestResponse")
    asynchronous = inv_type == "Event"
    try:
        handled, result = handler(self, event, asynchronous)
    except Exception as exc:
        LOG.exception("Invoke of %s failed", self.function_name)
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__}).encode()
    if not handled:
        # moto would try Docker and print to the terminal; the sandbox answers as Lambda does
        # for a function that cannot run.
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(
            {
                "errorType": "SandboxUnsupported",
                "errorMessage": f"the local sandbox runs only yunpipe dispatchers (Python zip "
                f"code with dispatch() and DispatcherConfig); {self.function_name} was not run",
            }
        ).encode()
    if asynchronous:
        return ""
    return json.dumps(result).encode("utf-8")


def _patched_run_task(self: Any, cluster_str: str, *args: Any, **kwargs: Any) -> Any:
    from moto.ecs.exceptions import InvalidParameterException

    launch_type = kwargs.get("launch_type") or (args[5] if len(args) > 5 else None)
    cluster_name = cluster_str.split("/")[-1]
    if launch_type != "FARGATE" and cluster_name in self.clusters:
        instances = self.container_instances.get(cluster_name) or {}
        if not any(ci.status == "ACTIVE" for ci in list(instances.values())):
            raise InvalidParameterException(NO_INSTANCES)
    return _originals["EC2ContainerServiceBackend.run_task"](self, cluster_str, *args, **kwargs)


_placement_lock = threading.Lock()


def task_gpus(task_definition: Any) -> int:
    """GPUs a task definition's containers reserve (ECS counts them per instance)."""
    total = 0
    for container in task_definition.container_definitions or []:
        for requirement in container.get("resourceRequirements") or []:
            if requirement.get("type") == "GPU":
                total += int(requirement.get("value") or 0)
    return total


def instance_gpus(container_instance: Any) -> int:
    from yunpipe_tui.instance_types import lookup

    known = lookup(container_instance.attributes.get("ecs.instance-type", ""))
    return known.gpu if known is not None else 0


def gpus_in_use(backend: Any, cluster_name: str, container_instance_arn: str) -> int:
    """GPUs held by the instance's tasks that have not stopped; moto does not count them,
    ECS gives each GPU to one task at a time."""
    used = 0
    for task in list((backend.tasks.get(cluster_name) or {}).values()):
        if task.container_instance_arn != container_instance_arn:
            continue
        if task.last_status == "STOPPED" or task.desired_status == "STOPPED":
            continue
        try:
            used += task_gpus(backend.describe_task_definition(task.task_definition_arn))
        except Exception:  # a deregistered definition still holds its GPUs; count one
            used += 1
    return used


def placement_problem(
    container_instance: Any, needs: dict[str, Any], gpus: int = 0, gpus_free: int = 0
) -> str:
    """'' when the task fits on the container instance, else AWS's failure reason. `gpus` is
    what the task reserves, `gpus_free` what the instance's unstopped tasks leave."""
    if gpus > gpus_free:
        return "RESOURCE:GPU"
    left = {r.get("name"): r for r in container_instance.remaining_resources}
    if int(needs.get("CPU") or 0) > int(left.get("CPU", {}).get("integerValue", 0)):
        return "RESOURCE:CPU"
    if int(needs.get("MEMORY") or 0) > int(left.get("MEMORY", {}).get("integerValue", 0)):
        return "RESOURCE:MEMORY"
    taken = set(left.get("PORTS", {}).get("stringSetValue", []))
    if any(str(port) in taken for port in needs.get("PORTS") or []):
        return "RESOURCE:PORTS"
    return ""


def _patched_start_task_response(self: Any) -> Any:
    from moto.core.responses import ActionResult

    backend = self.ecs_backend
    cluster_str = self._get_param("cluster", "default")
    task_definition_str = self._get_param("taskDefinition")
    wanted = self._get_param("containerInstances") or []
    cluster = backend._get_cluster(cluster_str)
    task_definition = backend.describe_task_definition(task_definition_str)
    needs = backend._calculate_task_resource_requirements(task_definition)
    with _placement_lock:
        placeable, failures = [], []
        for ref in wanted:
            found = backend.container_instances.get(cluster.name, {}).get(ref.split("/")[-1])
            if found is None or found.status != "ACTIVE":
                failures.append({"arn": ref, "reason": "MISSING"})
                continue
            gpus = task_gpus(task_definition)
            free = 0
            if gpus:
                free = instance_gpus(found) - gpus_in_use(
                    backend, cluster.name, found.container_instance_arn
                )
            problem = placement_problem(found, needs, gpus, free)
            if problem:
                failures.append({"arn": found.container_instance_arn, "reason": problem})
            else:
                placeable.append(ref)
        tasks = []
        if placeable:
            tasks = backend.start_task(
                cluster_str,
                task_definition_str,
                placeable,
                self._get_param("overrides"),
                self._get_param("startedBy"),
                self._get_param("tags"),
                self._get_param("group"),
            )
    return ActionResult({"tasks": tasks, "failures": failures})


def _patched_stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
    from moto.ecs.exceptions import InvalidParameterException

    cluster = self._get_cluster(cluster_str)
    task_id = task_str.split("/")[-1]
    tasks = self.tasks.get(cluster.name) or {}
    task = next((t for arn, t in list(tasks.items()) if arn.endswith(task_id)), None)
    if task is None:
        raise InvalidParameterException("The referenced task was not found.")
    instance_id = (task.container_instance_arn or "").split("/")[-1]
    if task.container_instance_arn and instance_id not in self.container_instances.get(
        cluster.name, {}
    ):
        # Its instance is gone: nothing to give resources back to; the task just stops.
        if task.last_status != "STOPPED":
            task.last_status = "STOPPED"
            task.desired_status = "STOPPED"
            task.stopped_reason = reason
        return task
    if task.last_status == "STOPPED":
        return task  # AWS: stopping a stopped task is a no-op (moto would free its room twice)
    return _originals["EC2ContainerServiceBackend.stop_task"](self, cluster_str, task_str, reason)


def _patched_deregister_container_instance(
    self: Any, cluster_str: str, container_instance_str: str, force: bool
) -> Any:
    from moto.ecs.exceptions import InvalidParameterException

    cluster = self._get_cluster(cluster_str)
    instance_id = container_instance_str.split("/")[-1]
    if instance_id not in self.container_instances.get(cluster.name, {}):
        raise InvalidParameterException("The referenced container instance was not found.")
    original = _originals["EC2ContainerServiceBackend.deregister_container_instance"]
    return original(self, cluster_str, container_instance_str, force)


def instance_resources(instance_type: str) -> tuple[int, int] | None:
    """(CPU units, memory MiB) an ECS agent registers for an instance type."""
    from yunpipe_tui.instance_types import AGENT_OVERHEAD_MIB, lookup

    known = lookup(instance_type)
    if known is not None:
        return known.cpu_units, known.usable_memory_mib
    try:
        from moto.ec2.models.instance_types import INSTANCE_TYPES

        info = INSTANCE_TYPES.get(instance_type)
        if info:
            vcpus = int(info["VCpuInfo"]["DefaultVCpus"])
            memory = int(info["MemoryInfo"]["SizeInMiB"])
            return vcpus * 1024, max(memory - AGENT_OVERHEAD_MIB, 128)
    except (ImportError, KeyError, TypeError, ValueError):
        pass
    return None


def _patched_register_container_instance(self: Any, cluster_str: str, ec2_instance_id: str) -> Any:
    original = _originals["EC2ContainerServiceBackend.register_container_instance"]
    container_instance = original(self, cluster_str, ec2_instance_id)
    figures = instance_resources(container_instance.attributes.get("ecs.instance-type", ""))
    if figures is not None:
        cpu, memory = figures
        for resources in (
            container_instance.registered_resources,
            container_instance.remaining_resources,
        ):
            for resource in resources:
                if resource.get("name") == "CPU":
                    resource["integerValue"] = cpu
                elif resource.get("name") == "MEMORY":
                    resource["integerValue"] = memory
    return container_instance


DYNAMODB_SERIALISED = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "transact_write_items",
)
_dynamodb_lock = threading.RLock()


def serialised(original: Callable[..., Any]) -> Callable[..., Any]:
    """`original` (a moto DynamoDB backend method) run under one lock for all of them."""

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _dynamodb_lock:
            return original(self, *args, **kwargs)

    call.__name__ = getattr(original, "__name__", "call")
    return call


def _patched_run_instances_response(self: Any) -> Any:
    """EC2 launches up to MaxCount instances when it has the capacity (the sandbox always has);
    moto launches MinCount."""
    original = _originals["InstanceResponse.run_instances"]
    max_count = self._get_param("MaxCount")
    if max_count:
        read = self._get_param

        def get_param(name: str, if_none: Any = None) -> Any:
            return max_count if name == "MinCount" else read(name, if_none)

        self._get_param = get_param
    return original(self)


BATCH_SERVICE = "batch.amazonaws.com"
BATCH_SERVICE_ROLE = "AWSServiceRoleForBatch"


def _record_job_only(self: Any) -> None:
    """Replaces `Job.start` (a thread that runs the container in Docker): the job stays
    SUBMITTED until the sandbox's Batch runner takes it."""


def batch_service_role(backend: Any) -> str:
    """The ARN of AWSServiceRoleForBatch in the backend's account, created if missing (AWS
    creates it when the first compute environment is created without a service role)."""
    from moto.iam.exceptions import NotFoundException

    iam = backend.iam_backend
    try:
        return str(iam.get_role(BATCH_SERVICE_ROLE).arn)
    except NotFoundException:
        role = iam.create_service_linked_role(BATCH_SERVICE, "", "")
        return str(role.arn)


def _patched_create_compute_environment(
    self: Any,
    compute_environment_name: str,
    _type: str,
    state: str,
    compute_resources: dict[str, Any],
    service_role: str,
    tags: dict[str, str] | None = None,
) -> Any:
    original = _originals["BatchBackend.create_compute_environment"]
    role = service_role or batch_service_role(self)
    env = original(self, compute_environment_name, _type, state, compute_resources, role, tags=tags)
    if env.ecs_name.startswith(MOTO_BATCH_CLUSTER):
        # AWS names the environment's ECS cluster `<environment>_Batch_<uuid>`.
        self.ecs_backend.clusters.pop(env.ecs_name, None)  # never existed on AWS
        name = f"{env.name}_Batch_{uuid.uuid4()}"
        env.set_ecs(self.ecs_backend.create_cluster(name).arn, name)
    return env


MOTO_BATCH_CLUSTER = "OnDemand_Batch_"
VCPU_SETTINGS = ("minvCpus", "maxvCpus", "desiredvCpus")


def _patched_update_compute_environment(
    self: Any,
    compute_environment_name: str,
    state: str | None,
    compute_resources: Any | None,
    service_role: str | None,
) -> Any:
    original = _originals["BatchBackend.update_compute_environment"]
    answer = original(self, compute_environment_name, state, compute_resources, service_role)
    env = self.get_compute_environment(compute_environment_name)
    if env is not None and env.compute_resources is not None and compute_resources:
        changed = {k: compute_resources[k] for k in VCPU_SETTINGS if k in compute_resources}
        env.compute_resources = {**env.compute_resources, **changed}
    return answer


def _patched_submit_job(
    self: Any, job_name: str, job_def_id: str, job_queue: str, *args: Any, **kwargs: Any
) -> Any:
    from moto.batch.exceptions import ClientException

    queue = self.get_job_queue(job_queue)
    if queue is not None and queue.state != "ENABLED":
        raise ClientException(f"Job queue {queue.name} is {queue.state}: it accepts no new jobs")
    definition = self.get_job_definition(job_def_id)
    if definition is not None and definition.status != "ACTIVE":
        if ":" in job_def_id:  # a revision or an ARN: that one, inactive
            raise ClientException(f"Job definition {job_def_id} is {definition.status}")
        active = [
            d
            for d in list(self._job_definitions.values())
            if d.name == job_def_id and d.status == "ACTIVE"
        ]
        if not active:
            raise ClientException(f"Job definition {job_def_id} has no ACTIVE revision")
        job_def_id = max(active, key=lambda d: d.revision).arn
    original = _originals["BatchBackend.submit_job"]
    return original(self, job_name, job_def_id, job_queue, *args, **kwargs)


def _patched_delete_job_queue(self: Any, queue_name: str) -> None:
    from moto.batch.exceptions import ClientException

    queue = self.get_job_queue(queue_name)
    if queue is not None and queue.state != "DISABLED":
        raise ClientException(f"Job queue {queue.name} must be DISABLED before it is deleted")
    _originals["BatchBackend.delete_job_queue"](self, queue_name)


def _patched_delete_compute_environment(self: Any, compute_environment_name: str) -> None:
    from moto.batch.exceptions import ClientException

    env = self.get_compute_environment(compute_environment_name or "")
    if env is not None:
        if env.state != "DISABLED":
            raise ClientException(
                f"Compute environment {env.name} must be DISABLED before it is deleted"
            )
        users = [q.name for q in list(self._job_queues.values()) if env in q.environments]
        if users:
            raise ClientException(
                f"Cannot delete, compute environment {env.name} is used by job queue "
                f"{', '.join(sorted(users))}"
            )
    _originals["BatchBackend.delete_compute_environment"](self, compute_environment_name)


def _patched_job_container_property(self: Any, p: str, default: Any) -> Any:
    if p != "environment":
        return _originals["Job._get_container_property"](self, p, default)
    declared = (self.job_definition.container_properties or {}).get("environment") or []
    merged = {e["name"]: e.get("value", "") for e in declared}
    for entry in self.container_overrides.get("environment") or []:
        merged[entry["name"]] = entry.get("value", "")
    merged["AWS_BATCH_JOB_ID"] = self.job_id
    return [{"name": name, "value": value} for name, value in merged.items()]


def _patched_job_container_details(self: Any) -> dict[str, Any]:
    details: dict[str, Any] = _originals["Job._container_details"](self)
    if self.exit_code is not None:
        details["exitCode"] = self.exit_code
    reason = getattr(self, "container_reason", None)
    if reason:
        details["reason"] = reason
    return details


def _targets() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for every hook."""
    import moto.iam.models as iam_models
    import moto.s3.notifications as notifications
    from moto.awslambda.models import LambdaFunction
    from moto.batch.models import BatchBackend, Job
    from moto.dynamodb.models import DynamoDBBackend
    from moto.ec2.responses.instances import InstanceResponse
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    backend = EC2ContainerServiceBackend
    return [
        *(
            (DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))
            for name in DYNAMODB_SERIALISED
        ),
        (notifications, "_invoke_awslambda", _patched_invoke_awslambda),
        (LambdaFunction, "invoke", _patched_lambda_invoke),
        (backend, "run_task", _patched_run_task),
        (backend, "stop_task", _patched_stop_task),
        (backend, "deregister_container_instance", _patched_deregister_container_instance),
        (backend, "register_container_instance", _patched_register_container_instance),
        (EC2ContainerServiceResponse, "start_task", _patched_start_task_response),
        (InstanceResponse, "run_instances", _patched_run_instances_response),
        (Job, "start", _record_job_only),
        (Job, "_get_container_property", _patched_job_container_property),
        (Job, "_container_details", _patched_job_container_details),
        (BatchBackend, "submit_job", _patched_submit_job),
        (BatchBackend, "create_compute_environment", _patched_create_compute_environment),
        (BatchBackend, "update_compute_environment", _patched_update_compute_environment),
        (BatchBackend, "delete_job_queue", _patched_delete_job_queue),
        (BatchBackend, "delete_compute_environment", _patched_delete_compute_environment),
        # moto's service-linked role names: Batch's as AWS spells it.
        (
            iam_models,
            "SERVICE_NAME_CONVERSION",
            {**iam_models.SERVICE_NAME_CONVERSION, "batch": "Batch"},
        ),
    ]


def _key(owner: Any, attribute: str) -> str:
    return f"{owner.__name__.rsplit('.', 1)[-1]}.{attribute}"


def install(s3_handler: S3LambdaHandler, invoke_handler: InvokeHandler) -> None:
    """Put the sandbox's hooks into moto. One sandbox per process."""
    global _s3_handler, _invoke_handler
    targets = _targets()
    with _lock:
        if _originals:
            raise RuntimeError("a sandbox is already running in this process")
        _s3_handler, _invoke_handler = s3_handler, invoke_handler
        for owner, attribute, replacement in targets:
            _originals[_key(owner, attribute)] = getattr(owner, attribute)
            setattr(owner, attribute, replacement)


def uninstall() -> None:
    global _s3_handler, _invoke_handler
    targets = _targets()
    with _lock:
        for owner, attribute, _ in targets:
            original = _originals.pop(_key(owner, attribute), None)
            if original is not None:
                setattr(owner, attribute, original)
        _originals.clear()
        _s3_handler = _invoke_handler = None


def is_installed() -> bool:
    return bool(_originals)
