"""The deploy engine's cancel hook (added for the Deploy screen's safe cancel): work in flight
finishes, nothing new starts, the journal stays consistent and rollback removes what was made."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import plan_for
from yunpipe_tui import deploy
from yunpipe_tui.deploy import events as ev
from yunpipe_tui.deploy import journal
from yunpipe_tui.deploy import teardown as td


def test_cancel_after_the_first_resource(
    prereqs: Any, catalog: Any, code: Any, workflow_file: Path
):
    plan = plan_for(prereqs, workflow_file, catalog)
    cancel = threading.Event()

    def sink(event: ev.Event) -> None:
        recorder(event)
        if event.status in (ev.DONE, ev.KEPT):
            cancel.set()  # as if the user pressed cancel while the first resource was running

    recorder = ev.Recorder()
    with pytest.raises(deploy.DeployCancelled) as exc:
        deploy.deploy(plan, prereqs, sink, cancel=cancel, max_workers=1, code=code)
    final = recorder.final()
    done = [k for k, e in final.items() if e.status in (ev.DONE, ev.KEPT)]
    skipped = [k for k, e in final.items() if e.status == ev.SKIPPED]
    assert len(done) == 1 and len(skipped) == len(plan.resources) - 1
    assert all(final[k].message == "cancelled" for k in skipped)
    assert sorted(exc.value.skipped) == sorted(skipped)
    assert exc.value.created == done
    record = journal.load(plan.pipeline)
    assert record is not None and record.status == journal.FAILED
    assert record.data["error"] == "cancelled by the user"
    # Every started resource has its result: no intent left dangling.
    assert not [k for k, v in record.resources.items() if v.get("status") == journal.INTENT]
    # Rollback removes what this run created; a new deploy converges afterwards.
    td.rollback(plan.pipeline, exc.value.created, prereqs)
    result = deploy.deploy(plan, prereqs, code=code)
    assert set(result.actions) == {r.key for r in plan.resources}


def test_no_cancel_means_no_change(prereqs: Any, catalog: Any, code: Any, workflow_file: Path):
    plan = plan_for(prereqs, workflow_file, catalog)
    result = deploy.deploy(plan, prereqs, cancel=threading.Event(), code=code)
    assert result.count("create") == len(plan.resources) - result.count("keep")
    assert journal.load(plan.pipeline).status == journal.DEPLOYED
