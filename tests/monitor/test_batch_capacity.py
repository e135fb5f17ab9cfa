"""Why Batch jobs sit in RUNNABLE (batch_capacity.py): pure rules, one test per reason."""

from __future__ import annotations

from yunpipe_tui.batch_capacity import Environment, JobNeeds, holds_one, runnable_reason, shapes

SMALL = JobNeeds(vcpus=2, memory_mib=4096)
GPU = JobNeeds(vcpus=4, memory_mib=16_000, gpus=1)


def env(**kw: object) -> Environment:
    values: dict = {
        "name": "yunpipe-p-ondemand",
        "state": "ENABLED",
        "status": "VALID",
        "desired_vcpus": 0,
        "max_vcpus": 16,
        "instance_types": ("optimal",),
    }
    values.update(kw)
    return Environment(**values)


def test_an_invalid_environment_says_batch_s_reason() -> None:
    bad = env(status="INVALID", status_reason="CLIENT_ERROR - instance profile not found")
    reason = runnable_reason(SMALL, [bad])
    assert reason.startswith("compute environment yunpipe-p-ondemand is INVALID")
    assert "instance profile not found" in reason


def test_a_gpu_job_fits_no_optimal_type() -> None:
    reason = runnable_reason(GPU, [env()])
    assert reason.startswith("no allowed instance type fits one job (4 vCPU, 16000 MiB, 1 GPU)")
    assert "optimal (c/m/r families); no GPUs" in reason


def test_a_gpu_job_fits_once_g4dn_is_allowed() -> None:
    reason = runnable_reason(GPU, [env(instance_types=("optimal", "g4dn", "g5"))])
    assert reason.startswith("waiting for capacity")
    # Four GPUs on one instance: g4dn.metal and g5.48xlarge have eight.
    assert holds_one(JobNeeds(8, 32_000, 4), env(instance_types=("g4dn",)))
    assert not holds_one(JobNeeds(8, 32_000, 4), env(instance_types=("g4dn.xlarge",)))


def test_memory_beyond_the_largest_optimal_type() -> None:
    huge = JobNeeds(vcpus=4, memory_mib=600_000)
    assert "no allowed instance type fits" in runnable_reason(huge, [env(max_vcpus=256)])
    assert runnable_reason(huge, [env(instance_types=("r5",), max_vcpus=256)]).startswith(
        "waiting for capacity"
    )


def test_a_job_bigger_than_max_vcpus_never_starts() -> None:
    reason = runnable_reason(JobNeeds(vcpus=32, memory_mib=1024), [env(max_vcpus=16)])
    assert reason.startswith("a job needs 32 vCPUs, more than max_vcpus 16")


def test_max_vcpus_reached() -> None:
    reason = runnable_reason(SMALL, [env(desired_vcpus=16, max_vcpus=16)])
    assert reason.startswith("max_vcpus reached: yunpipe-p-ondemand wants 16 of 16 vCPUs")
    # One more job would pass the ceiling: reached too (2 vCPUs do not fit in 15 of 16).
    assert runnable_reason(SMALL, [env(desired_vcpus=15)]).startswith("max_vcpus reached")
    # Spot at its max but the on-demand fallback has room: capacity, not the ceiling.
    spot = env(name="yunpipe-p-spot", desired_vcpus=16)
    assert runnable_reason(SMALL, [spot, env(desired_vcpus=4)]).startswith("waiting for capacity")


def test_waiting_for_capacity_otherwise() -> None:
    reason = runnable_reason(SMALL, [env(desired_vcpus=4)])
    assert reason == (
        "waiting for capacity: Batch is scaling up (desired 4 vCPUs) or Spot is short"
    )


def test_queue_and_environment_states() -> None:
    assert "job queue is DISABLED" in runnable_reason(SMALL, [env()], queue_state="DISABLED")
    invalid = runnable_reason(SMALL, [env()], queue_status="INVALID", queue_reason="no CE")
    assert invalid == "the job queue is INVALID: no CE"
    off = runnable_reason(SMALL, [env(state="DISABLED")])
    assert off.startswith("no compute environment takes jobs (yunpipe-p-ondemand DISABLED/VALID)")
    assert runnable_reason(SMALL, []) == "the job queue has no compute environment"


def test_unknown_types_claim_nothing() -> None:
    assert shapes(["x9.huge"]) is None
    assert holds_one(GPU, env(instance_types=("x9.huge",))) is None
    assert runnable_reason(GPU, [env(instance_types=("x9.huge",))]).startswith("waiting")
    assert runnable_reason(None, [env(desired_vcpus=16)]).startswith("max_vcpus reached")
