"""`yunpipe demo`: a real two-step pipeline in the local sandbox, with the wizard or as plain lines.

The demo's local state (catalog, deploy journals) lives in a temporary YUNPIPE_HOME inside the
sandbox's workdir, removed at exit: demo resources never reach the user's own catalog or journals
(the sandbox's AWS state vanishes with the process anyway, so journals of it would only mislead).

The demo algorithms run on the host (`python3 -m yunpipe_tui.sandbox.transform ...`):
`demo-upper` upper-cases a text, `demo-number` numbers its lines. The workflow `demo` chains them:
yunpipe-demo-input → demo-upper → (intermediate bucket) → demo-number → yunpipe-demo-output.
One sample (`BAD_SAMPLE`, not UTF-8 text) fails on purpose: demo-upper refuses it with a message
of its own, so a newcomer sees a failure explained (its story, its reason, its stderr).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yunpipe_tui.catalog import Catalog
from yunpipe_tui.sandbox import flow
from yunpipe_tui.sandbox.server import Sandbox, Timings
from yunpipe_tui.sandbox.transform import apply

if TYPE_CHECKING:
    from yunpipe_tui.aws import AwsContext

PIPELINE = "demo"
INPUT_BUCKET = "yunpipe-demo-input"
OUTPUT_BUCKET = "yunpipe-demo-output"
STEPS = (("demo-upper", "upper"), ("demo-number", "number"))
SAMPLES: dict[str, bytes] = {
    "hello.txt": b"hello, world\nthis file went through a pipeline\n",
    "poems/haiku.txt": b"an old silent pond\na frog jumps into the pond\nsplash! silence again\n",
    "notes/shopping list.txt": b"apples\nbread\ncoffee\n",
}
# The input that fails on purpose: not UTF-8 text, which the demo algorithms refuse.
BAD_SAMPLE = "scans/not-text.bin"
BAD_BODY = b"\xff\xd8\xff\xe0 a JPEG header, not text\n"
BAD_REASON = "is not UTF-8 text"  # what the algorithm says about it (transform.py)
# Environment variables that would send the demo's AWS clients anywhere but the sandbox.
_UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)

Echo = Callable[[str], Any]


def demo_algorithms() -> list[flow.Algorithm]:
    return [flow.text_algorithm(name, operation) for name, operation in STEPS]


def demo_workflow() -> flow.Workflow:
    return flow.workflow_for(PIPELINE, [n for n, _ in STEPS], INPUT_BUCKET, OUTPUT_BUCKET)


def expected_results(samples: dict[str, bytes] | None = None) -> dict[str, tuple[str, bytes]]:
    """final result key → (input key, expected body)."""
    operations = [op for _, op in STEPS]
    names = [n for n, _ in STEPS]
    return {
        flow.final_key(names, key): (key, apply(operations, body.decode()).encode())
        for key, body in (samples or SAMPLES).items()
    }


def seed(catalog: Catalog) -> list[str]:
    """Put the demo algorithms into a catalog; returns their names."""
    for algorithm in demo_algorithms():
        catalog.add(algorithm)
    return [n for n, _ in STEPS]


@dataclass
class DemoEnvironment:
    sandbox: Sandbox
    ctx: AwsContext
    catalog: Catalog
    home: Path


@contextlib.contextmanager
def demo_environment(
    timings: Timings | None = None, *, then_exit: bool = False
) -> Iterator[DemoEnvironment]:
    """A running sandbox, this process pointed at it (endpoint, dummy credentials, a private
    YUNPIPE_HOME) before any boto3 session exists, and the demo algorithms in its catalog.
    Everything is undone on exit; `then_exit` (the process ends next) waits for no thread."""
    sandbox = Sandbox(timings=timings or Timings.demo())
    saved = {k: os.environ.get(k) for k in (*_UNSET, "YUNPIPE_HOME", "AWS_ENDPOINT_URL")}
    try:
        sandbox.start()
        home = sandbox.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        for name in _UNSET:
            os.environ.pop(name, None)
        for name, value in sandbox.environ().items():
            saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        os.environ["YUNPIPE_HOME"] = str(home)
        from yunpipe_tui import locations

        catalog = Catalog(locations.catalog_dir())
        seed(catalog)
        yield DemoEnvironment(sandbox, sandbox.aws_context(), catalog, home)
    finally:
        sandbox.stop(wait=not then_exit)
        for name, before in saved.items():
            if before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = before


# --------------------------------------------------------------------------- the plain story


def _snapshot_line(snapshot: Any) -> str:
    parts = []
    for q in snapshot.queues:
        dead = f", {q.dead_letter} dead" if q.dead_letter else ""
        parts.append(f"{q.step}: {q.visible or 0} queued, {q.in_flight or 0} in flight{dead}")
    running = [i for i in snapshot.instances if i.state in ("pending", "running")]
    tasks = [t for t in snapshot.tasks if t.last_status not in ("STOPPED", "DELETED")]
    parts.append(f"instances: {len(running)}")
    parts.append(f"tasks running: {len(tasks)}")
    return " | ".join(parts)


class _Watcher:
    """Prints the monitor's snapshot whenever it changes (or the queue depths when the monitor
    module is not available)."""

    def __init__(self, ctx: AwsContext, echo: Echo) -> None:
        self.ctx, self.echo = ctx, echo
        self.start = time.monotonic()
        self.last = ""
        self.monitor: Any = None
        self.source = "queue depths (own poll)"
        try:
            from yunpipe_tui import monitor

            self.monitor = monitor.Monitor(ctx, monitor.resolve_target(PIPELINE, ctx))
            self.source = "yunpipe monitor snapshots"
        except ImportError:
            self.monitor = None

    def __call__(self) -> None:
        line = self._line()
        if line and line != self.last:
            self.last = line
            self.echo(f"  [{time.monotonic() - self.start:5.1f}s] {line}")

    def _line(self) -> str:
        if self.monitor is not None:
            return _snapshot_line(self.monitor.poll())
        sqs = self.ctx.client("sqs")
        parts = []
        for i in range(len(STEPS)):
            step = f"s{i + 1}"
            from yunpipe_tui import resource_names as names

            url = sqs.get_queue_url(QueueName=names.queue(PIPELINE, step))["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            parts.append(
                f"{step}: {attrs.get('ApproximateNumberOfMessages', '0')} queued, "
                f"{attrs.get('ApproximateNumberOfMessagesNotVisible', '0')} in flight"
            )
        return " | ".join(parts)

    def close(self) -> None:
        if self.monitor is not None:
            self.monitor.close()


def _side_by_side(left: str, right: str, width: int = 34) -> list[str]:
    a, b = left.splitlines(), right.splitlines()
    rows = []
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else ""
        y = b[i] if i < len(b) else ""
        rows.append(f"    {x[:width]:<{width}} │ {y}")
    return rows


def run_plain(echo: Echo, timings: Timings | None = None, timeout: float = 120.0) -> int:
    """The whole story as plain lines; 0 only if every result arrived and is correct."""
    from yunpipe_tui.deploy.progress import PlainLines

    echo(
        "yunpipe demo: running in a LOCAL SANDBOX (an emulated AWS on this machine); "
        "no AWS account is used and nothing leaves this computer."
    )
    with demo_environment(timings) as env:
        ctx = env.ctx
        echo(
            f"sandbox endpoint {env.sandbox.endpoint}; demo algorithms: "
            + ", ".join(f"{n} ({op})" for n, op in STEPS)
        )

        echo("")
        echo("== doctor: the account's prerequisites")
        before, fixes, after = flow.prepare_account(ctx)
        for check in before:
            if check.status != "ok":
                mark = "✗" if check.status == "fail" else "!"
                echo(f"  {mark} {check.title}: {check.detail}")
        for line in fixes:
            echo(f"  fixed: {line}")
        for check in after:
            if check.status == "fail":
                echo(f"  ✗ still failing: {check.title}: {check.detail}")
        from yunpipe_tui import doctor

        echo(f"  {doctor.summary(after)}")
        if not doctor.all_ok(after):
            echo("demo failed: the doctor could not fix the sandbox account")
            return 1

        echo("")
        echo(f"== deploy: workflow {PIPELINE!r} ({' → '.join(n for n, _ in STEPS)})")
        workflow = demo_workflow()
        flow.deploy_workflow(ctx, workflow, env.catalog, PlainLines(echo))
        echo(f"You can start upload files at {INPUT_BUCKET}")
        echo(f"You will get your result at {OUTPUT_BUCKET}")

        echo("")
        echo(f"== upload {len(SAMPLES) + 1} files to s3://{INPUT_BUCKET}/")
        for key in SAMPLES:
            echo(f"  {key}")
        echo(f"  {BAD_SAMPLE}  (not text: the demo algorithm refuses it, on purpose)")
        expected = expected_results()
        flow.upload(ctx, INPUT_BUCKET, {**SAMPLES, BAD_SAMPLE: BAD_BODY})

        watcher = _Watcher(ctx, echo)
        echo("")
        echo(f"== watching the pipeline ({watcher.source})")
        try:
            arrivals = flow.wait_for_objects(
                ctx, OUTPUT_BUCKET, expected, timeout=timeout, interval=0.5, on_poll=watcher
            )
        finally:
            watcher.close()

        echo("")
        echo("== results (input │ result)")
        correct = 0
        for key, (source, want) in expected.items():
            got = arrivals.found.get(key)
            if got is None:
                echo(f"  {source}: NO RESULT (expected s3://{OUTPUT_BUCKET}/{key})")
                continue
            ok = got[0] == want
            correct += ok
            echo(f"  {source} → s3://{OUTPUT_BUCKET}/{key}  {'correct' if ok else 'WRONG'}")
            for row in _side_by_side(SAMPLES[source].decode(), got[0].decode("utf-8", "replace")):
                echo(row)

        echo("")
        echo(f"== the file that fails on purpose: {BAD_SAMPLE}")
        failed_as_intended, why = _wait_for_failure(ctx, timeout)
        echo(f"  {why}")

        echo("")
        echo("== each file's story (yunpipe files show KEY)")
        for line in _stories(ctx):
            echo(line)

        echo("")
        echo("== teardown (the buckets and their objects stay)")
        env.sandbox.wait_quiet(timeout=10)
        torn = flow.teardown_pipeline(ctx, PIPELINE, PlainLines(echo))
        if torn.leftovers:
            echo("  leftovers: " + ", ".join(torn.leftovers))

        echo("")
        bad = (
            f"{BAD_SAMPLE} failed as intended"
            if failed_as_intended
            else f"{BAD_SAMPLE} did NOT fail as intended"
        )
        if correct == len(expected) and failed_as_intended:
            echo(
                f"demo finished: {correct} of {len(expected)} results arrived and are correct; "
                f"{bad}."
            )
            return 0
        echo(f"demo failed: {correct} of {len(expected)} results arrived and are correct; {bad}.")
        return 1


def _wait_for_failure(ctx: AwsContext, timeout: float) -> tuple[bool, str]:
    """Until the bad sample is `failed` in the ledger (or, without a ledger, in step 1's
    dead-letter queue): (failed as intended, one line saying how)."""
    from yunpipe_tui import ledger
    from yunpipe_tui import resource_names as names

    deadline = time.monotonic() + timeout
    use_ledger = True
    while time.monotonic() < deadline:
        if use_ledger:
            try:
                records = ledger.file_story(ctx, PIPELINE, BAD_SAMPLE)
            except ledger.NoLedger:
                use_ledger = False
                continue
            failed = [r for r in records if r.state == "failed"]
            if failed:
                error = (failed[-1].error or "").replace("\n", " | ")
                if BAD_REASON in error:
                    return True, f"failed, as intended: {error}"
                return False, f"failed, but not for the intended reason: {error}"
            if any(r.state == "done" for r in records):
                return False, "it was processed: the algorithm should have refused it"
        else:
            url = ctx.client("sqs").get_queue_url(
                QueueName=names.dead_letter_queue(PIPELINE, "s1")
            )["QueueUrl"]
            for record in flow.dead_letters(ctx, url):
                from urllib.parse import unquote_plus

                key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
                if key == BAD_SAMPLE:
                    return True, "failed, as intended: its message went to the dead-letter queue"
        time.sleep(0.5)
    return False, f"no failure recorded within {timeout:.0f}s"


def _stories(ctx: AwsContext) -> list[str]:
    """Every uploaded file's story from the ledger, the failed one first."""
    from yunpipe_tui import ledger

    try:
        records = list(ledger.files(ctx, PIPELINE))
    except ledger.NoLedger as exc:
        return [f"  (no stories: {exc})"]
    order = {"failed": 0, "running": 1, "queued": 2, "done": 3}
    lines: list[str] = []
    for record in sorted(records, key=lambda r: (order.get(r.state, 9), r.key)):
        lines.extend(f"  {line}" for line in ledger.story_lines(record))
    return lines


def run_wizard(timings: Timings | None = None) -> int:
    """The wizard on the sandbox (its Home shows LOCAL SANDBOX)."""
    from yunpipe_tui.app import make_app

    with demo_environment(timings, then_exit=True) as env:
        # The demo workflow as a file, so Workflow and Deploy start from it.
        path = env.home / "demo-workflow.json"
        demo_workflow().save(path)
        app = make_app(env.sandbox.aws_context(), sandbox=True, workflow_path=str(path))
        # Sample inputs on disk, offered by the Monitor's upload dialog.
        samples = env.home / "samples"
        for key, body in {**SAMPLES, BAD_SAMPLE: BAD_BODY}.items():
            (samples / key).parent.mkdir(parents=True, exist_ok=True)
            (samples / key).write_bytes(body)
        app.sample_file = str(samples / next(iter(SAMPLES)))
        app.monitor_view = "files"  # the demo's Monitor opens on the Files view
        app.run()
        return int(getattr(app, "return_code", 0) or 0)
