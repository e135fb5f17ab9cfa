"""Does a monitor poll stay the same with 100,000 files in the ledger? And `files --state failed`?

Runs the sandbox's emulator (moto's ThreadedMotoServer) in a child process, creates a two-step
pipeline's queues and cluster and its file ledger exactly as the ledger contract says (table,
by-state and by-key indexes, `#counts` counter items), then:
  1. with 10 files: times steady-state monitor polls and counts their API calls;
  2. fills the ledger to --items items with BatchWriteItem (25 a call): done files across both
     steps and 1% failed at step 1, the counters set to match;
  3. the same polls again (calls must be equal: the ledger costs ONE Query per poll), and
     `yunpipe files --state failed` (the by-state index, then the failed files' other steps).

Goals: the same number of calls per poll at 10 and at 100,000 files, at most 2 × steps + 5;
poll time and `files --state failed` time are reported.

    python benchmarks/ledger_poll.py [--items 100000] [--polls 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from _common import result
from monitor_poll import _free_port, _serve

STEPS = ("s1", "s2")


def main() -> None:
    import multiprocessing

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--polls", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    from yunpipe_tui.aws import AwsContext, CallCounter

    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    port = _free_port()
    server = multiprocessing.Process(target=_serve, args=(port, ready, stop), daemon=True)
    server.start()
    if not ready.wait(30):
        raise SystemExit("moto server did not start")
    try:
        ctx = AwsContext(
            region="us-east-1", endpoint_url=f"http://127.0.0.1:{port}", counter=CallCounter()
        )
        run(ctx, args.items, args.polls)
    finally:
        stop.set()
        server.join(10)


def run(ctx: Any, items: int, polls: int) -> None:
    from tests.files.helpers import create_ledger, put_items, step_item
    from tests.monitor.helpers import build_pipeline
    from yunpipe_tui import ledger
    from yunpipe_tui.monitor import Monitor

    pipeline = "demo"
    built = build_pipeline(ctx, pipeline=pipeline, steps=len(STEPS))
    create_ledger(ctx, pipeline)
    put_items(
        ctx, pipeline, [step_item(pipeline, f"small-{i}.txt", "s1", "done") for i in range(10)]
    )
    budget = 2 * len(STEPS) + 5
    with Monitor(ctx, built.target) as mon:
        small_s, small_calls = _polls(mon, ctx, polls)
        failed_small = _time_failed(ctx, pipeline)
        started = time.perf_counter()
        written = _fill(ctx, pipeline, items - 10)
        fill_s = time.perf_counter() - started
        print(f"filled {written + 10} items in {fill_s:.1f}s", flush=True)
        big_s, big_calls = _polls(mon, ctx, polls)
        failed_big = _time_failed(ctx, pipeline)
    counts = ledger.counts(ctx, pipeline)
    print(f"counts: {counts}")
    print(
        f"10 items: poll {small_s * 1000:.1f} ms, {small_calls} calls; "
        f"files --state failed {failed_small[0] * 1000:.1f} ms ({failed_small[1]} files)"
    )
    print(
        f"{items} items: poll {big_s * 1000:.1f} ms, {big_calls} calls; "
        f"files --state failed {failed_big[0]:.2f} s ({failed_big[1]} files)"
    )
    result(
        "ledger_poll_calls_10_files",
        small_calls,
        "calls",
        f"<={budget}",
        small_calls / budget,
        small_calls <= budget,
    )
    result(
        "ledger_poll_calls_100k_items",
        big_calls,
        "calls",
        f"=={small_calls}",
        big_calls / small_calls,
        big_calls == small_calls,
    )
    result("ledger_poll_time_10_files", small_s, "s", "reported", None, None)
    result("ledger_poll_time_100k_items", big_s, "s", "reported", None, None)
    result("files_state_failed_time_100k_items", failed_big[0], "s", "reported", None, None)


def _polls(mon: Any, ctx: Any, polls: int) -> tuple[float, int]:
    mon.poll()  # warm caches (queue URLs, recently stopped tasks)
    times, calls = [], []
    for _ in range(polls):
        ctx.counter.reset()
        snap = mon.poll()
        if snap.errors:
            raise SystemExit(f"poll failed: {snap.errors}")
        times.append(snap.elapsed_s)
        calls.append(ctx.counter.total)
    return statistics.median(times), max(calls)


def _time_failed(ctx: Any, pipeline: str) -> tuple[float, int]:
    from yunpipe_tui import ledger

    started = time.perf_counter()
    found = sum(1 for _ in ledger.files(ctx, pipeline, state="failed", steps=list(STEPS)))
    return time.perf_counter() - started, found


def _fill(ctx: Any, pipeline: str, items: int) -> int:
    """Done files across both steps and 1% failed at step 1, written 25 items a call; the
    counters set once to match (as the writers' transactions would have left them)."""
    from boto3.dynamodb.types import TypeSerializer

    from tests.files.helpers import step_item
    from yunpipe_tui import resource_names as names

    ser = TypeSerializer()
    ddb = ctx.client("dynamodb")
    table = names.ledger_table(pipeline)
    totals = {s: {"queued": 0, "running": 0, "done": 0, "failed": 0} for s in STEPS}
    batch: list[dict[str, Any]] = []
    written = 0
    i = 0

    def flush() -> None:
        request: dict[str, Any] = {table: batch[:]}
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        batch.clear()

    while written < items:
        key = f"bulk/{i:06d}.txt"
        failed = i % 100 == 0
        chosen = [("s1", "failed")] if failed else [("s1", "done"), ("s2", "done")]
        for step, state in chosen:
            if written >= items:
                break
            item = step_item(pipeline, key, step, state, error="exit 4" if failed else None)
            item["instance_seconds"] = None
            item = {k: v for k, v in item.items() if v is not None}
            batch.append({"PutRequest": {"Item": {k: ser.serialize(v) for k, v in item.items()}}})
            totals[step][state] += 1
            written += 1
            if len(batch) == 25:
                flush()
        i += 1
    if batch:
        flush()
    for step, per_state in totals.items():
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "#counts"}, "sk": {"S": step}},
            UpdateExpression="ADD " + ", ".join(f"#{s} :{s}" for s in per_state),
            ExpressionAttributeNames={f"#{s}": s for s in per_state},
            ExpressionAttributeValues={f":{s}": {"N": str(n)} for s, n in per_state.items()},
        )
    return written


if __name__ == "__main__":
    main()
