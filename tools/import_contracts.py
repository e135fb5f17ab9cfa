"""import-linter contract types that check the package as it is installed.

setuptools' package-dir maps `screens/`, `lambda/` and `assets/` into `yunpipe_tui`. Grimp builds
its graph by walking the package's own folder, so it would not see those subpackages, and it would
count `from yunpipe_tui.screens.x import y` as an import of `yunpipe_tui` itself: contracts about
them would pass without looking. The types here check the very same contracts against a graph of
the installed layout, built from a temporary tree of symbolic links that follows pyproject's
package-dir. `[tool.importlinter] contract_types` puts them in place of the built-in ones.
"""

from __future__ import annotations

import copy
import functools
import importlib
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import grimp
from importlinter.contracts import acyclic_siblings, forbidden, protected
from importlinter.domain.contract import ContractCheck

ROOT = Path(__file__).resolve().parent.parent


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """Import name -> source folder, as `[tool.setuptools.package-dir]` says."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return {name: (root / folder).resolve() for name, folder in mapping.items()}


def link_tree(target: Path, dirs: dict[str, Path]) -> None:
    """Lay the packages out under `target` as an install would, with symbolic links."""
    for name, folder in sorted(dirs.items(), key=lambda item: item[0].count(".")):
        package = target.joinpath(*name.split("."))
        package.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            if entry.name != "__pycache__" and not (package / entry.name).exists():
                (package / entry.name).symlink_to(entry)


@functools.cache
def installed_graph(
    roots: tuple[str, ...], include_external_packages: bool, exclude_type_checking_imports: bool
) -> grimp.ImportGraph:
    with tempfile.TemporaryDirectory(prefix="import-contracts-") as tmp:
        link_tree(Path(tmp), package_dirs())
        hidden = {n: sys.modules.pop(n) for n in list(sys.modules) if n.split(".")[0] in roots}
        sys.path.insert(0, tmp)
        importlib.invalidate_caches()
        try:
            return grimp.build_graph(
                *roots,
                include_external_packages=include_external_packages,
                exclude_type_checking_imports=exclude_type_checking_imports,
                cache_dir=None,
            )
        finally:
            sys.path.remove(tmp)
            sys.modules.update(hidden)
            importlib.invalidate_caches()


def _graph_for(session_options: dict[str, Any]) -> grimp.ImportGraph:
    roots: Iterable[str] = session_options.get("root_packages") or [session_options["root_package"]]
    truthy = ("true", "True", True)
    graph = installed_graph(
        tuple(roots),
        session_options.get("include_external_packages") in truthy,
        session_options.get("exclude_type_checking_imports") in truthy,
    )
    return copy.deepcopy(graph)  # contracts may remove ignored imports from it


class ForbiddenContract(forbidden.ForbiddenContract):
    """The built-in `forbidden` contract, on the installed layout."""

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        return super().check(_graph_for(self.session_options), verbose)


class AcyclicSiblingsContract(acyclic_siblings.AcyclicSiblingsContract):
    """The built-in `acyclic_siblings` contract, on the installed layout."""

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        return super().check(_graph_for(self.session_options), verbose)


class ProtectedContract(protected.ProtectedContract):
    """The built-in `protected` contract, on the installed layout."""

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        return super().check(_graph_for(self.session_options), verbose)
