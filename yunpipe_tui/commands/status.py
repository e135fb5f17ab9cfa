"""`yunpipe status [--json]`: deployed pipelines and their resources, from the journals."""

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
def command(as_json: bool) -> int:
    """List the pipelines yunpipe deployed from this machine, with each resource's state."""
    from yunpipe_tui.deploy import journal

    records = journal.list_pipelines()
    summaries = [pipeline_summary(r) for r in records]
    if as_json:
        click.echo(json.dumps(summaries, indent=2))
        return EXIT_OK
    if not summaries:
        click.echo("no pipelines deployed yet; deploy one with `yunpipe deploy -f WORKFLOW.json`")
        return EXIT_OK
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
    return EXIT_OK
