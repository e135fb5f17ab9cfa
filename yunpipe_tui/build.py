"""The container build context `yunpipe wrap` writes, and the docker commands that build it.

For an algorithm image `FROM <container_name>` the context adds python3 and boto3 with the
package manager of the declared `system`, copies the runner to /yunpipe/runner.py and makes it the
entrypoint. With a reachable Docker engine the image is built, tagged `[<registry>/]<user>/<name>`
and pushed; otherwise the exact commands are returned for the user to run. Every docker call has
a timeout, so nothing here can hang.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

from yunpipe_tui import locations
from yunpipe_tui.catalog import Algorithm, algorithm_problems
from yunpipe_tui.errors import InputError, YunpipeError
from yunpipe_tui.input_rules import image_reference_problem
from yunpipe_tui.jsonfile import LoadedJson, write_atomic

PIP_BOTO3 = (
    "(python3 -m pip install --no-cache-dir boto3"
    " || python3 -m pip install --no-cache-dir --break-system-packages boto3)"
)
INSTALL = {
    "apt": (
        "apt-get update"
        " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends"
        " python3 python3-pip ca-certificates"
        f" && {PIP_BOTO3}"
        " && rm -rf /var/lib/apt/lists/*"
    ),
    "apk": f"apk add --no-cache python3 py3-pip ca-certificates && {PIP_BOTO3}",
    "yum": (
        "(dnf -y install python3 python3-pip || yum -y install python3 python3-pip)"
        f" && {PIP_BOTO3}"
        " && (dnf clean all || yum clean all)"
    ),
}
SYSTEMS = {
    "ubuntu": "apt",
    "debian": "apt",
    "alpine": "apk",
    "amazonlinux": "yum",
    "amazon linux": "yum",
    "amzn": "yum",
    "centos": "yum",
    "rhel": "yum",
    "redhat": "yum",
    "fedora": "yum",
    "rockylinux": "yum",
    "rocky": "yum",
    "almalinux": "yum",
}
DOCKER_INFO_TIMEOUT = 10.0
DOCKER_STEP_TIMEOUT = {"build": 3600.0, "tag": 60.0, "push": 3600.0}


def package_manager(algorithm: Algorithm) -> str:
    system = (algorithm.system or "ubuntu").strip().lower()
    family = SYSTEMS.get(system) or SYSTEMS.get(system.split(":")[0].split()[0], "")
    if not family:
        known = ", ".join(sorted({"ubuntu", "debian", "alpine", "amazonlinux", "centos"}))
        raise InputError(
            f"algorithm {algorithm.name!r}: system: {algorithm.system!r} is not a system yunpipe "
            f"can add python3 to; use one of {known}"
        )
    return family


def repository_name(name: str) -> str:
    """Docker wants lowercase letters, digits and separators in repository names."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return cleaned or "algorithm"


def image_name(name: str, user: str, registry: str = "") -> str:
    """`[<registry>/]<user>/<name>`: the name the wrapped image is pushed and run under."""
    parts = [registry.strip().rstrip("/"), user.strip().strip("/"), repository_name(name)]
    return "/".join(p for p in parts if p)


def checked(algorithm: Algorithm) -> Algorithm:
    """The algorithm, once it passes every rule of an algorithm file: however it was made (a
    file, the --describe prompts, code), nothing unvalidated reaches a Dockerfile."""
    doc = LoadedJson(file=f"algorithm {algorithm.name[:40]!r}", data=algorithm.to_json(), lines={})
    problems = algorithm_problems(doc)
    if problems:
        raise InputError(problems)
    return algorithm


def dockerfile(algorithm: Algorithm) -> str:
    checked(algorithm)
    template = resources.files("yunpipe_tui.assets").joinpath("Dockerfile.template").read_text()
    values = {
        "name": algorithm.name,
        "container_name": algorithm.container_name,
        "install": INSTALL[package_manager(algorithm)],
    }
    for key, value in values.items():  # validated above; each must stay on its own line
        if "\n" in value or "\r" in value:
            raise InputError(f"algorithm {algorithm.name[:40]!r}: {key} spans several lines")
    return Template(template).substitute(values)


def runner_source() -> str:
    return resources.files("yunpipe_tui.assets").joinpath("runner.py").read_text()


def write_context(algorithm: Algorithm, folder: Path | None = None) -> Path:
    """Write Dockerfile + runner.py for the algorithm; returns the folder."""
    text = dockerfile(algorithm)  # raises before anything is written for an unknown system
    target = folder or locations.build_dir(repository_name(algorithm.name), ensure=True)
    target.mkdir(parents=True, exist_ok=True)
    write_atomic(target / "Dockerfile", text, mode=0o644)
    write_atomic(target / "runner.py", runner_source(), mode=0o644)
    write_atomic(target / ".dockerignore", "*\n!runner.py\n", mode=0o644)
    return target


def docker_commands(context: Path, local: str, remote: str = "") -> list[list[str]]:
    commands = [["docker", "build", "-t", local, str(context)]]
    if remote:
        commands += [["docker", "tag", local, remote], ["docker", "push", remote]]
    return commands


def shell_line(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def engine_available(docker: str = "docker", timeout: float = DOCKER_INFO_TIMEOUT) -> bool:
    """True when a docker CLI exists and `docker info` reaches an engine within the timeout."""
    if shutil.which(docker) is None:
        return False
    try:
        done = subprocess.run(
            [docker, "info"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass
class BuildResult:
    context: Path
    local: str
    remote: str = ""
    built: bool = False
    pushed: bool = False
    commands: list[str] = field(default_factory=list)

    @property
    def image(self) -> str:
        """What the catalog records: the pushed name, or the intended one when not built yet."""
        return self.remote


def build(
    algorithm: Algorithm,
    user: str = "",
    registry: str = "",
    no_build: bool = False,
    echo: Callable[[str], None] = print,
    engine: bool | None = None,
) -> BuildResult:
    """Write the context, then build/tag/push when an engine is reachable and allowed."""
    local = repository_name(algorithm.name)
    remote = image_name(algorithm.name, user, registry) if user else ""
    if remote and (problem := image_reference_problem(remote)):
        raise InputError(f"-u/--registry give the image name {problem}", file="wrap")
    context = write_context(algorithm)
    commands = docker_commands(context, local, remote)
    result = BuildResult(context, local, remote, commands=[shell_line(c) for c in commands])
    echo(f"build context for {algorithm.name}: {context}")
    if no_build or not (engine if engine is not None else engine_available()):
        why = "--no-build given" if no_build else "no Docker engine is reachable"
        echo(f"not built ({why}); to build{' and push' if remote else ''} it, run:")
        for line in result.commands:
            echo(f"  {line}")
        if not remote:
            echo("  (add -u USER to tag and push it to a registry ECS can pull from)")
        return result
    for argv in commands:
        step = argv[1]
        echo(f"$ {shell_line(argv)}")
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, timeout=DOCKER_STEP_TIMEOUT[step], check=False
            )
        except subprocess.TimeoutExpired:
            raise YunpipeError(
                f"docker {step} for {algorithm.name} took longer than "
                f"{DOCKER_STEP_TIMEOUT[step]:g} s; the build context is {context}"
            ) from None
        except OSError as exc:
            raise YunpipeError(f"cannot run docker: {exc}") from None
        if done.returncode != 0:
            hint = " (is `docker login` done for this registry?)" if step == "push" else ""
            raise YunpipeError(
                f"docker {step} for {algorithm.name} failed with exit code "
                f"{done.returncode}{hint}; the build context is {context}"
            )
        if step == "build":
            result.built = True
        elif step == "push":
            result.pushed = True
    if not remote:
        echo(f"built {local} locally; add -u USER to push it where ECS can pull it")
    return result
