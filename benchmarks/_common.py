"""Shared helpers for the benchmark scripts: timing loops and one result line per figure.

Each benchmark prints lines `RESULT <name> <value> <unit> goal <goal> ratio <ratio> <verdict>`
that `benchmarks/run_all.py` collects into benchmarks/README.md.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence


def time_command(argv: Sequence[str], runs: int = 15) -> float:
    """Median wall time of a command, in seconds (stdout discarded; failures raise)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_call(fn: Callable[[], object], runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def result(
    name: str, value: float, unit: str, goal: str, ratio: float | None, ok: bool | None
) -> None:
    verdict = "n/a" if ok is None else ("meets-goal" if ok else "MISSES-GOAL")
    ratio_text = "-" if ratio is None else f"{ratio:.2f}"
    print(f"RESULT {name} {value:.4g} {unit} goal {goal} ratio {ratio_text} {verdict}", flush=True)
