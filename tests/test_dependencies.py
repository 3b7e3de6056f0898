"""What the README's first command installs: the toolkit's own dependencies, none GPL-licensed
(pymobiledevice3, GPL-3.0-or-later, stays the opt-in `ios` extra), at the versions of constraints.txt."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

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
