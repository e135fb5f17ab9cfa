"""Deploy: a five-step sequence against a moto server with 50 ms added to every API call
(a client-side hook), the engine's parallel mode against the same engine forced sequential.

Goal: parallel ≥ 3× faster. Also prints API calls per step.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import result

LATENCY = 0.050
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    os.environ["YUNPIPE_HOME"] = tempfile.mkdtemp(prefix="yunpipe-bench-")
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    import logging

    import requests
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)

    from yunpipe_tui.aws import AwsContext, CallCounter
    from yunpipe_tui.catalog import Catalog, load_algorithm_file
    from yunpipe_tui.deploy import deploy, preflight
    from yunpipe_tui.deploy.plan import algorithms_for, build_plan
    from yunpipe_tui.deploy.teardown import teardown
    from yunpipe_tui.workflow import load_workflow

    sys.path.insert(0, str(ROOT))
    from tests.deploy.helpers import make_prerequisites

    setup = AwsContext(region="us-east-1", endpoint_url=endpoint, counter=CallCounter())
    make_prerequisites(setup)
    catalog = Catalog()
    base = load_algorithm_file(ROOT / "tests" / "data" / "seed" / "change123.json")
    steps = []
    for i in range(5):
        catalog.add(replace(base, name=f"bench-alg-{i}", variables=(), ports=()))
        steps.append({"name": f"bench-alg-{i}", "port": [], "variables": {}})

    def run(max_workers: int, name: str) -> tuple[float, int]:
        wf_path = Path(os.environ["YUNPIPE_HOME"]) / f"{name}.json"
        wf_path.write_text(
            json.dumps(
                {
                    "name": name,
                    "input_s3_name": f"{name}-in-bucket",
                    "output_s3_name": f"{name}-out-bucket",
                    "region": "us-east-1",
                    "process": {"type": "sequence_run", "algorithms": steps},
                }
            )
        )
        workflow = load_workflow(wf_path, catalog)
        plan = build_plan(
            workflow, algorithms_for(workflow, catalog), preflight.account_facts(setup, workflow)
        )
        ctx = AwsContext(region="us-east-1", endpoint_url=endpoint, counter=CallCounter())
        ctx.add_hook("before-send.*.*", lambda **_: time.sleep(LATENCY))
        start = time.perf_counter()
        deploy(plan, ctx, max_workers=max_workers)
        elapsed = time.perf_counter() - start
        teardown(name, setup, delete_buckets=True)
        return elapsed, ctx.counter.total

    from yunpipe_tui.deploy import MAX_WORKERS

    # moto's first ECS/Lambda calls are slow; keep them out of the figures
    run(MAX_WORKERS, "warmup")
    sequential, calls = run(1, "seqbench")
    parallel, calls_parallel = run(MAX_WORKERS, "parbench")
    server.stop()
    speedup = sequential / parallel
    print(f"sequential {sequential:.2f} s, parallel {parallel:.2f} s, {calls} API calls")
    result("deploy_parallel_speedup", speedup, "x", ">=3x", speedup, speedup >= 3)
    result("deploy_calls_per_step", calls_parallel / 5, "calls", "reported", None, None)


if __name__ == "__main__":
    main()
