"""The folder layout is the architecture. The packages stand on each other in one order, `infra`
(errors, files, strict JSON, locks, processes) -> `search` -> `orchestrator` -> `autovit_bench`
(the public API, whose job-backed `search` stands on the orchestrator) -> `benchmarks`, and none
imports one above it, with no exception; inside `search/` the sub-packages (space -> supernet -> training -> nas)
and inside `orchestrator/` the floors (plan -> export -> measure -> lut -> searchjob -> report ->
cli) import only their own and those below. Imports inside functions count too: a lazy import is
still a dependency."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ["plan", "export", "measure", "lut", "searchjob", "report", "cli"]
SEARCH_FLOORS = ["space", "supernet", "training", "nas"]
PACKAGES = ["infra", "search", "orchestrator", "autovit_bench", "benchmarks"]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def floor_of(module: str, package: str = "orchestrator", floors: list[str] = FLOORS) -> int | None:
    parts = module.split(".")
    if parts[0] != package or len(parts) < 2 or parts[1] not in floors:
        return None
    return floors.index(parts[1])


def orchestrator_files() -> list[Path]:
    return sorted(p for p in (ROOT / "orchestrator").rglob("*.py") if p.parent != ROOT / "orchestrator")


@pytest.mark.parametrize("path", orchestrator_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_orchestrator_modules_import_only_their_floor_and_those_below(path):
    own = FLOORS.index(path.relative_to(ROOT / "orchestrator").parts[0])
    upward = sorted(m for m in imported_modules(path) if (floor := floor_of(m)) is not None and floor > own)
    assert upward == [], f"{path.relative_to(ROOT)} (floor {FLOORS[own]}) imports a higher floor: {upward}"


def test_orchestrator_has_no_modules_outside_its_floors():
    loose = sorted(p.name for p in (ROOT / "orchestrator").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]
    assert sorted(p.name for p in (ROOT / "orchestrator").iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(FLOORS)


@pytest.mark.parametrize("package", PACKAGES[:-1])
def test_a_package_never_imports_one_above_it(package):
    above = PACKAGES[PACKAGES.index(package) + 1 :]
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if m.split(".")[0] in above)
        for p in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_public_api_reaches_the_orchestrator_only_when_a_search_runs():
    """Importing `autovit_bench` stays light (no torch, no exporter): the search job, which measures
    and delivers, is imported when `search` runs."""
    for path in (ROOT / "autovit_bench").glob("*.py"):
        tree = ast.parse(path.read_text())
        top = {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
        assert not any(m.startswith("orchestrator") for m in top), path.name


def search_files() -> list[Path]:
    return sorted(p for p in (ROOT / "search").rglob("*.py") if p.parent != ROOT / "search")


@pytest.mark.parametrize("path", search_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_search_subpackages_import_only_their_own_and_those_below(path):
    own = SEARCH_FLOORS.index(path.relative_to(ROOT / "search").parts[0])
    upward = sorted(m for m in imported_modules(path) if (floor := floor_of(m, "search", SEARCH_FLOORS)) is not None and floor > own)
    assert upward == [], f"{path.relative_to(ROOT)} ({SEARCH_FLOORS[own]}) imports a higher sub-package: {upward}"


def test_search_has_no_modules_outside_its_subpackages_but_its_public_api():
    assert sorted(p.name for p in (ROOT / "search").glob("*.py")) == ["__init__.py", "api.py"]
    packages = (p for p in (ROOT / "search").iterdir() if p.is_dir() and not p.is_symlink() and p.name != "__pycache__")
    assert sorted(p.name for p in packages) == sorted(SEARCH_FLOORS)  # search/luts links to the committed LUTs (package data)


def test_only_users_import_the_public_api():
    """`search.api` stands above everything in `search/` and is not how the toolkit reaches its own
    parts, so the public surface can stay fixed while the parts below it change."""
    importers = sorted(
        str(p.relative_to(ROOT)) for package in PACKAGES[:-2] for p in (ROOT / package).rglob("*.py") if "search.api" in imported_modules(p)
    )
    assert importers == []


def package_folders() -> list[Path]:
    """Every folder of modules in the toolkit (a runner's package among them)."""
    return sorted({p.parent for package in PACKAGES[:-1] for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts})


def circle_in(folder: Path) -> list[str] | None:
    """A circle of imports among the modules of one folder (lazy imports count: a circle that works
    only because one import is deferred is still one; so do imports for the type checker alone,
    which close a circle of meaning if not of execution), or None."""
    prefix = ".".join(folder.relative_to(ROOT).parts)
    modules = {f"{prefix}.{p.stem}": p for p in folder.glob("*.py") if p.stem != "__init__"}
    edges = {m: sorted(imported_modules(p) & modules.keys()) for m, p in modules.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in edges[module]:
            if state.get(target) == 1:
                return path[path.index(target):] + [module, target] if target in path else [module, target]
            if target not in state and (found := visit(target, [*path, module])):
                return found
        state[module] = 2
        return None

    return next((found for m in sorted(modules) if m not in state and (found := visit(m, [])) is not None), None)


@pytest.mark.parametrize("folder", package_folders(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_package_s_modules_import_each_other_in_a_circle(folder):
    assert circle_in(folder) is None, f"an import circle in {folder.relative_to(ROOT)}: {' -> '.join(circle_in(folder))}"


def test_a_circle_added_to_a_package_is_found(tmp_path, monkeypatch):
    package = tmp_path / "infra" / "circle"
    package.mkdir(parents=True)
    (package / "a.py").write_text("from infra.circle.b import B\n")
    (package / "b.py").write_text("def f():\n    from infra.circle.a import A\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert circle_in(package) == ["infra.circle.a", "infra.circle.b", "infra.circle.a"]


def test_a_circle_closed_by_an_import_for_the_type_checker_alone_is_found(tmp_path, monkeypatch):
    package = tmp_path / "infra" / "circle"
    package.mkdir(parents=True)
    (package / "a.py").write_text("from infra.circle.b import B\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from infra.circle.a import A\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert circle_in(package) == ["infra.circle.a", "infra.circle.b", "infra.circle.a"]


COMMAND_LINES = 40  # a command parses, calls one function and prints (docs/architecture.md)


@pytest.mark.parametrize("path", sorted((ROOT / "orchestrator" / "cli").glob("*.py")), ids=lambda p: p.name)
def test_no_function_of_the_commands_is_longer_than_a_screen(path):
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > COMMAND_LINES
    ]
    assert not long, f"{path.name}: {', '.join(long)} over {COMMAND_LINES} lines: move the logic into the function the command calls"
