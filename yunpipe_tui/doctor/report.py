"""What the doctor's results add up to: all fine or not, the JSON report, the summary line."""

from __future__ import annotations

from typing import Any

from yunpipe_tui.doctor.model import FAIL, SKIP, WARN, CheckResult


def all_ok(results: list[CheckResult]) -> bool:
    return all(r.status != FAIL for r in results)


def report_json(results: list[CheckResult]) -> dict[str, Any]:
    return {"ok": all_ok(results), "checks": [r.to_json() for r in results]}


def summary(results: list[CheckResult]) -> str:
    fails = sum(r.status == FAIL for r in results)
    warns = sum(r.status == WARN for r in results)
    skips = sum(r.status == SKIP for r in results)
    if not fails and not warns and not skips:
        return "No issues found!"
    parts = []
    if fails:
        parts.append(f"{fails} issue{'s' if fails != 1 else ''}")
    if warns:
        parts.append(f"{warns} warning{'s' if warns != 1 else ''}")
    said = "Doctor found " + " and ".join(parts) + "." if parts else "No issues found."
    if skips:
        said += f" {skips} check{'s' if skips != 1 else ''} skipped until that is fixed."
    return said
