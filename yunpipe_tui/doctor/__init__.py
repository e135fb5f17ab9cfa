"""The prerequisite doctor: checks that an account is ready for yunpipe, and fixes what it can.

Each check has an id, a title, a status (ok / warn / fail / skip: not run because what it depends
on failed), a one-paragraph detail and, where one exists, a fix (what it will do and the exact
policy JSON it will apply). Checks run concurrently; a check that raises becomes a failed check
carrying the error.

Core API (no printing, no prompts; used by `yunpipe doctor` and the wizard's Doctor screen):
    run_checks(ctx, workflow=None) -> list[CheckResult]
    apply_fix(ctx, check_id) -> str            # what was done, one line
    report_json(results) -> dict               # {"ok": bool, "checks": [...]}

The rooms: `model` (Check, Facts, CheckResult, Fix), one module per area of checks (`identity`:
credentials and region; `services`; `roles`: the IAM roles and their fixes; `permissions`: the
policy simulator; `workflow_checks`), `iam_reads` (IAM lookups they share), `registry` (every
check in order), `runner` (running checks, applying fixes) and `report` (JSON, summary).
"""

from __future__ import annotations

from yunpipe_tui.doctor.model import (
    FAIL,
    OK,
    SKIP,
    WARN,
    Check,
    CheckResult,
    Facts,
    Fix,
    Outcome,
    Status,
)
from yunpipe_tui.doctor.registry import CHECKS, check_ids, fixable_ids
from yunpipe_tui.doctor.report import all_ok, report_json, summary
from yunpipe_tui.doctor.runner import MAX_WORKERS, apply_fix, run_checks

__all__ = [
    "CHECKS",
    "FAIL",
    "MAX_WORKERS",
    "OK",
    "SKIP",
    "WARN",
    "Check",
    "CheckResult",
    "Facts",
    "Fix",
    "Outcome",
    "Status",
    "all_ok",
    "apply_fix",
    "check_ids",
    "fixable_ids",
    "report_json",
    "run_checks",
    "summary",
]
