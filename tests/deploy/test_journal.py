"""The journal's read API used by other modules: listing, most recent, a record's contents."""

from __future__ import annotations

from pathlib import Path

from tests.deploy.helpers import pure_plan as _plan
from yunpipe_tui.catalog import Catalog
from yunpipe_tui.deploy import journal


def test_journal_listing_and_most_recent(tmp_path: Path, catalog: Catalog) -> None:
    assert journal.list_pipelines() == [] and journal.most_recent() is None
    for name in ("first", "second"):
        j = journal.Journal.open(name)
        j.begin(_plan(tmp_path, catalog, name))
        j.set_status(journal.DEPLOYED)
    assert [r.pipeline for r in journal.list_pipelines()] == ["second", "first"]
    assert journal.most_recent().pipeline == "second"
    j = journal.Journal.open("second")
    j.set_status(journal.TORN_DOWN)
    assert journal.most_recent().pipeline == "first"
    record = journal.load("first")
    assert record.step_ids == ("s1",) and record.cluster == "yunpipe-first"
    assert record.workflow["process"]["algorithms"][0]["variables"] == {"TEST_ENV": "***"}
    assert journal.path_for("first").stat().st_mode & 0o077 == 0  # private to the user
    assert journal.load("nope") is None
