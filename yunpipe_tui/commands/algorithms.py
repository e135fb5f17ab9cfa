"""`yunpipe algorithms [--json]`"""

from __future__ import annotations

import json

import click


@click.command("algorithms", short_help="List the algorithms in the local catalog.")
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
def command(as_json: bool) -> int:
    """List the registered algorithms: name, image, instance type, variables and ports."""
    from yunpipe_tui.catalog import default_catalog

    algorithms = default_catalog().all()
    if as_json:
        click.echo(json.dumps([a.to_json() for a in algorithms], indent=2))
        return 0
    if not algorithms:
        click.echo("The catalog is empty. Register an algorithm with `yunpipe wrap -f FILE`.")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "image", "instance", "memory", "variables", "ports")
    for a in algorithms:
        table.add_row(
            a.name,
            a.run_image,
            a.resolved_instance_type(),
            f"{a.memory_mib} MiB",
            ", ".join(v.name + ("*" if v.required else "") for v in a.variables) or "-",
            ", ".join(f"{p.port}/{p.protocol}" for p in a.ports) or "-",
        )
    Console().print(table)
    return 0
