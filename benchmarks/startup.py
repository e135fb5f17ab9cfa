"""Start-up: `yunpipe --help` against a bare interpreter and the AWS CLI, and the wizard's
first frame (time until the Home screen is mounted, headless).

Goals: --help ≤ 6× `python3 -c pass`; ≤ 0.25× `aws --version` where the AWS CLI is
installed; first frame < 0.5 s.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import result, time_command


def yunpipe_argv() -> list[str]:
    exe = Path(sys.executable).with_name("yunpipe")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "yunpipe_tui"]


async def first_frame() -> float:
    from yunpipe_tui.app import make_app
    from yunpipe_tui.aws import AwsContext

    start = time.perf_counter()
    app = make_app(AwsContext(region="us-east-1", endpoint_url="http://127.0.0.1:9"))
    async with app.run_test(size=(100, 32)) as pilot:
        while type(app.screen).__name__ != "HomeScreen":
            await pilot.pause(0.005)
        elapsed = time.perf_counter() - start
        app.workers.cancel_all()
    return elapsed


def main() -> None:
    bare = time_command([sys.executable, "-c", "pass"])
    help_time = time_command([*yunpipe_argv(), "--help"])
    ratio = help_time / bare
    print(f"python3 -c pass: {bare * 1000:.1f} ms; yunpipe --help: {help_time * 1000:.1f} ms")
    result("help_vs_python", ratio, "x", "<=6x", ratio, ratio <= 6)
    aws = shutil.which("aws")
    if aws:
        aws_time = time_command([aws, "--version"], runs=5)
        ratio_aws = help_time / aws_time
        print(f"aws --version: {aws_time * 1000:.1f} ms")
        result("help_vs_aws_cli", ratio_aws, "x", "<=0.25x", ratio_aws, ratio_aws <= 0.25)
    else:
        print("aws CLI not installed: the AWS CLI comparison is skipped")
    with tempfile.TemporaryDirectory() as home:
        os.environ["YUNPIPE_HOME"] = home
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        frames = [asyncio.run(first_frame()) for _ in range(3)]
    frame = sorted(frames)[1]
    result("wizard_first_frame", frame, "s", "<0.5s", frame / 0.5, frame < 0.5)


if __name__ == "__main__":
    main()
