"""What the two Lambda-permission kinds share (`s3_permission`, `schedule_permission`): one
statement in a dispatcher's resource policy, found by its statement id. Not a kind itself."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar

from yunpipe_tui.aws import AwsContext, error_code
from yunpipe_tui.deploy.kinds.base import (
    CURRENT,
    GONE_MARK,
    MISSING,
    STALE,
    Kind,
    Ops,
    Scope,
    removed,
    unless_gone,
)
from yunpipe_tui.deploy.model import Resource


def _statement(ops: Ops, function: str, sid: str) -> dict[str, Any] | None:
    try:
        policy = ops.ctx.client("lambda").get_policy(FunctionName=function)["Policy"]
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    for statement in json.loads(policy).get("Statement", []):
        if statement.get("Sid") == sid:
            return dict(statement)
    return None


class LambdaPermission(Kind):
    """A principal (`s3.amazonaws.com`, `events.amazonaws.com`) allowed to invoke a dispatcher,
    only from its source ARN and account. Not taggable: found through its tagged parent, the
    dispatcher (and removed with it)."""

    statement_id: ClassVar[str] = ""

    def inspect(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        statement = _statement(ops, cfg["function"], cfg["statement_id"])
        if statement is None:
            return MISSING, {}
        text = json.dumps(statement)
        same = (
            cfg["source_arn"] in text and cfg["source_account"] in text and cfg["principal"] in text
        )
        return (CURRENT if same else STALE), {"sid": cfg["statement_id"]}

    def create(self, ops: Ops, r: Resource, cfg: Mapping[str, Any]) -> dict[str, Any]:
        try:
            ops.ctx.client("lambda").add_permission(
                FunctionName=cfg["function"],
                StatementId=cfg["statement_id"],
                Action="lambda:InvokeFunction",
                Principal=cfg["principal"],
                SourceArn=cfg["source_arn"],
                SourceAccount=cfg["source_account"],
            )
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException":
                raise
            return self.update(ops, r, cfg)
        return {"sid": cfg["statement_id"]}

    def update(
        self,
        ops: Ops,
        r: Resource,
        cfg: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        lam = ops.ctx.client("lambda")
        try:
            lam.remove_permission(FunctionName=cfg["function"], StatementId=cfg["statement_id"])
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        return self.create(ops, r, cfg)

    def delete(self, ctx: AwsContext, name: str, params: Mapping[str, Any]) -> bool:
        return removed(
            lambda: ctx.client("lambda").remove_permission(
                FunctionName=params["function"], StatementId=params["statement_id"]
            )
        )

    def leftovers(self, scope: Scope) -> list[str]:
        """This kind's statement on each of the pipeline's dispatchers that still exist."""
        from yunpipe_tui.deploy.kinds.dispatcher import Dispatcher

        lam = scope.ctx.client("lambda")
        found: list[str] = []
        for function in Dispatcher().functions(scope):
            got = unless_gone(partial(lam.get_policy, FunctionName=function))
            if got is GONE_MARK:
                continue
            statements = json.loads(got.get("Policy") or "{}").get("Statement", [])
            found += [
                f"permission {function}/{st['Sid']}"
                for st in statements
                if st.get("Sid") == self.statement_id
            ]
        return found
