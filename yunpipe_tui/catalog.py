"""The local catalog of algorithm descriptions (the seed's algorithm JSON, kept one file each)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yunpipe_tui import locations
from yunpipe_tui.errors import InputError, Problem
from yunpipe_tui.input_rules import (
    capped,
    control_character,
    control_character_problems,
    forbidden_variable,
    image_reference_problem,
)
from yunpipe_tui.jsonfile import LoadedJson, dump_json, load_json, write_atomic
from yunpipe_tui.schema_check import schema_problems

LOG = logging.getLogger("yunpipe.catalog")
# The schema's rule for `name`; a name outside it can never be a catalog file (no `../`).
ALGORITHM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")

# Variables the seed's `wrap` appended to every stored description for its runner. The runner now
# gets its configuration from the deploy engine and AWS access from the task role, so these are
# dropped when a seed file is read; otherwise AWS_SECRET_ACCESS_KEY would be "required".
SEED_RUNNER_VARIABLES = frozenset(
    {
        "output_s3_name",
        "sqs",
        "LOG_LVL",
        "NAME",
        "AWS_DEFAULT_REGION",
        "AWS_DEFAULT_OUTPUT",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
)

DEFAULT_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class Variable:
    name: str
    required: bool = False


@dataclass(frozen=True)
class Port:
    port: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class Algorithm:
    name: str
    container_name: str
    input_file_path: str
    output_file_path: str
    run_command: str
    system: str = "ubuntu"
    executable_path: str = ""
    instance_type: str = ""
    memory_minimal: int | None = None
    memory_suggested: int | None = None
    cpu: float | None = None
    gpu: int = 0
    variables: tuple[Variable, ...] = ()
    ports: tuple[Port, ...] = ()
    image: str = ""
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def run_image(self) -> str:
        """The image tasks run: the wrapped one when `wrap` built it, else the declared one."""
        return self.image or self.container_name

    @property
    def memory_mib(self) -> int:
        return self.memory_suggested or self.memory_minimal or 128

    def resolved_instance_type(self) -> str:
        if self.instance_type:
            return self.instance_type
        from yunpipe_tui.instance_types import smallest_fitting

        return smallest_fitting(self.memory_mib, self.cpu, self.gpu).name

    def to_json(self) -> dict[str, Any]:
        """The seed's field names and layout, so files stay readable by people and old tools."""
        data: dict[str, Any] = dict(self.extra)
        data.update(
            {
                "container_name": self.container_name,
                "system": self.system,
                "input_file_path": self.input_file_path,
                "output_file_path": self.output_file_path,
                "executable_path": self.executable_path,
                "run_command": self.run_command,
                "name": self.name,
                "instance_type": self.instance_type,
                "memory": {"minimal": self.memory_minimal, "suggested": self.memory_suggested},
                "CPU": self.cpu if self.cpu is not None else {},
                "user_specified_environment_variables": [
                    {"name": v.name, "required": v.required} for v in self.variables
                ],
                "port": [{"port": p.port, "protocol": p.protocol} for p in self.ports],
            }
        )
        if self.image:
            data["image"] = self.image
        if self.gpu:
            data["GPU"] = self.gpu
        if self.timeout_seconds != DEFAULT_TIMEOUT_SECONDS:
            data["timeout_seconds"] = self.timeout_seconds
        return data


_KNOWN = {
    "container_name",
    "system",
    "input_file_path",
    "output_file_path",
    "executable_path",
    "run_command",
    "name",
    "instance_type",
    "memory",
    "CPU",
    "GPU",
    "user_specified_environment_variables",
    "port",
    "image",
    "timeout_seconds",
}


def algorithm_problems(doc: LoadedJson) -> list[Problem]:
    """Schema violations plus the rules a schema cannot say well."""
    problems = schema_problems(doc, "algorithm.schema.json")
    problems += control_character_problems(doc)
    data = doc.data
    if not isinstance(data, dict):
        return problems
    for key in ("container_name", "image"):
        image = data.get(key)
        if not isinstance(image, str) or not image or control_character(image):
            continue  # the schema or the control-character rule already says what is wrong
        if problem := image_reference_problem(image):
            problems.append(doc.problem((key,), problem))
    command = data.get("run_command")
    if isinstance(command, str) and command and "$input" not in command:
        problems.append(
            doc.problem(
                ("run_command",),
                "must contain $input where the input file goes, e.g. 'sh /run.sh $input $output'",
            )
        )
    memory = data.get("memory")
    if isinstance(memory, dict):
        low, high = memory.get("minimal"), memory.get("suggested")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            problems.append(
                doc.problem(
                    ("memory", "minimal"),
                    f"minimal memory ({low} MiB) is more than suggested ({high} MiB)",
                )
            )
    seen: set[int] = set()
    ports = data.get("port")
    for i, port in enumerate(ports if isinstance(ports, list) else []):
        if isinstance(port, dict) and isinstance(port.get("port"), int):
            if port["port"] in seen:
                problems.append(
                    doc.problem(("port", i, "port"), f"port {port['port']} is listed twice")
                )
            seen.add(port["port"])
    names: set[str] = set()
    variables = data.get("user_specified_environment_variables")
    for i, var in enumerate(variables if isinstance(variables, list) else []):
        if isinstance(var, dict) and isinstance(var.get("name"), str):
            # The seed's own runner variables are dropped on load (AWS keys among them).
            if var["name"] not in SEED_RUNNER_VARIABLES and (
                reason := forbidden_variable(var["name"])
            ):
                problems.append(
                    doc.problem(("user_specified_environment_variables", i, "name"), reason)
                )
            if var["name"] in names:
                problems.append(
                    doc.problem(
                        ("user_specified_environment_variables", i, "name"),
                        f"variable {var['name']!r} is listed twice",
                    )
                )
            names.add(var["name"])
    return capped(problems)


def algorithm_from_json(data: dict[str, Any]) -> Algorithm:
    """Build from already-validated data; tolerant of the seed's quirks (CPU {}, 'suggensted')."""
    memory = data.get("memory") or {}
    cpu = data.get("CPU")
    variables = tuple(
        Variable(v["name"], bool(v.get("required", False)))
        for v in data.get("user_specified_environment_variables") or []
        if v["name"] not in SEED_RUNNER_VARIABLES
    )
    ports = tuple(Port(p["port"], p.get("protocol", "tcp")) for p in data.get("port") or [])
    return Algorithm(
        name=data["name"],
        container_name=data["container_name"],
        input_file_path=data["input_file_path"],
        output_file_path=data["output_file_path"],
        run_command=data["run_command"],
        system=data.get("system") or "ubuntu",
        executable_path=data.get("executable_path") or "",
        instance_type=data.get("instance_type") or "",
        memory_minimal=memory.get("minimal"),
        memory_suggested=memory.get("suggested", memory.get("suggensted")),
        cpu=cpu if isinstance(cpu, int | float) else None,
        gpu=int(data.get("GPU") or 0),
        variables=variables,
        ports=ports,
        image=data.get("image") or "",
        timeout_seconds=data.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS,
        extra={k: v for k, v in data.items() if k not in _KNOWN},
    )


def load_algorithm_file(path: str | Path) -> Algorithm:
    doc = load_json(path, what="algorithm file")
    if not isinstance(doc.data, dict):
        raise InputError([doc.problem((), "an algorithm file must hold a JSON object { ... }")])
    problems = algorithm_problems(doc)
    if problems:
        raise InputError(problems)
    return algorithm_from_json(doc.data)


class Catalog:
    """Algorithms registered on this machine, one `<name>.json` each under the user data dir."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or locations.catalog_dir()

    def _file(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json"))

    def get(self, name: str) -> Algorithm | None:
        if not ALGORITHM_NAME.fullmatch(name):
            return None  # never a path outside the catalog folder
        path = self._file(name)
        if not path.is_file():
            return None
        return load_algorithm_file(path)

    def all(self) -> list[Algorithm]:
        return [a for a in (self.get(n) for n in self.names()) if a is not None]

    def add(self, algorithm: Algorithm) -> Path:
        path = self._file(algorithm.name)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, dump_json(algorithm.to_json()), mode=0o644)
        return path

    def remove(self, name: str) -> bool:
        path = self._file(name)
        if path.exists():
            path.unlink()
            return True
        return False

    def import_legacy(self, dirs: list[Path] | None = None) -> list[str]:
        """Copy the seed's descriptions (`~/.cloud_pipe/algorithms/*_info.json`,
        `~/.yunpipe/algorithms/*.json`) into the catalog; existing entries win. They pass the
        same validation as `wrap -f`: a file that fails is skipped with one warning line."""
        imported: list[str] = []
        for base in dirs if dirs is not None else locations.legacy_dirs():
            folder = base / "algorithms"
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
                try:
                    algorithm = load_algorithm_file(path)
                except InputError as exc:
                    first = exc.problems[0] if exc.problems else None
                    why = first.message if first else "it is not a valid algorithm file"
                    more = len(exc.problems) - 1
                    LOG.warning(
                        "%s: not imported into the catalog: %s%s",
                        path,
                        why,
                        f" (and {more} more problems)" if more > 0 else "",
                    )
                    continue
                if self._file(algorithm.name).exists():
                    continue
                self.add(algorithm)
                imported.append(algorithm.name)
        return imported


def default_catalog() -> Catalog:
    """The user's catalog, with the seed's files imported the first time they are seen."""
    catalog = Catalog()
    catalog.import_legacy()
    return catalog


def describe(algorithm: Algorithm) -> str:
    return json.dumps(algorithm.to_json(), indent=4)
