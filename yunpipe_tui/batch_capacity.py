"""Why a step's Batch jobs sit in RUNNABLE, in words: decided from what the poll read (the job
queue, its compute environments and the job definition's resource requirements). Pure: no AWS.

Batch itself never says why a job waits for an instance; a job whose requirements no allowed
instance type meets waits forever, silently. So the monitor checks, in this order:
the job queue or its compute environments cannot take jobs (DISABLED, INVALID with Batch's own
reason); no instance type the environments allow holds one job (vCPUs, memory or GPUs; or a job
bigger than max_vcpus); every environment that could hold it is at max_vcpus; otherwise Batch is
scaling up or the capacity (Spot especially) is short.

What "optimal" means: AWS Batch documents that it picks from the C4, M4 and R4 families (C5, M5
and R5 in Regions without those). The check uses the 4th generation's largest sizes, the
conservative reading; none of them has a GPU. Among the families yunpipe allows, only g4dn and g5
have GPUs. A family is judged by its largest size, which is the largest in vCPUs, memory and
GPUs at once for every family listed here, so "one size fits" and "the largest fits" agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yunpipe_tui import instance_types

# What the ECS agent and the OS keep for themselves on the instance: a job asking for all of an
# instance's memory never fits on it.
RESERVED_MIB = instance_types.AGENT_OVERHEAD_MIB


@dataclass(frozen=True)
class Shape:
    """An instance size: vCPUs, memory (MiB) and GPUs."""

    name: str
    vcpus: int
    memory_mib: int
    gpus: int = 0


# The largest size of each family a compute environment may name (EC2's instance type pages).
LARGEST: dict[str, Shape] = {
    s.name.split(".")[0]: s
    for s in (
        Shape("c4.8xlarge", 36, 61_440),
        Shape("m4.16xlarge", 64, 262_144),
        Shape("r4.16xlarge", 64, 499_712),
        Shape("c5.24xlarge", 96, 196_608),
        Shape("m5.24xlarge", 96, 393_216),
        Shape("r5.24xlarge", 96, 786_432),
        Shape("c6i.32xlarge", 128, 262_144),
        Shape("m6i.32xlarge", 128, 524_288),
        Shape("r6i.32xlarge", 128, 1_048_576),
        Shape("t3.2xlarge", 8, 32_768),
        Shape("g4dn.metal", 96, 393_216, 8),
        Shape("g5.48xlarge", 192, 786_432, 8),
    )
}
OPTIMAL = ("c4", "m4", "r4")


@dataclass(frozen=True)
class JobNeeds:
    """What one job asks for (its job definition's resourceRequirements)."""

    vcpus: float
    memory_mib: int
    gpus: int = 0

    def words(self) -> str:
        parts = [f"{self.vcpus:g} vCPU", f"{self.memory_mib} MiB"]
        if self.gpus:
            parts.append(f"{self.gpus} GPU")
        return ", ".join(parts)


@dataclass(frozen=True)
class Environment:
    """A compute environment as the reason needs it."""

    name: str
    state: str  # ENABLED | DISABLED
    status: str  # CREATING | UPDATING | DELETING | DELETED | VALID | INVALID
    status_reason: str = ""
    desired_vcpus: int = 0
    max_vcpus: int = 0
    instance_types: tuple[str, ...] = ()

    @property
    def takes_jobs(self) -> bool:
        return self.state == "ENABLED" and self.status in ("VALID", "UPDATING")


def shapes(allowed: Sequence[str]) -> list[Shape] | None:
    """The sizes an environment's instanceTypes allow (largest per family); None when one of the
    names is unknown here (then nothing is claimed about fitting)."""
    out: list[Shape] = []
    for name in allowed:
        if name == "optimal":
            out.extend(LARGEST[f] for f in OPTIMAL)
        elif "." in name:
            known = instance_types.lookup(name)
            largest = next((s for s in LARGEST.values() if s.name == name), None)
            if known is not None:
                out.append(Shape(known.name, known.vcpu, known.memory_mib, known.gpu))
            elif largest is not None:
                out.append(largest)
            else:
                return None
        elif name in LARGEST:
            out.append(LARGEST[name])
        else:
            return None
    return out


def fits(needs: JobNeeds, shape: Shape) -> bool:
    return (
        shape.vcpus >= needs.vcpus
        and shape.memory_mib - RESERVED_MIB >= needs.memory_mib
        and shape.gpus >= needs.gpus
    )


def holds_one(needs: JobNeeds, env: Environment) -> bool | None:
    """Whether one job can ever run in `env` (None: its instance types are unknown here)."""
    if env.max_vcpus and needs.vcpus > env.max_vcpus:
        return False
    allowed = shapes(env.instance_types)
    if allowed is None:
        return None
    return any(fits(needs, s) for s in allowed)


def _types_words(env: Environment) -> str:
    allowed = shapes(env.instance_types) or []
    top_gpu = max((s.gpus for s in allowed), default=0)
    names = ", ".join(env.instance_types) or "none"
    if "optimal" in env.instance_types:
        names += " (c/m/r families)"
    return f"{names}; no GPUs" if top_gpu == 0 else names


def runnable_reason(
    needs: JobNeeds | None,
    environments: Sequence[Environment],
    *,
    queue_state: str = "ENABLED",
    queue_status: str = "VALID",
    queue_reason: str = "",
) -> str:
    """Why jobs of these needs wait in RUNNABLE, in one line for a person."""
    if queue_state != "ENABLED":
        return f"the job queue is {queue_state}: it starts no jobs"
    if queue_status == "INVALID":
        return f"the job queue is INVALID: {queue_reason or 'no reason given'}"
    usable = [e for e in environments if e.takes_jobs]
    if not usable:
        invalid = [e for e in environments if e.status == "INVALID"]
        if invalid:
            e = invalid[0]
            return f"compute environment {e.name} is INVALID: {e.status_reason or 'no reason'}"
        if not environments:
            return "the job queue has no compute environment"
        told = ", ".join(f"{e.name} {e.state}/{e.status}" for e in environments)
        return f"no compute environment takes jobs ({told})"
    if needs is not None:
        verdicts = [(e, holds_one(needs, e)) for e in usable]
        if all(v is False for _, v in verdicts):
            e = usable[0]
            if e.max_vcpus and needs.vcpus > e.max_vcpus:
                return (
                    f"a job needs {needs.vcpus:g} vCPUs, more than max_vcpus "
                    f"{e.max_vcpus}: it never starts"
                )
            return (
                f"no allowed instance type fits one job ({needs.words()}); "
                f"{e.name} allows {_types_words(e)}"
            )
        usable = [e for e, v in verdicts if v is not False]
    step = needs.vcpus if needs is not None else 1
    if all(e.max_vcpus and e.desired_vcpus + step > e.max_vcpus for e in usable):
        e = usable[-1]
        return (
            f"max_vcpus reached: {e.name} wants {e.desired_vcpus} of {e.max_vcpus} vCPUs; "
            "jobs start as others finish"
        )
    desired = sum(e.desired_vcpus for e in usable)
    return f"waiting for capacity: Batch is scaling up (desired {desired} vCPUs) or Spot is short"
