"""Choosing an EC2 instance type for an algorithm that names none (the seed said t2.micro)."""

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

    @property
    def usable_memory_mib(self) -> int:
        return self.memory_mib - AGENT_OVERHEAD_MIB

    @property
    def cpu_units(self) -> int:
        return self.vcpu * 1024


def table() -> list[InstanceType]:
    return [
        InstanceType(t["name"], t["vcpu"], t["memory_mib"])
        for t in load_json("instance_types.json")["types"]
    ]


def smallest_fitting(memory_mib: int | None, cpus: float | None) -> InstanceType:
    """The cheapest type whose usable memory and vCPUs hold the algorithm, else the largest."""
    types = table()
    need_mem = memory_mib or 0
    need_cpu = cpus or 0
    for t in types:
        if t.usable_memory_mib >= need_mem and t.vcpu >= need_cpu:
            return t
    return types[-1]


def lookup(name: str) -> InstanceType | None:
    return next((t for t in table() if t.name == name), None)
