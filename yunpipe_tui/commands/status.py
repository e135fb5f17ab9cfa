"""`yunpipe status [--json] [--scan]`: deployed pipelines and their resources, from the journals
of the account and endpoint in use; `--scan` asks the account itself (pipelines by tag)."""

from __future__ import annotations

import json
from typing import Any

import click

from yunpipe_tui.errors import EXIT_OK


def pipeline_summary(record: Any) -> dict[str, Any]:
    resources = record.resources
    return {
        "pipeline": record.pipeline,
        "status": record.status,
        "region": record.region,
        "account_id": record.account_id,
        "endpoint_url": record.endpoint,
        "updated_at": record.updated_at,
        "input_bucket": record.input_bucket,
        "output_bucket": record.output_bucket,
        "cluster": record.cluster,
        "error": record.data.get("error", ""),
        "steps": [
            {
                "id": s.id,
                "algorithm": s.algorithm,
                "queue_url": s.queue_url,
                "dead_letter_queue_url": s.dead_letter_queue_url,
                "task_family": s.task_family,
                "dispatcher": s.dispatcher,
                "instance_type": s.instance_type,
            }
            for s in record.steps
        ],
        "resources": [
            {
                "key": key,
                "kind": entry.get("kind", ""),
                "name": entry.get("name", ""),
                "status": entry.get("status", ""),
            }
            for key, entry in resources.items()
        ],
    }


@click.command("status", short_help="List deployed pipelines and their resources.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--scan",
    is_flag=True,
    help="List the pipelines found in the account by their yunpipe tag, with or without a "
    "record on this machine.",
)
def command(as_json: bool, scan: bool) -> int:
    """List the pipelines yunpipe deployed from this machine to the account and endpoint in
    use, with each resource's state. Records of another account or endpoint are named, not
    listed; a damaged record gets one line. --scan asks the account instead."""
    from yunpipe_tui.commands.options import current_options

    ctx = current_options().aws()
    if scan:
        return _scan(ctx, as_json)
    from yunpipe_tui.deploy import records

    found = records.here(ctx)
    summaries = [pipeline_summary(r) for r in found.records]
    if as_json:
        click.echo(json.dumps(summaries, indent=2))
        for line in found.lines("not listed"):
            click.echo(line, err=True)
        return EXIT_OK
    if not summaries:
        click.echo("no pipelines deployed yet; deploy one with `yunpipe deploy -f WORKFLOW.json`")
    for s in summaries:
        click.echo(
            f"{s['pipeline']}  {s['status']}  {s['region']}  updated {s['updated_at']}  "
            f"{s['input_bucket']} -> {s['output_bucket']}"
        )
        if s["error"]:
            click.echo(f"  error: {s['error']}")
        for step in s["steps"]:
            click.echo(f"  {step['id']}: {step['algorithm']} ({step['instance_type']})")
        for r in s["resources"]:
            click.echo(f"    {r['status']:<9} {r['kind']:<20} {r['name']}")
    for line in found.lines("not listed"):
        click.echo(line)
    return EXIT_OK


def _scan(ctx: Any, as_json: bool) -> int:
    """Pipelines in the account by tag, each with what this machine knows of it."""
    from yunpipe_tui.deploy import journal, records
    from yunpipe_tui.errors import AwsError, describe_error
    from yunpipe_tui.state import scan

    try:
        target = records.current_target(ctx)
        found = scan.pipelines(ctx)
    except Exception as exc:
        raise AwsError(f"status --scan could not list the account: {describe_error(exc)}") from exc
    rows: list[dict[str, Any]] = []
    for pipeline, resources in found.items():
        record, warning = journal.load_checked(pipeline)
        if warning:
            known = "record damaged"
        elif record is None:
            known = "no record on this machine"
        elif not records.belongs(record, target):
            known = "record belongs to another account or endpoint"
        else:
            known = f"record: {record.status}"
        rows.append(
            {
                "pipeline": pipeline,
                "record": known,
                "resources": [
                    {"kind": f.kind, "name": f.name, "arn": f.arn, "step": f.step}
                    for f in resources
                ],
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return EXIT_OK
    click.echo(f"pipelines tagged yunpipe:pipeline in {target.describe()}:")
    if not rows:
        click.echo("  none found")
    for row in rows:
        kinds: dict[str, int] = {}
        for r in row["resources"]:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        click.echo(f"  {row['pipeline']}  ({row['record']})  {what}")
    if rows:
        click.echo("remove one with `yunpipe teardown NAME` (works without a record)")
    return EXIT_OK
