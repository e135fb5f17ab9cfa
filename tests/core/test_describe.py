"""`wrap --describe` driven through questionary with prompt_toolkit's pipe input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from yunpipe_tui.describe import describe_algorithm

ENTER = "\r"
DOWN = "\x1b[B"


@pytest.fixture
def pipe() -> Iterator[object]:
    with create_pipe_input() as inp:
        yield inp


def answer(inp: object, *keys: str) -> None:
    inp.send_text("".join(keys))  # type: ignore[attr-defined]


def test_describe_asks_every_field(pipe: object) -> None:
    answer(
        pipe,
        "me/change123" + ENTER,  # image
        ENTER,  # system: default ubuntu
        "no-input-here" + ENTER,  # rejected: must contain $input
        "\x7f" * 13 + "sh /run.sh $input $output" + ENTER,
        ENTER,  # input folder default
        ENTER,  # output folder default
        "/run.sh" + ENTER,
        ENTER,  # name: default from the image
        ENTER,  # instance type: blank
        "64" + ENTER,
        ENTER,  # suggested: default 512
        "\x7f2" + ENTER,  # replace the default 1
        "y",  # add a variable
        "SEED" + ENTER,
        "y",  # required
        "n",  # no more variables
        "y",  # expose a port
        "9090" + ENTER,
        DOWN + ENTER,  # udp
        "n",
    )
    alg = describe_algorithm(input=pipe, output=DummyOutput())
    assert alg.container_name == "me/change123"
    assert alg.system == "ubuntu"
    assert alg.run_command == "sh /run.sh $input $output"
    assert alg.name == "change123"
    assert alg.memory_minimal == 64 and alg.memory_suggested == 512 and alg.cpu == 2
    assert [(v.name, v.required) for v in alg.variables] == [("SEED", True)]
    assert [(p.port, p.protocol) for p in alg.ports] == [(9090, "udp")]
    assert alg.resolved_instance_type() == "t3.micro"
