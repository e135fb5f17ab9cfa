"""`yunpipe wrap`: register algorithm descriptions in the local catalog and write (and, with a
Docker engine, build and push) each one's container build context."""

from __future__ import annotations

import json

import click

from yunpipe_tui.errors import EXIT_OK, EXIT_USAGE, InputError


@click.command("wrap", short_help="Register algorithms and write their container build context.")
@click.option(
    "-f", "--files", "files", multiple=True, type=click.Path(), help="Algorithm JSON file."
)
@click.argument("more", nargs=-1, type=click.Path())
@click.option("-d", "--describe", is_flag=True, help="Describe an algorithm through prompts.")
@click.option("-s", "--show", is_flag=True, help="Show the algorithm's JSON before registering.")
@click.option("-u", "--user", default="", help="Registry user or namespace to tag images with.")
@click.option(
    "-r", "--registry", default="", help="Registry host to push to (default: Docker Hub)."
)
@click.option("--no-build", is_flag=True, help="Write the build context only; never run Docker.")
@click.option("-y", "--yes", is_flag=True, help="Register without asking to confirm.")
def command(
    files: tuple[str, ...],
    more: tuple[str, ...],
    describe: bool,
    show: bool,
    user: str,
    registry: str,
    no_build: bool,
    yes: bool,
) -> int:
    """Validate algorithm descriptions and add them to the local catalog.

    Either -f FILE... (the seed's algorithm JSON) or --describe (answer prompts). Each algorithm
    also gets a build context (Dockerfile FROM its image + python3, boto3 and yunpipe's runner);
    with a reachable Docker engine and without --no-build it is built, tagged
    [REGISTRY/]USER/NAME and pushed, otherwise the commands to do so are printed.
    """
    from dataclasses import replace

    from yunpipe_tui.build import build, engine_available
    from yunpipe_tui.catalog import Catalog, load_algorithm_file

    paths = (*files, *more)
    if describe == bool(paths):
        raise click.UsageError("use either -f FILE... or --describe")
    catalog = Catalog()
    algorithms = []
    if describe:
        from yunpipe_tui.describe import confirm, describe_algorithm

        algorithm = describe_algorithm()
        click.echo(json.dumps(algorithm.to_json(), indent=4))
        if not yes and not confirm("Register this algorithm?"):
            click.echo("not registered")
            return EXIT_OK
        algorithms.append(algorithm)
    else:
        failed = False
        for path in paths:
            try:
                algorithms.append(load_algorithm_file(path))
            except InputError as exc:
                failed = True
                for problem in exc.problems:
                    click.echo(str(problem), err=True)
        if failed:
            return EXIT_USAGE
    engine = False if no_build else engine_available()
    from yunpipe_tui.sandbox_hints import sandbox_warnings

    warnings = sandbox_warnings(algorithms)
    for algorithm in algorithms:
        if show and not describe:
            click.echo(json.dumps(algorithm.to_json(), indent=4))
        result = build(algorithm, user, registry, no_build, echo=click.echo, engine=engine)
        if result.image:
            algorithm = replace(algorithm, image=result.image)
        target = catalog.add(algorithm)
        click.echo(
            f"registered {algorithm.name} ({algorithm.resolved_instance_type()}) in {target}"
        )
        if result.pushed:
            click.echo(f"image {result.image} built and pushed; tasks will run it")
        elif result.image:
            click.echo(
                f"image {result.image} recorded but NOT built yet: run the commands above "
                "before deploying"
            )
        else:
            click.echo(
                f"no wrapped image recorded: on AWS, tasks would run {algorithm.run_image}, which "
                "has no yunpipe runner; wrap again with -u USER to build and push one"
            )
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    return EXIT_OK
