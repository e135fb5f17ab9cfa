"""The journal as a guide that never misleads: damaged files, targets, interrupted runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from yunpipe_tui import locations
from yunpipe_tui.deploy import journal
from yunpipe_tui.state import process
from yunpipe_tui.state.target import Target


def _good(pipeline: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": journal.VERSION,
        "pipeline": pipeline,
        "status": journal.DEPLOYED,
        "account_id": "123456789012",
        "region": "us-east-1",
        "resources": {"s1/queue": {"status": "created", "kind": "queue", "name": "q"}},
        "steps": [{"id": "s1", "algorithm": "a", "memory": 512}],
        "order": ["s1/queue"],
        "runs": [{"started_at": "x", "created": ["s1/queue"]}],
        "updated_ts": 1.0,
    }
    data.update(extra)
    return data


def _write(name: str, content: str | bytes | dict[str, Any] | list[Any]) -> Path:
    folder = locations.journal_dir(ensure=True)
    path = folder / f"{name}.json"
    if isinstance(content, dict | list):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def _scan_with_timeout(**kwargs: Any) -> journal.Listing:
    """Listing in a thread so that a hang fails the test instead of blocking the run."""
    out: list[journal.Listing] = []
    worker = threading.Thread(target=lambda: out.append(journal.scan(**kwargs)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "listing the journals hung"
    return out[0]


DAMAGED = {
    "truncated": (b'{"pipeline": "truncated", "status": "depl', "not JSON"),
    "garbage": (b"\x8f\xff garbage \x00", "not UTF-8"),
    "empty": (b"", "empty"),
    "a-list": (b"[1, 2, 3]", "a list, not an object"),
    "no-name": (b'{"status": "deployed"}', "no pipeline name"),
    "other-name": (json.dumps(_good("someone-else")).encode(), "not its file's"),
    "resources-list": (json.dumps(_good("resources-list", resources=[])).encode(), "resources"),
    "entry-string": (
        json.dumps(_good("entry-string", resources={"k": "created"})).encode(),
        "resource 'k'",
    ),
    "status-number": (json.dumps(_good("status-number", status=3)).encode(), "status"),
    "steps-no-id": (json.dumps(_good("steps-no-id", steps=[{"x": 1}])).encode(), "step 1"),
    "ts-string": (json.dumps(_good("ts-string", updated_ts="soon")).encode(), "updated_ts"),
    "runs-bad": (json.dumps(_good("runs-bad", runs=[{"created": 5}])).encode(), "runs"),
    "deep": (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
}


def test_every_kind_of_damaged_journal_gives_one_line_and_the_good_ones_load() -> None:
    _write("fine", _good("fine"))
    for name, (content, _) in DAMAGED.items():
        _write(name, content)
    listing = _scan_with_timeout()
    assert [r.pipeline for r in listing.records] == ["fine"]
    assert len(listing.warnings) == len(DAMAGED)
    for name, (_, reason) in DAMAGED.items():
        (line,) = [w for w in listing.warnings if f"{name}.json" in w]
        assert reason in line, line
        assert "yunpipe looks at the account instead" in line
        assert "\n" not in line
    # the old API keeps working and never raises
    assert [r.pipeline for r in journal.list_pipelines()] == ["fine"]
    assert journal.load("truncated") is None
    record, warning = journal.load_checked("a-list")
    assert record is None and "a-list.json is damaged" in warning
    assert journal.load_checked("absent") == (None, "")


def test_a_damaged_record_never_reaches_the_readers_that_crashed_on_it() -> None:
    """Valid JSON of the wrong shape used to raise AttributeError/KeyError in status."""
    _write("x", _good("x", steps=[{"id": "s1", "queue": {"not": "a string"}}]))
    assert journal.load("x") is None
    assert journal.most_recent() is None


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder", "symlink", "unreadable"])
def test_non_regular_or_unreadable_journal_is_skipped_without_hanging(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write("fine", _good("fine"))
    folder = locations.journal_dir()
    path = folder / "odd.json"
    sock = None
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
    elif kind == "folder":
        path.mkdir()
    elif kind == "symlink":
        target = tmp_path / "elsewhere.json"
        target.write_text(json.dumps(_good("odd")))
        path.symlink_to(target)
    else:
        path.write_text(json.dumps(_good("odd")))
        path.chmod(0)
        if os.access(path, os.R_OK):  # root reads anything: refuse the open as the kernel would
            real_open = os.open

            def refusing_open(name: Any, *args: Any, **kwargs: Any) -> int:
                if str(name).endswith("odd.json"):
                    raise PermissionError(13, "Permission denied")
                return real_open(name, *args, **kwargs)

            monkeypatch.setattr(os, "open", refusing_open)
    try:
        listing = _scan_with_timeout()
        out: list[Any] = []
        worker = threading.Thread(target=lambda: out.append(journal.load_checked("odd")))
        worker.daemon = True
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), "loading the journal hung"
    finally:
        if sock is not None:
            sock.close()
    assert [r.pipeline for r in listing.records] == ["fine"]
    (line,) = listing.warnings
    assert "odd.json is damaged" in line
    expected = {
        "fifo": "a FIFO",
        "socket": "a socket",
        "folder": "a folder",
        "symlink": "symbolic link",
        "unreadable": "unreadable",
    }[kind]
    assert expected in line
    assert out[0][0] is None and expected in out[0][1]


def test_opening_a_damaged_journal_for_writing_moves_it_aside() -> None:
    path = _write("demo", b"{ garbage")
    writer = journal.Journal.open("demo")
    assert "demo.json is damaged" in writer.warning
    assert "kept as demo.json.damaged-" in writer.warning
    assert not path.exists()
    aside = list(path.parent.glob("demo.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"{ garbage"
    writer.save()
    assert journal.load("demo") is not None


def test_opening_a_journal_that_is_a_folder_still_lets_the_deploy_save() -> None:
    path = locations.journal_dir(ensure=True) / "demo.json"
    path.mkdir()
    writer = journal.Journal.open("demo")
    assert "a folder" in writer.warning
    writer.save()
    assert journal.load("demo") is not None


def test_old_journal_without_the_new_fields_still_loads() -> None:
    _write("old", _good("old"))
    record = journal.load("old")
    assert record is not None
    assert record.endpoint == "" and record.status == journal.DEPLOYED
    assert record.target == Target("123456789012", "us-east-1", "")


# --------------------------------------------------------------------------- target


def test_record_target_and_belongs_to() -> None:
    writer = journal.Journal("p")
    writer.record_target("111111111111", "eu-west-1", "HTTP://127.0.0.1:5000/")
    record = journal.load("p")
    assert record is not None and record.endpoint == "http://127.0.0.1:5000"
    assert journal.belongs_to(record, "111111111111", "eu-west-1", "http://127.0.0.1:5000")
    assert journal.belongs_to(record, "111111111111", None, "http://127.0.0.1:5000/")
    assert not journal.belongs_to(record, "111111111111", "eu-west-1", "")  # real AWS
    assert not journal.belongs_to(record, "222222222222", "eu-west-1", "http://127.0.0.1:5000")
    assert not journal.belongs_to(record, "111111111111", "us-east-1", "http://127.0.0.1:5000")


def test_a_record_without_an_account_belongs_nowhere() -> None:
    _write("bare", _good("bare", account_id=""))
    record = journal.load("bare")
    assert record is not None and not journal.belongs_to(record, "", None, "")


def test_scan_with_a_target_separates_records_of_elsewhere() -> None:
    _write("real", _good("real", account_id="111111111111"))
    _write("sandbox", _good("sandbox", endpoint_url="http://127.0.0.1:4566"))
    listing = journal.scan(target=Target("111111111111", "us-east-1", ""))
    assert [r.pipeline for r in listing.records] == ["real"]
    assert [r.pipeline for r in listing.elsewhere] == ["sandbox"]
    here = Target("123456789012", "us-east-1", "http://127.0.0.1:4566/")
    assert journal.most_recent(here).pipeline == "sandbox"  # type: ignore[union-attr]


def test_begin_records_the_plans_endpoint() -> None:
    class Facts:
        region, account_id, endpoint_url = "us-east-1", "123456789012", "http://127.0.0.1:9/"

    class Workflow:
        def to_json(self) -> dict[str, Any]:
            return {"process": {"algorithms": []}}

    class Plan:
        facts, cluster, log_group = Facts(), "c", "/yunpipe/p"
        workflow, steps, resources = Workflow(), (), ()

    writer = journal.Journal("p")
    writer.begin(Plan())
    record = journal.load("p")
    assert record is not None and record.endpoint == "http://127.0.0.1:9"
    assert record.data["writer"]["pid"] == os.getpid()


# --------------------------------------------------------------------------- interrupted


def _dead_writer() -> dict[str, Any]:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from yunpipe_tui.state import process; "
            "print(json.dumps(process.current_writer()))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(child.stdout)


@pytest.mark.parametrize("status", [journal.DEPLOYING, journal.TEARING_DOWN])
def test_a_run_whose_process_is_gone_reads_as_interrupted(status: str) -> None:
    writer = _dead_writer()
    assert process.is_alive(writer) is False
    _write("p", _good("p", status=status, writer=writer))
    record = journal.load("p")
    assert record is not None
    assert record.recorded_status == status and record.status == journal.INTERRUPTED
    assert journal.list_pipelines()[0].status == journal.INTERRUPTED


def test_a_reused_pid_with_another_start_time_is_not_the_writer() -> None:
    me = process.current_writer()
    if not me["start"]:
        pytest.skip("no /proc start times on this system")
    _write("p", _good("p", status=journal.DEPLOYING, writer={**me, "start": "other:1"}))
    assert journal.load("p").status == journal.INTERRUPTED  # type: ignore[union-attr]


def test_a_live_writer_or_another_host_keeps_the_status() -> None:
    _write("live", _good("live", status=journal.DEPLOYING, writer=process.current_writer()))
    remote = {**_dead_writer(), "host": "another-machine"}
    _write("remote", _good("remote", status=journal.DEPLOYING, writer=remote))
    _write("old", _good("old", status=journal.DEPLOYING))
    for name in ("live", "remote", "old"):
        assert journal.load(name).status == journal.DEPLOYING  # type: ignore[union-attr]


def test_the_writer_is_recorded_while_a_run_is_active() -> None:
    writer = journal.Journal("p")
    writer.save()
    assert writer.data["writer"]["pid"] == os.getpid()
    writer.data["status"] = journal.TEARING_DOWN  # teardown sets the status this way
    writer.save()
    assert journal.load("p").status == journal.TEARING_DOWN  # type: ignore[union-attr]


def test_mark_interrupted_lists_what_exists_and_the_two_ways_on() -> None:
    writer = journal.Journal("p")
    writer.data["runs"].append({"started_at": "x", "created": []})
    writer.mark_interrupted(["queue yunpipe-p-s1-queue", "bucket in-b"])
    record = journal.load("p")
    assert record is not None and record.status == journal.INTERRUPTED
    assert record.recorded_status == journal.INTERRUPTED
    assert record.data["runs"][-1]["status"] == journal.INTERRUPTED
    message = journal.interrupted_message(record, "wf.json")
    assert "queue yunpipe-p-s1-queue, bucket in-b" in message
    assert "`yunpipe deploy -f wf.json`" in message and "`yunpipe teardown p`" in message
