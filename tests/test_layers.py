"""The layers of src/auxlearn: no import cycle among its modules, and the layer contract in pyproject.toml
(`lint-imports`) fails when a module imports from a layer above its own.

The cycle check counts every import (module level, inside a function, under TYPE_CHECKING; ``from a import b``
counts both ``a.b`` and ``a``), as ../shared/tools/import_cycles.py does; the contract reads the same imports,
but cannot see a cycle inside one layer.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def module_graph(src: Path, package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the package's modules it imports, wherever the import statement is."""
    files = {}
    for path in (src / package).rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def module_of(name: str):
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in targets:
                module = module_of(target) if target.split(".")[0] == package else None
                if module and module != name:
                    graph[name].add(module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_counting_every_import():
    graph = module_graph(SRC, "auxlearn")
    assert len(graph) > 100, "the package's modules were not found"
    assert cycles(graph) == []


def test_the_cycle_check_sees_an_import_inside_a_function(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def late():\n    from pkg.high import value\n    return value\n")
    (package / "high.py").write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg import low\n"
                                     "value = 1\n")
    assert cycles(module_graph(tmp_path, "pkg")) == [["pkg.high", "pkg.low"]]


def test_every_module_of_a_straddling_package_has_its_layer():
    """The contract is exhaustive over the top-level modules; a package whose modules it places one by one (it
    straddles layers) must list every one of them too, or a new module there would escape it."""
    contract = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = contract["contracts"][0]
    placed = {tail.strip() for layer in layers["layers"] for tail in re.split(r"[|:]", layer)}
    for package in layers["exhaustive_ignores"]:
        children = {path.stem if path.is_file() else path.name for path in (SRC / "auxlearn" / package).iterdir()
                    if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()}
        assert children and {f"{package}.{child}" for child in children} <= placed, package


# Names that two modules share because they mean the same thing in both places: a family's interface, the FLAD
# gradient-alignment signal as a selector and as a loss weighting, a config (an experiment's, an atlas's).
SHARED_NAMES = {"base", "alignment", "config"}


def test_a_module_name_says_one_thing():
    """No two modules (or packages) of ``auxlearn`` share a name, beyond the names shared on purpose."""
    names: dict[str, list[str]] = {}
    for module in module_graph(SRC, "auxlearn"):
        names.setdefault(module.rpartition(".")[2], []).append(module)
    shared = {name: modules for name, modules in names.items() if len(modules) > 1 and name not in SHARED_NAMES}
    assert shared == {}


def lint_imports(src: Path) -> subprocess.CompletedProcess:
    """`lint-imports` with the repository's contract, on the package found first on the path: the one in ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(REPO / "pyproject.toml")], cwd=src,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_contract_holds_and_fails_on_an_upward_import(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SRC / "auxlearn", src / "auxlearn", ignore=shutil.ignore_patterns("__pycache__"))
    kept = lint_imports(src)
    assert kept.returncode == 0, kept.stdout + kept.stderr

    # Upward imports of each kind the linter must count: at module level, inside a function, under TYPE_CHECKING.
    def append(module: str, code: str) -> None:
        path = src / "auxlearn" / module
        path.write_text(path.read_text(encoding="utf-8") + "\n\n" + code, encoding="utf-8")

    append("stats.py", "from auxlearn.report_kit import blocks  # noqa\n")
    append("errors.py", "def _late():\n    from auxlearn.cli import main  # noqa\n")
    append("tasks/spec.py", "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                            "    from auxlearn.models.multitask import MultiTaskModel  # noqa\n")
    broken = lint_imports(src)
    assert broken.returncode != 0, broken.stdout
    for importer, imported in (("auxlearn.stats", "auxlearn.report_kit"), ("auxlearn.errors", "auxlearn.cli"),
                               ("auxlearn.tasks", "auxlearn.models.multitask")):
        assert f"{importer} is not allowed to import {imported}" in broken.stdout, broken.stdout
