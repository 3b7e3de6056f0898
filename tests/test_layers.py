"""The folder layout is the architecture: `orchestrator/`'s floors (plan -> export -> measure -> lut
-> searchjob -> cli) import only the floors below them, and `search/` never imports `orchestrator/`.
Imports inside functions count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ["plan", "export", "measure", "lut", "searchjob", "report", "cli"]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def floor_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "orchestrator" or len(parts) < 2 or parts[1] not in FLOORS:
        return None
    return FLOORS.index(parts[1])


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


def test_search_never_imports_orchestrator():
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if m.split(".")[0] == "orchestrator")
        for p in (ROOT / "search").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
