"""`wrap --describe`: ask for every field of an algorithm description, validated as typed."""

from __future__ import annotations

import re
from typing import Any

from yunpipe_tui.catalog import Algorithm, Port, Variable
from yunpipe_tui.name_rules import normalise_pipeline_name

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _required(text: str) -> bool | str:
    return True if text.strip() else "required"


def _int_or_blank(text: str) -> bool | str:
    return True if not text.strip() or text.strip().isdigit() else "a whole number, or blank"


def _port(text: str) -> bool | str:
    return True if text.isdigit() and 1 <= int(text) <= 65535 else "a port from 1 to 65535"


def _command(text: str) -> bool | str:
    return True if "$input" in text else "must contain $input (and usually $output)"


def describe_algorithm(**prompt_kwargs: Any) -> Algorithm:
    """Ask the questions; `prompt_kwargs` (input=, output=) let tests drive the prompts."""
    import questionary

    def ask(question: Any) -> Any:
        return question.unsafe_ask()

    kw = prompt_kwargs
    container = ask(
        questionary.text("Container image (docker pull name):", validate=_required, **kw)
    )
    system = ask(questionary.text("Base system of the image:", default="ubuntu", **kw))
    command = ask(
        questionary.text(
            "Run command ($input for the input file, $output for the result):",
            validate=_command,
            **kw,
        )
    )
    input_path = ask(questionary.text("Folder the input file goes in:", default="/input/", **kw))
    output_path = ask(questionary.text("Folder the result appears in:", default="/output/", **kw))
    executable = ask(questionary.text("Full path of the executable (optional):", **kw))
    default_name = normalise_pipeline_name(container.rsplit("/", 1)[-1].split(":")[0])
    name = ask(
        questionary.text(
            "Name users will refer to it by:",
            default=default_name,
            validate=lambda t: True if _NAME.match(t) else "lowercase letters, digits and '-'",
            **kw,
        )
    )
    instance = ask(questionary.text("EC2 instance type (blank: smallest that fits):", **kw))
    minimal = ask(
        questionary.text("Minimal memory in MiB (optional):", validate=_int_or_blank, **kw)
    )
    suggested = ask(
        questionary.text("Suggested memory in MiB:", default="512", validate=_int_or_blank, **kw)
    )
    cpus = ask(questionary.text("Number of CPUs:", default="1", validate=_int_or_blank, **kw))
    variables: list[Variable] = []
    while ask(questionary.confirm("Add a variable users may set?", default=False, **kw)):
        var = ask(
            questionary.text(
                "Variable name:",
                validate=lambda t: True if _VAR.match(t) else "letters, digits and _",
                **kw,
            )
        )
        required = ask(questionary.confirm(f"Is {var} required?", default=False, **kw))
        variables = [v for v in variables if v.name != var] + [Variable(var, required)]
    ports: list[Port] = []
    while ask(questionary.confirm("Expose a port?", default=False, **kw)):
        number = int(ask(questionary.text("Port number:", validate=_port, **kw)))
        protocol = ask(questionary.select("Protocol:", choices=["tcp", "udp"], **kw))
        ports = [p for p in ports if p.port != number] + [Port(number, protocol)]
    return Algorithm(
        name=name,
        container_name=container.strip(),
        input_file_path=input_path,
        output_file_path=output_path,
        run_command=command,
        system=system or "ubuntu",
        executable_path=executable,
        instance_type=instance.strip(),
        memory_minimal=int(minimal) if minimal.strip() else None,
        memory_suggested=int(suggested) if suggested.strip() else None,
        cpu=int(cpus) if cpus.strip() else None,
        variables=tuple(variables),
        ports=tuple(ports),
    )


def confirm(message: str, **prompt_kwargs: Any) -> bool:
    import questionary

    return bool(questionary.confirm(message, default=True, **prompt_kwargs).unsafe_ask())
