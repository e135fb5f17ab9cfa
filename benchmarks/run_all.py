"""Run every benchmark script and regenerate benchmarks/README.md's table from their RESULT lines.

python benchmarks/run_all.py            # all of them
python benchmarks/run_all.py startup    # only the named ones
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "startup",
    "deploy_parallel",
    "monitor_poll",
    "ledger_poll",
    "dispatcher_calls",
    "sandbox_throughput",
    "scaling",
]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    wanted = argv or SCRIPTS
    rows: list[str] = []
    failed = []
    for name in wanted:
        script = HERE / f"{name}.py"
        if not script.exists():
            rows.append(f"| {name} | (script missing) | | | |")
            failed.append(name)
            continue
        print(f"== {name}", flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=1800
        )
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-3000:])
            failed.append(name)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                _, fig, value, unit, _, goal, _, ratio, verdict = line.split()
                rows.append(f"| {name} | {fig} | {value} {unit} | {goal} | {ratio} | {verdict} |")
    today = dt.date.today().isoformat()
    table = "\n".join(rows)
    text = (HERE / "README.md").read_text() if (HERE / "README.md").exists() else ""
    head = text.split("<!-- results -->")[0] if "<!-- results -->" in text else text
    (HERE / "README.md").write_text(
        f"{head}<!-- results -->\nLatest figures ({today}; {machine()}):\n\n"
        "| script | figure | value | goal | ratio | verdict |\n|---|---|---|---|---|---|\n"
        f"{table}\n"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
