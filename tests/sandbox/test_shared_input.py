"""Issue 11, item 3 on the sandbox: two pipelines deployed at the same moment on one input
bucket both keep their notification entry, and both process every upload."""

from __future__ import annotations

import threading
from typing import Any

from yunpipe_tui.catalog import Catalog
from yunpipe_tui.sandbox import Sandbox, flow


def test_two_pipelines_deployed_together_on_one_bucket_both_process_uploads(
    sandbox: Sandbox, prepared: Any, catalog: Catalog
) -> None:
    ctx = prepared
    ctx.client("s3").create_bucket(Bucket="share-in")  # the team's bucket, read by both
    workflows = {
        "share-a": flow.workflow_for("share-a", ["demo-upper"], "share-in", "share-out-a"),
        "share-b": flow.workflow_for("share-b", ["demo-reverse"], "share-in", "share-out-b"),
    }
    start = threading.Barrier(len(workflows))
    errors: list[BaseException] = []

    def deploy(workflow: Any) -> None:
        start.wait()
        try:
            flow.deploy_workflow(ctx, workflow, catalog)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deploy, args=(w,)) for w in workflows.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    got = ctx.client("s3").get_bucket_notification_configuration(Bucket="share-in")
    ids = {e["Id"] for e in got.get("LambdaFunctionConfigurations", [])}
    assert ids == {"yunpipe-share-a-s1", "yunpipe-share-b-s1"}

    flow.upload(ctx, "share-in", {"note.txt": b"abc\n"})
    upper = flow.final_key(["demo-upper"], "note.txt")
    reverse = flow.final_key(["demo-reverse"], "note.txt")
    a = flow.wait_for_objects(ctx, "share-out-a", [upper], timeout=30)
    b = flow.wait_for_objects(ctx, "share-out-b", [reverse], timeout=30)
    assert a.complete and b.complete, f"sandbox: {sandbox.activity.snapshot()}"
    assert a.found[upper][0] == b"ABC\n"

    assert sandbox.wait_quiet(timeout=15)
    for name in workflows:
        result = flow.teardown_pipeline(ctx, name)
        assert result.ok, (result.failed, result.leftovers)
    got = ctx.client("s3").get_bucket_notification_configuration(Bucket="share-in")
    assert got.get("LambdaFunctionConfigurations", []) == []
