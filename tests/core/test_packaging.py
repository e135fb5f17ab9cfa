"""The mapped folders (screens/, lambda/, assets/) resolve inside the one import namespace,
installed or editable, and their files are found through importlib.resources."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_resources_are_found_through_importlib() -> None:
    assets = resources.files("yunpipe_tui.assets")
    for name in ("workflow.schema.json", "algorithm.schema.json", "instance_types.json"):
        assert assets.joinpath(name).is_file(), name
    assert assets.joinpath("app.tcss").is_file(), "the wizard's stylesheet"
    assert assets.joinpath("runner.py").is_file(), "the container runner"
    lambdas = resources.files("yunpipe_tui.lambda_functions")
    assert lambdas.joinpath("dispatcher.py").is_file(), "the dispatcher's source"
    import yunpipe_tui.screens

    assert Path(yunpipe_tui.screens.__file__).parent.name == "screens"


@pytest.mark.skipif(
    not (ROOT / "pyproject.toml").exists(), reason="needs the source tree to build a wheel"
)
def test_wheel_maps_folders_into_the_namespace(tmp_path: Path) -> None:
    had_build = (ROOT / "build").exists()
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if not had_build:  # setuptools builds in the source tree; leave it as it was
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "yunpipe_tui/screens/__init__.py",
        "yunpipe_tui/lambda_functions/dispatcher.py",
        "yunpipe_tui/assets/workflow.schema.json",
        "yunpipe_tui/assets/app.tcss",
        "yunpipe_tui/assets/runner.py",
    ):
        assert expected in names, expected
    tops = {n.split("/")[0] for n in names}
    assert tops <= {"yunpipe_tui", next(t for t in tops if t.endswith(".dist-info"))}, tops
    # every source package (a folder with __init__.py) is shipped
    for init in (ROOT / "yunpipe_tui").rglob("__init__.py"):
        rel = init.relative_to(ROOT).as_posix()
        assert rel in names, f"{rel} is missing from the wheel: list it in pyproject.toml"
    for folder, mapped in (("screens", "screens"), ("lambda", "lambda_functions")):
        for src in (ROOT / folder).glob("*.py"):
            assert f"yunpipe_tui/{mapped}/{src.name}" in names, src
