"""One prepare step: workflow file → region context → account facts → plan → problems → actions.

The command line, the wizard's Deploy screen and the sandbox flow all start a deploy the same
way; this is that way, so each of them only presents the result (`Prepared`):

    prepared = prepare("workflow.json", ctx, catalog)     # reads the account, changes nothing
    print(format_tree(prepared.plan, prepared.actions))
    prepared.require()                                    # YunpipeError listing the problems

Loading the file (`load`) is separate so that a caller can check it before asking anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from yunpipe_tui.aws import AwsContext
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import preflight
from yunpipe_tui.deploy.engine import Engine
from yunpipe_tui.deploy.guarded import judge
from yunpipe_tui.deploy.model import AccountFacts, Plan
from yunpipe_tui.deploy.plan import algorithms_for, build_plan
from yunpipe_tui.errors import YunpipeError
from yunpipe_tui.workflow import Workflow, load_workflow

ACTIONS = ("create", "update", "keep")


@dataclass(frozen=True)
class Prepared:
    """Everything a deploy needs, and what the user should see before saying yes."""

    workflow: Workflow
    ctx: AwsContext  # in the workflow's region
    facts: AccountFacts
    plan: Plan
    problems: list[str]  # every reason not to deploy, one line each; empty means go
    actions: dict[str, str] = field(default_factory=dict)  # key → create/update/keep
    warnings: list[str] = field(default_factory=list)  # worth saying, not a reason to stop
    replace: bool = False  # the user takes over a name another workflow deployed

    @property
    def counts(self) -> dict[str, int]:
        """How many resources each action touches."""
        return {a: sum(1 for v in self.actions.values() if v == a) for a in ACTIONS}

    def require(self) -> None:
        """Raise YunpipeError naming every problem, if there is one."""
        if self.problems:
            raise YunpipeError("\n".join(self.problems))


def load(source: str | Path | Workflow, catalog: Catalog) -> Workflow:
    """The validated workflow (a Workflow passes through unchanged); raises InputError."""
    if isinstance(source, Workflow):
        return source
    return load_workflow(source, catalog)


def prepare(
    source: str | Path | Workflow,
    ctx: AwsContext,
    catalog: Catalog,
    *,
    with_actions: bool = True,
    code: Callable[[], bytes] | None = None,
    replace: bool = False,
) -> Prepared:
    """Load, read the account, plan, check, and (unless `with_actions=False`) work out what a
    deploy would create, update or keep. Read-only.

    The account's pipeline registry is read too: a name another workflow deployed (unless
    `replace`) and a bucket loop are problems; a shared input bucket is a warning. The deploy
    checks again under the pipeline's lock (`guarded.deploy_plan`)."""
    workflow = load(source, catalog)
    ctx = preflight.region_context(ctx, workflow)
    algorithms = algorithms_for(workflow, catalog)
    gpu = any(a.gpu for a in algorithms.values())
    facts = preflight.account_facts(ctx, workflow, gpu=gpu)
    plan = build_plan(workflow, algorithms, facts)
    problems = preflight.check(ctx, workflow, plan)
    verdict = judge(ctx, plan, replace)
    problems += verdict.problems
    actions = Engine(ctx, code=code).diff(plan) if with_actions else {}
    return Prepared(workflow, ctx, facts, plan, problems, actions, verdict.warnings, replace)
