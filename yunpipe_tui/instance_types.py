"""Choosing an EC2 instance type for an algorithm that names none (the seed said t2.micro), and
how many of a step's tasks one instance holds."""

from __future__ import annotations

from dataclasses import dataclass

from yunpipe_tui.assets import load_json

# What the ECS agent, Docker and the OS keep for themselves on an ECS-optimized instance.
AGENT_OVERHEAD_MIB = 256


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    memory_mib: int
    gpu: int = 0

    @property
    def usable_memory_mib(self) -> int:
        return self.memory_mib - AGENT_OVERHEAD_MIB

    @property
    def cpu_units(self) -> int:
        return self.vcpu * 1024


def table() -> list[InstanceType]:
    return [
        InstanceType(t["name"], t["vcpu"], t["memory_mib"], int(t.get("gpu", 0)))
        for t in load_json("instance_types.json")["types"]
    ]


def smallest_fitting(memory_mib: int | None, cpus: float | None, gpus: int = 0) -> InstanceType:
    """The cheapest type whose usable memory, vCPUs and GPUs hold the algorithm, else the
    largest of its family (GPU types only for a GPU algorithm, never for another)."""
    types = [t for t in table() if (t.gpu > 0) == (gpus > 0)]
    need_mem = memory_mib or 0
    need_cpu = cpus or 0
    for t in types:
        if t.usable_memory_mib >= need_mem and t.vcpu >= need_cpu and t.gpu >= gpus:
            return t
    return max(types, key=lambda t: (t.gpu, t.vcpu, t.memory_mib))


def largest_gpu_count() -> int:
    return max(t.gpu for t in table())


def tasks_per_instance(
    instance: InstanceType, task_memory_mib: int, task_cpu_units: int, task_gpus: int = 0
) -> int:
    """How many of a step's tasks one instance of this type holds (at least 1)."""
    fits = [instance.usable_memory_mib // max(1, task_memory_mib)]
    if task_cpu_units > 0:
        fits.append(instance.cpu_units // task_cpu_units)
    if task_gpus > 0:
        fits.append(instance.gpu // task_gpus)
    return max(1, min(fits))


def lookup(name: str) -> InstanceType | None:
    return next((t for t in table() if t.name == name), None)
