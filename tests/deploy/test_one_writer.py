"""Issue 11, items 3 and 4 against moto: one writer per pipeline, a pipeline name belongs to the
workflow that deployed it, bucket loops are refused, notifications on a shared bucket survive
concurrent writers."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import plan_for, snapshot, write_workflow
from yunpipe_tui import resource_names as names
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import OwnershipRefused, bucket_config, deploy, guarded, journal
from yunpipe_tui.deploy.prepare import prepare
from yunpipe_tui.deploy.teardown import teardown
from yunpipe_tui.state import registry
from yunpipe_tui.state.lock import LockBusy, pipeline_lock

NO_SLEEP = {"sleep": lambda s: None}


def _entries(ctx: Any, bucket: str) -> dict[str, str]:
    got = ctx.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    return {e["Id"]: e["LambdaFunctionArn"] for e in got.get("LambdaFunctionConfigurations", [])}


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def _deploy(ctx: Any, path: Path, catalog: Catalog, code: Any, **kw: Any) -> Any:
    return deploy(plan_for(ctx, path, catalog), ctx, code=code, **NO_SLEEP, **kw)


# --------------------------------------------------------------------------- ownership


def test_a_name_reused_by_another_workflow_is_refused_and_replace_moves_the_notification(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    team_a = write_workflow(_folder(tmp_path, "a"), input_s3_name="team-a-in")
    _deploy(ctx, team_a, catalog, code)
    assert "yunpipe-demo-s1" in _entries(ctx, "team-a-in")
    team_b = write_workflow(_folder(tmp_path, "b"), input_s3_name="team-b-in")

    # the refusal is a problem of the prepare step (CLI, wizard and sandbox show it) ...
    prepared = prepare(team_b, ctx, catalog, with_actions=False)
    refusal = [p for p in prepared.problems if "already deployed from another workflow" in p]
    assert refusal and "input bucket team-a-in" in refusal[0] and "deployed 20" in refusal[0]
    assert "--replace" in refusal[0]
    # ... and the deploy itself refuses it under the lock, changing nothing
    before = snapshot(ctx)
    with pytest.raises(OwnershipRefused, match="input bucket team-a-in"):
        _deploy(ctx, team_b, catalog, code)
    assert snapshot(ctx) == before

    result = _deploy(ctx, team_b, catalog, code, replace=True)
    assert "yunpipe-demo-s1" not in _entries(ctx, "team-a-in")  # A's uploads go nowhere of B's
    assert "yunpipe-demo-s1" in _entries(ctx, "team-b-in")
    assert any("moved off bucket team-a-in" in w for w in result.warnings)
    record = registry.read(ctx, "demo")
    assert record is not None and record.input_bucket == "team-b-in"
    assert record.workflow_id == registry.workflow_id(team_b, "demo")


def test_same_workflow_with_a_new_input_bucket_moves_the_notification(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    path = write_workflow(tmp_path, input_s3_name="old-in")
    _deploy(ctx, path, catalog, code)
    write_workflow(tmp_path, input_s3_name="new-in")  # the same file, edited
    _deploy(ctx, path, catalog, code)
    assert _entries(ctx, "old-in") == {}
    assert "yunpipe-demo-s1" in _entries(ctx, "new-in")
    teardown("demo", ctx)
    assert _entries(ctx, "new-in") == {} and registry.read(ctx, "demo") is None


@pytest.mark.parametrize("length", [2, 3])
def test_a_deploy_closing_a_bucket_loop_is_refused_naming_it(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any, length: int
) -> None:
    ctx = prereqs
    buckets = [f"loop-{i}" for i in range(length)]
    for i in range(length - 1):
        path = write_workflow(
            _folder(tmp_path, f"p{i}"),
            name=f"p{i}",
            input_s3_name=buckets[i],
            output_s3_name=buckets[i + 1],
        )
        _deploy(ctx, path, catalog, code)
    closing = write_workflow(
        _folder(tmp_path, "closing"),
        name="closing",
        input_s3_name=buckets[-1],
        output_s3_name=buckets[0],
    )
    prepared = prepare(closing, ctx, catalog, with_actions=False)
    assert any("would close a loop" in p and "[closing]" in p for p in prepared.problems)
    with pytest.raises(OwnershipRefused, match=r"loop-0 → \[p0\] → loop-1") as refused:
        _deploy(ctx, closing, catalog, code)
    assert str(refused.value).count("→") == 2 * length
    assert journal.load("closing") is None  # nothing was started


def test_an_input_bucket_feeding_another_pipeline_is_a_warning(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    first = write_workflow(_folder(tmp_path, "a"), name="first", input_s3_name="shared-in")
    _deploy(ctx, first, catalog, code)
    second = write_workflow(_folder(tmp_path, "b"), name="second", input_s3_name="shared-in")
    assert any(
        "already feeds pipeline(s) first" in w
        for w in prepare(second, ctx, catalog, with_actions=False).warnings
    )
    result = _deploy(ctx, second, catalog, code)
    assert any("already feeds pipeline(s) first" in w for w in result.warnings)
    assert set(_entries(ctx, "shared-in")) == {"yunpipe-first-s1", "yunpipe-second-s1"}


# --------------------------------------------------------------------------- notifications


def test_a_lost_notification_update_is_detected_and_redone(aws: Any) -> None:
    """A concurrent writer that read the old configuration overwrites ours right after we
    wrote it: the check after writing sees our entry gone and writes again."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="shared")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f-{}"
    theirs = {"Id": "theirs", "LambdaFunctionArn": arn.format(2), "Events": ["s3:ObjectCreated:*"]}
    raced = {"n": 0}

    def put(config: dict[str, Any]) -> None:
        s3.put_bucket_notification_configuration(Bucket="shared", NotificationConfiguration=config)
        if raced["n"] == 0:  # the other writer's put, made from the configuration before ours
            raced["n"] += 1
            s3.put_bucket_notification_configuration(
                Bucket="shared",
                NotificationConfiguration={"LambdaFunctionConfigurations": [theirs]},
            )

    mine = {"LambdaFunctionArn": arn.format(1), "Events": ["s3:ObjectCreated:*"]}
    sleeps: list[float] = []
    assert bucket_config.set_entry(aws, "shared", "mine", mine, sleep=sleeps.append, put=put)
    assert set(_entries(aws, "shared")) == {"mine", "theirs"}
    assert len(sleeps) == 3  # settle, backoff, settle

    # removing ours keeps theirs; a writer that keeps losing gives up with one clear line
    assert bucket_config.set_entry(aws, "shared", "mine", None, sleep=lambda s: None)
    assert set(_entries(aws, "shared")) == {"theirs"}

    def always_lost(config: dict[str, Any]) -> None:
        s3.put_bucket_notification_configuration(
            Bucket="shared", NotificationConfiguration={"LambdaFunctionConfigurations": [theirs]}
        )

    with pytest.raises(bucket_config.LostUpdate, match=r"bucket shared: .* changed under us"):
        bucket_config.set_entry(aws, "shared", "mine", mine, sleep=lambda s: None, put=always_lost)


def test_two_pipelines_deployed_together_on_one_bucket_both_keep_their_notification(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    plans = [
        plan_for(
            ctx, write_workflow(_folder(tmp_path, n), name=n, input_s3_name="both-in"), catalog
        )
        for n in ("one", "two", "three")
    ]
    ctx.client("s3").create_bucket(Bucket="both-in")
    start = threading.Barrier(len(plans))
    errors: list[BaseException] = []

    def run(plan: Any) -> None:
        start.wait()
        try:
            deploy(plan, ctx, code=code, **NO_SLEEP)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert set(_entries(ctx, "both-in")) == {f"yunpipe-{n}-s1" for n in ("one", "two", "three")}


# --------------------------------------------------------------------------- the lock


def _active_revisions(ctx: Any, family: str) -> list[str]:
    ecs = ctx.client("ecs")
    return ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]


@pytest.mark.parametrize("wait", [0.0, 60.0])
def test_three_simultaneous_deploys_of_one_workflow_leave_one_active_revision_per_step(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any, wait: float
) -> None:
    ctx = prereqs
    path = write_workflow(tmp_path, sequence=True)
    plans = [plan_for(ctx, path, catalog) for _ in range(3)]
    start = threading.Barrier(3)
    outcomes: list[BaseException | None] = []

    def run(plan: Any) -> None:
        start.wait()
        try:
            deploy(plan, ctx, code=code, wait=wait, **NO_SLEEP)
            outcomes.append(None)
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    busy = [o for o in outcomes if isinstance(o, LockBusy)]
    assert [o for o in outcomes if o is not None and not isinstance(o, LockBusy)] == []
    if wait:
        assert busy == []  # the others waited, then found everything current
    else:
        assert len(busy) == 2  # the others stopped at once, saying who deploys
        assert all("pipeline demo is being deployed by" in str(b) for b in busy)
        assert all("wait or retry later" in str(b) for b in busy)
    for step in plans[0].steps:
        assert len(_active_revisions(ctx, step.task_family)) == 1, step.task_family
    assert journal.load("demo") is not None and journal.load("demo").status == journal.DEPLOYED


def test_deploy_and_teardown_started_together_end_fully_there_or_fully_gone(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    baseline = snapshot(ctx)
    path = write_workflow(tmp_path, sequence=True)
    plan = plan_for(ctx, path, catalog)
    deploy(plan, ctx, code=code, **NO_SLEEP)
    deployed = snapshot(ctx)
    teardown("demo", ctx)
    gone = snapshot(ctx)
    assert {k: v for k, v in gone.items() if k not in ("buckets", "objects", "notifications")} == {
        k: v for k, v in baseline.items() if k not in ("buckets", "objects", "notifications")
    }

    for first in ("deploy", "teardown"):
        _race(ctx, plan, code, first)
        now = snapshot(ctx)
        names_of = {k: v for k, v in now.items() if k != "task_definitions"}
        there = {k: v for k, v in deployed.items() if k != "task_definitions"}
        fully_there = names_of == there
        fully_gone = names_of == {k: v for k, v in gone.items() if k != "task_definitions"}
        assert fully_there or fully_gone, first
        if first == "deploy":
            assert fully_gone  # the teardown waited for the deploy, then removed all of it
        if fully_gone:
            assert registry.read(ctx, "demo") is None
        else:
            teardown("demo", ctx)


def _race(ctx: Any, plan: Any, code: Any, first: str) -> None:
    """Start a deploy and a teardown of one pipeline; `first` starts a moment earlier (the
    deploy: once it has begun writing its journal, so it is under way)."""
    entered = threading.Event()
    real_begin = journal.Journal.begin
    errors: list[BaseException] = []

    def begin(self: Any, p: Any) -> None:
        real_begin(self, p)
        entered.set()

    def run_deploy() -> None:
        try:
            deploy(plan, ctx, code=code, **NO_SLEEP)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def run_teardown() -> None:
        try:
            teardown("demo", ctx)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    journal.Journal.begin = begin  # type: ignore[method-assign]
    try:
        a = threading.Thread(target=run_deploy if first == "deploy" else run_teardown)
        b = threading.Thread(target=run_teardown if first == "deploy" else run_deploy)
        a.start()
        if first == "deploy":
            assert entered.wait(60)  # the deploy is under way, holding the lock
        b.start()
        a.join(180)
        b.join(180)
    finally:
        journal.Journal.begin = real_begin  # type: ignore[method-assign]
    assert errors == []


def test_a_held_lock_stops_teardown_with_the_holders_name(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    _deploy(ctx, write_workflow(tmp_path), catalog, code)
    record = journal.load("demo")
    assert record is not None
    busy = r"pipeline demo is being deployed by .* \(on this machine\); wait or retry later"
    with pipeline_lock(ctx, "demo", "deploy", target=record.target):  # noqa: SIM117
        with pytest.raises(LockBusy, match=busy):
            guarded.locked_teardown(ctx, record, lambda: None, wait=0)
    assert registry.read(ctx, "demo") is not None
    marker = ctx.client("ssm").get_parameters_by_path(Path="/yunpipe/locks")["Parameters"]
    assert marker == []  # released


def test_registry_record_lists_the_bucket_chain(
    prereqs: Any, tmp_path: Path, catalog: Catalog, code: Any
) -> None:
    ctx = prereqs
    plan, _ = plan_for(ctx, write_workflow(tmp_path, sequence=True), catalog), None
    deploy(plan, ctx, code=code, **NO_SLEEP)
    record = registry.read(ctx, "demo")
    middle = names.intermediate_bucket("demo", "s1", "123456789012")
    assert record is not None
    assert record.buckets == ("demo-input-bucket", middle, "demo-output-bucket")
    assert json.loads(json.dumps(record.to_json()))["steps"] == ["change123-s3", "second-alg"]
