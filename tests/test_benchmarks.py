"""Benchmarks are code: each imports as the rest does (`benchmarks.<name>`, no path edits) and runs
today, so every figure the docs quote names a script that can produce it again."""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__")
SHELL = sorted((ROOT / "benchmarks").glob("*.sh"))
NAMED = re.compile(r"benchmarks/(\w+)\.(py|sh)|benchmarks\.(\w+)")


def runnable(name: str) -> bool:
    """A script (it runs as `__main__`), not a module of one (search_quality's parts)."""
    return 'if __name__ == "__main__":' in (ROOT / "benchmarks" / f"{name}.py").read_text()


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_imports_and_a_script_says_how_to_run_it(name, monkeypatch):
    """`python -m benchmarks.<name> --help`, run in this process (the heavy imports are shared):
    it ends with code 0 and says something. A module of a script imports."""
    if not runnable(name):
        importlib.import_module(f"benchmarks.{name}")
        return
    monkeypatch.setattr(sys, "argv", [f"benchmarks.{name}", "--help"])
    said = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(said):
        try:
            runpy.run_module(f"benchmarks.{name}", run_name="__main__", alter_sys=False)
        except SystemExit as done:  # argparse and typer end --help so; a typer app run without standalone mode returns
            code = done.code or 0
    assert code == 0 and "usage" in said.getvalue().lower(), said.getvalue()


@pytest.mark.parametrize("script", SHELL, ids=lambda p: p.name)
def test_every_shell_benchmark_parses(script):
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0


def test_every_benchmark_the_docs_name_is_one_that_exists():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = {m.group(1) or m.group(3) for page in pages for m in NAMED.finditer(page.read_text())}
    shells = {p.stem for p in SHELL}
    assert sorted(n for n in named if n not in SCRIPTS and n not in shells) == []


def test_every_figure_section_names_what_produces_it_or_the_commit_it_is_history_of():
    """docs/figures.md: each section's heading names the script or `bench` command that measures it
    again, or its text names the commit its figures come from (figures of a script since rebuilt)."""
    sections = re.split(r"^## ", (ROOT / "docs" / "figures.md").read_text(), flags=re.M)[1:]
    unnamed = [
        s.splitlines()[0] for s in sections
        if not re.search(r"`(benchmarks/\w+\.(py|sh)|bench \w+)", s.splitlines()[0]) and not re.search(r"\bat [0-9a-f]{7}\b", s)
    ]
    assert unnamed == []
