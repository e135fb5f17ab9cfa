"""The local "ECS agent": what an ECS-optimized instance and CloudWatch would do in AWS.

- Instances the dispatcher launched (tagged `yunpipe:managed=true`, running) register as container
  instances of the cluster their user data names (`ECS_CLUSTER=...`; the pipeline's cluster by
  tag otherwise), with an identity document carrying the real moto instance id.
- Boot: an instance joins `Timings.instance_boot` seconds after the agent first sees it (0 by
  default: at the next poll); until then the dispatcher sees it as booting, as on AWS.
- Resources: moto registers every container instance with CPU 4096 / memory 7482 whatever the
  instance, and its API offers no way to change that (`totalResources` in the request is
  ignored). What we could set: `patches` sets the registered and remaining CPU (vCPUs × 1024) and
  memory (MiB less 256 for the agent, Docker and the OS; `yunpipe_tui.instance_types`, else
  moto's own instance-type table) on moto's model at registration, so ECS placement really runs
  out of room. What we could not: the PORTS set stays moto's fixed list, `pendingTasksCount` is
  always 0, and agent/Docker versions are moto's constants. The `ecs.instance-type`, AMI and
  availability-zone attributes come from the EC2 instance, as on AWS.
- An instance with no running or pending task for `Timings.instance_idle` seconds is deregistered,
  terminated and its idle alarm deleted: moto never runs alarm actions.
- An instance terminated by someone else (teardown) is deregistered: moto keeps it registered.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yunpipe_tui import resource_names as names

if TYPE_CHECKING:
    from yunpipe_tui.sandbox.server import Sandbox

LOG = logging.getLogger("yunpipe.sandbox.agent")
_CLUSTER_LINE = re.compile(r"ECS_CLUSTER=['\"]?([A-Za-z0-9_-]+)")


@dataclass
class Registered:
    instance_id: str
    cluster: str
    container_instance_arn: str
    pipeline: str
    step: str
    idle_since: float | None = None


def cluster_from_user_data(user_data: str) -> str | None:
    match = _CLUSTER_LINE.search(user_data or "")
    return match.group(1) if match else None


class Agent:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.registered: dict[str, Registered] = {}
        self._failed: dict[str, float] = {}
        self._seen: dict[str, float] = {}  # instance id → when the agent first saw it (boot)

    @property
    def ec2(self) -> Any:
        return self.sandbox.context.client("ec2")

    @property
    def ecs(self) -> Any:
        return self.sandbox.context.client("ecs")

    def reset(self) -> None:
        self.registered.clear()
        self._failed.clear()
        self._seen.clear()

    def tick(self) -> None:
        live = self._managed_instances()
        now = time.monotonic()
        for instance_id in [i for i in self._seen if i not in live]:
            del self._seen[instance_id]
        for instance in live.values():
            instance_id = instance["InstanceId"]
            if instance_id in self.registered:
                continue
            seen = self._seen.setdefault(instance_id, now)
            if now - seen >= self.sandbox.timings.instance_boot:
                self._register(instance)
        for instance_id in list(self.registered):
            if instance_id not in live:
                self._forget_terminated(self.registered.pop(instance_id))
        self._retire_idle()

    # ----------------------------------------------------------------- registration
    def _managed_instances(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        paginator = self.ec2.get_paginator("describe_instances")
        for page in paginator.paginate(
            Filters=[
                {"Name": f"tag:{names.TAG_MANAGED}", "Values": ["true"]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        ):
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    found[instance["InstanceId"]] = instance
        return found

    def _register(self, instance: dict[str, Any]) -> None:
        instance_id = instance["InstanceId"]
        if time.monotonic() - self._failed.get(instance_id, -1e9) < 2.0:
            return
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        pipeline, step = tags.get(names.TAG_PIPELINE, ""), tags.get(names.TAG_STEP, "")
        cluster = self._cluster_of(instance_id) or (names.cluster(pipeline) if pipeline else "")
        if not cluster:
            LOG.warning("instance %s names no cluster; not registered", instance_id)
            self._failed[instance_id] = time.monotonic()
            return
        document = {
            "instanceId": instance_id,
            "instanceType": instance.get("InstanceType", ""),
            "imageId": instance.get("ImageId", ""),
            "availabilityZone": instance.get("Placement", {}).get("AvailabilityZone", ""),
            "region": self.sandbox.region,
            "accountId": instance.get("OwnerId", ""),
            "privateIp": instance.get("PrivateIpAddress", ""),
        }
        try:
            response = self.ecs.register_container_instance(
                cluster=cluster,
                instanceIdentityDocument=json.dumps(document),
                instanceIdentityDocumentSignature="sandbox",
            )
        except Exception as exc:
            # e.g. the cluster does not exist (yet, or any more): try again a little later.
            LOG.warning("registering %s in %s failed: %s", instance_id, cluster, exc)
            self._failed[instance_id] = time.monotonic()
            return
        arn = response["containerInstance"]["containerInstanceArn"]
        self.registered[instance_id] = Registered(instance_id, cluster, arn, pipeline, step)
        self.sandbox.activity.add("instances_registered")
        LOG.info("instance %s (%s) joined %s", instance_id, document["instanceType"], cluster)

    def _cluster_of(self, instance_id: str) -> str | None:
        try:
            attribute = self.ec2.describe_instance_attribute(
                InstanceId=instance_id, Attribute="userData"
            )
        except Exception:
            return None
        raw = attribute.get("UserData", {}).get("Value", "")
        if not raw:
            return None
        try:
            text = base64.b64decode(raw).decode("utf-8", "replace")
        except ValueError:
            text = raw
        return cluster_from_user_data(text)

    # ----------------------------------------------------------------- idle and gone
    def _retire_idle(self) -> None:
        by_cluster: dict[str, list[Registered]] = {}
        for registered in self.registered.values():
            by_cluster.setdefault(registered.cluster, []).append(registered)
        now = time.monotonic()
        for cluster, members in by_cluster.items():
            try:
                described = self.ecs.describe_container_instances(
                    cluster=cluster, containerInstances=[m.container_instance_arn for m in members]
                )["containerInstances"]
            except Exception as exc:
                LOG.info("describe container instances of %s failed: %s", cluster, exc)
                continue
            busy = {
                ci["containerInstanceArn"]
                for ci in described
                if ci.get("runningTasksCount", 0) or ci.get("pendingTasksCount", 0)
            }
            present = {ci["containerInstanceArn"] for ci in described}
            for member in members:
                if member.container_instance_arn not in present:
                    # Deregistered by someone else; the instance itself is no longer ours to keep.
                    self.registered.pop(member.instance_id, None)
                    continue
                if member.container_instance_arn in busy:
                    member.idle_since = None
                elif member.idle_since is None:
                    member.idle_since = now
                elif now - member.idle_since >= self.sandbox.timings.instance_idle:
                    self._retire(member)

    def _retire(self, member: Registered) -> None:
        """What the idle alarm's terminate action does on AWS, plus the agent's deregistration."""
        try:
            # Without force, ECS refuses while a task runs: a task placed this very moment wins.
            self.ecs.deregister_container_instance(
                cluster=member.cluster, containerInstance=member.container_instance_arn, force=False
            )
        except Exception as exc:
            LOG.info("instance %s not retired: %s", member.instance_id, exc)
            member.idle_since = None
            return
        self.registered.pop(member.instance_id, None)
        try:
            self.ec2.terminate_instances(InstanceIds=[member.instance_id])
        except Exception as exc:
            LOG.warning("terminating %s failed: %s", member.instance_id, exc)
        self._delete_alarm(member)
        self.sandbox.activity.add("instances_retired")
        LOG.info("idle instance %s terminated", member.instance_id)

    def _delete_alarm(self, member: Registered) -> None:
        if not (member.pipeline and member.step):
            return
        try:
            self.sandbox.context.client("cloudwatch").delete_alarms(
                AlarmNames=[names.alarm(member.pipeline, member.step, member.instance_id)]
            )
        except Exception as exc:
            LOG.info("deleting the alarm of %s failed: %s", member.instance_id, exc)

    def _forget_terminated(self, member: Registered) -> None:
        """Terminated by someone else: deregister it, as the ECS service does on AWS."""
        try:
            self.ecs.deregister_container_instance(
                cluster=member.cluster, containerInstance=member.container_instance_arn, force=True
            )
        except Exception as exc:
            LOG.info("deregistering %s failed: %s", member.instance_id, exc)
        LOG.info("instance %s is gone; deregistered", member.instance_id)

    def container_instances(self) -> dict[str, str]:
        """container instance ARN → instance id, for the executor."""
        return {r.container_instance_arn: r.instance_id for r in self.registered.values()}
