"""100 small files through a three-step pipeline in the local sandbox: files per second and the
per-file latency (upload → final result in the output bucket), median and p95, for a burst of
100 uploads; and first, the latency of one file alone through the cold pipeline.

Everything real but AWS: yunpipe's deploy engine, the dispatcher run from its zip, the container
runner as local processes, the algorithms (`python3 -m yunpipe_tui.sandbox.transform`) on the
host; moto stands in for AWS with the sandbox's test timings (Timings.fast()). The figures
measure the sandbox and this machine, not AWS: a task start here is a local process start.

    python benchmarks/sandbox_throughput.py [--files N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import result

STEPS = (("bench-upper", "upper"), ("bench-reverse", "reverse"), ("bench-number", "number"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--workdir", help="keep the sandbox's folder (logs) here")
    args = parser.parse_args(argv)

    import os

    home = tempfile.mkdtemp(prefix="yunpipe-bench-")
    os.environ["YUNPIPE_HOME"] = home  # journals of this run stay out of the user's
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)

    from yunpipe_tui.catalog import Catalog
    from yunpipe_tui.sandbox import Sandbox, Timings, flow
    from yunpipe_tui.sandbox.transform import apply

    catalog = Catalog(Path(home) / "catalog")
    for name, operation in STEPS:
        catalog.add(flow.text_algorithm(name, operation))
    names = [n for n, _ in STEPS]
    operations = [op for _, op in STEPS]

    with Sandbox(timings=Timings.fast(), workdir=args.workdir) as sandbox:
        ctx = sandbox.aws_context()
        flow.prepare_account(ctx)
        workflow = flow.workflow_for("bench", names, "bench-input", "bench-output")
        started = time.perf_counter()
        flow.deploy_workflow(ctx, workflow, catalog)
        deploy_s = time.perf_counter() - started

        # One file alone first: the cold path (instances launched, runners started per step).
        cold_key = flow.final_key(names, "cold/one.txt")
        cold_start = time.monotonic()
        flow.upload(ctx, "bench-input", {"cold/one.txt": b"one file alone\n"})
        cold = flow.wait_for_objects(ctx, "bench-output", [cold_key], timeout=300, interval=0.05)
        cold_s = cold.found[cold_key][1] - cold_start if cold.complete else float("nan")

        files = {
            f"in/{i:03d}.txt": f"file {i}\nsecond line {i}\n".encode() for i in range(args.files)
        }
        final = {flow.final_key(names, k): k for k in files}
        s3 = ctx.client("s3")
        sent: dict[str, float] = {}

        def put(item: tuple[str, bytes]) -> None:
            s3.put_object(Bucket="bench-input", Key=item[0], Body=item[1])
            sent[item[0]] = time.monotonic()

        first = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, files.items()))
        arrivals = flow.wait_for_objects(ctx, "bench-output", final, timeout=600, interval=0.1)
        snapshot = sandbox.activity.snapshot()

    wrong = [
        k
        for k, (body, _) in arrivals.found.items()
        if body != apply(operations, files[final[k]].decode()).encode()
    ]
    latencies = sorted(seen - sent[final[k]] for k, (_, seen) in arrivals.found.items())
    if not latencies:
        print("no result arrived", file=sys.stderr)
        return 1
    last = max(seen for _, seen in arrivals.found.values())
    rate = len(latencies) / (last - first)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
    print(
        f"{len(latencies)}/{len(files)} files through {len(STEPS)} steps "
        f"({len(wrong)} wrong) in {last - first:.1f} s after a {deploy_s:.1f} s deploy; "
        f"instances {snapshot['instances_registered']}, tasks {snapshot['tasks_started']}, "
        f"dispatcher runs {snapshot['lambda_invocations']}"
    )
    result("cold_file_latency", cold_s, "s", "reported", None, None)
    result("files_per_second", rate, "files/s", "reported", None, None)
    result("latency_median", statistics.median(latencies), "s", "reported", None, None)
    result("latency_p95", p95, "s", "reported", None, None)
    return 0 if arrivals.complete and not wrong else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
