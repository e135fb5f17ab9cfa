"""Long paths keep their end (issue 14, point 7)."""

from __future__ import annotations

from yunpipe_tui.path_display import tail_path


def test_short_paths_are_whole() -> None:
    assert tail_path("demo/work-flow.json", 40) == "demo/work-flow.json"


def test_long_paths_keep_their_last_parts() -> None:
    path = "/tmp/yunpipe-sandbox-2iyntomo/home/demo/work-flow.json"
    assert tail_path(path, 24) == "…/demo/work-flow.json"
    assert tail_path(path, 30) == "…/home/demo/work-flow.json"
    assert len(tail_path(path, 12)) == 12 and tail_path(path, 12).endswith("flow.json")
