"""The doctor's vocabulary: a check, what it reads (Facts), what it says (Outcome, CheckResult)
and the fix it offers. Every other doctor module speaks in these terms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from yunpipe_tui.workflow import BATCH, ECS

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext
    from yunpipe_tui.workflow import Workflow

BOTH_BACKENDS = frozenset({ECS, BATCH})

Status = Literal["ok", "warn", "fail", "skip"]
OK: Status = "ok"
WARN: Status = "warn"
FAIL: Status = "fail"
SKIP: Status = "skip"  # not run: what it depends on (the credentials, the profile) failed


@dataclass(frozen=True)
class Fix:
    """What a fix will do, and the exact IAM documents it applies (None when it applies none)."""

    description: str
    policy: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "policy": self.policy}


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: Status
    detail: str
    fix: Fix | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix.to_json() if self.fix else None,
        }


@dataclass
class Facts:
    """What checks share: the AWS context, the workflow, and the caller's identity."""

    ctx: AwsContext
    workflow: Workflow | None = None
    account: str = ""
    arn: str = ""
    source: str = ""
    workflow_ctx: AwsContext | None = None

    @property
    def region(self) -> str:
        return self.ctx.region_name

    @property
    def backend(self) -> str:
        """The workflow's compute backend; without a workflow, ECS (the default)."""
        return self.workflow.compute.backend if self.workflow is not None else ECS


Outcome = tuple[Status, str, Fix | None]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    run: Callable[[Facts], Outcome]
    needs_credentials: bool = True
    workflow_only: bool = False
    fixer: Callable[[Facts], str] | None = field(default=None, compare=False)
    # The compute backends that need what this check looks at; without a workflow: ECS's.
    backends: frozenset[str] = BOTH_BACKENDS

    def applies(self, workflow: Workflow | None) -> bool:
        """Whether to run this check for a workflow (or for none: the ECS default's checks)."""
        if workflow is None:
            return not self.workflow_only and ECS in self.backends
        return workflow.compute.backend in self.backends
