"""What the README's first command installs: the toolkit's own dependencies, none GPL-licensed
(pymobiledevice3, GPL-3.0-or-later, stays the opt-in `ios` extra), at the versions of constraints.txt."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]


def base_closure(name: str = "autovit-bench") -> set[str]:
    """Every distribution `pip install -e .` pulls in (no extras), as installed here."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        key = re.sub(r"[-_.]+", "-", current).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = distribution(current).requires or []
        except PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def is_gpl(name: str) -> bool:
    """By the license a package declares (its expression, its classifiers, a one-line License field;
    a full license text may mention the GPL without being it)."""
    meta = distribution(name).metadata
    short = [] if "\n" in (meta.get("License") or "") else [meta.get("License") or ""]
    texts = [*short, meta.get("License-Expression") or "", *(meta.get_all("Classifier") or [])]
    return any(re.search(r"(?<!L)GPL|GNU General Public", t) and "Lesser" not in t for t in texts)


def test_the_first_command_installs_no_gpl_package():
    closure = base_closure()
    assert "pymobiledevice3" not in closure
    assert sorted(name for name in closure if is_gpl(name)) == []


def test_the_ios_extra_is_where_pymobiledevice3_comes_from():
    extras = [Requirement(r) for r in distribution("autovit-bench").requires or [] if "extra ==" in r]
    assert [r.name for r in extras if r.marker.evaluate({"extra": "ios"})] == ["pymobiledevice3"]
    assert is_gpl("pymobiledevice3")


def test_every_installed_dependency_is_pinned_in_the_constraints_file():
    pinned = {
        re.sub(r"[-_.]+", "-", line.split("==")[0]).lower(): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    missing = sorted(name for name in base_closure() - {"autovit-bench"} if name not in pinned)
    assert missing == []
    assert all(distribution(name).version == pinned[name] for name in base_closure() - {"autovit-bench"})


def declared() -> dict[str, str]:
    """pyproject.toml's dependencies: name -> version specifier."""
    import tomllib

    requirements = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    return {r.name: str(r.specifier) for r in requirements}


def test_the_exporters_library_whose_internals_it_patches_is_pinned_to_the_version_it_was_verified_against():
    from infra.toolchain import VERIFIED_EXECUTORCH

    assert declared()["executorch"] == f"=={VERIFIED_EXECUTORCH}"
    assert declared()["coremltools"] == "==9.0"  # orchestrator/export/coreml.py patches Program.validate


def test_the_torch_whose_graph_modules_the_export_patches_is_the_one_the_constraints_install():
    from infra.toolchain import VERIFIED_TORCH

    assert f"torch=={VERIFIED_TORCH}" in (ROOT / "constraints.txt").read_text().splitlines()


def test_every_other_dependency_is_a_range_that_holds_the_constrained_version():
    pinned = {
        re.sub(r"[-_.]+", "-", line.split("==")[0]).lower(): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    ranges = {name: spec for name, spec in declared().items() if name not in ("executorch", "coremltools")}
    assert [name for name, spec in ranges.items() if spec.startswith("==")] == []
    assert [name for name, spec in ranges.items() if pinned[re.sub(r"[-_.]+", "-", name).lower()] not in SpecifierSet(spec)] == []


def test_executorch_reads_its_operator_table_with_ruamels_c_parser():
    """exir parses its edge dialect's YAML on import in every process that exports: 1.3-1.8 s with
    the pure-Python parser ruamel.yaml falls back to without its C extension, 0.4 s with it."""
    from ruamel.yaml import YAML
    from ruamel.yaml.main import CParser

    assert CParser is not None
    assert YAML(typ="safe").Parser is CParser
