"""The README is a front door and the docs hold what it leaves out: the README stays short, leads
with the tool rather than with measurements, and neither it nor any page under docs/ sends a reader
outside the repository or to a path that does not exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP_LEVEL = set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split())
TOP_LEVEL = {name.split("/")[0] for name in TOP_LEVEL}
FENCED = re.compile(r"^```.*?^```", flags=re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
PLACEHOLDER = re.compile(r"[<>*{}$~]|\.\.\.|\s")


def readme_lines() -> list[str]:
    return (ROOT / "README.md").read_text().splitlines()


def test_the_readme_is_at_most_250_lines():
    assert len(readme_lines()) <= 250


def test_the_readme_dates_no_figure_and_its_first_screen_holds_no_measurement():
    text = "\n".join(readme_lines())
    assert not re.findall(r"\b20\d\d-\d\d-\d\d\b", text), "dated figures belong in docs/figures.md"
    first_screen = "\n".join(readme_lines()[:40])
    assert not re.findall(r"\d+(?:\.\d+)?\s?(?:%|ms\b|s\b|min\b|GB\b)", first_screen)


def links(page: Path) -> list[str]:
    return LINK.findall(FENCED.sub("", page.read_text()))


def named_paths(page: Path) -> list[str]:
    """Inline code that names a file or folder of the repository (its first part is a tracked
    top-level name): `search/space/definitions/README.md`, `luts/`; placeholders such as
    `luts/<device>/...` and commands are not paths."""
    spans = CODE.findall(FENCED.sub("", page.read_text()))
    return [s for s in spans if not PLACEHOLDER.search(s) and s.split("/")[0] in TOP_LEVEL and ("/" in s or "." in s)]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_page_links_outside_the_repository(page):
    outside = [t for t in links(page) if re.match(r"[a-z]+:", t) or not (page.parent / t.split("#")[0]).resolve().is_relative_to(ROOT)]
    assert outside == []


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_linked_file_exists(page):
    assert [t for t in links(page) if not (page.parent / t.split("#")[0]).exists()] == []


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_path_a_page_names_exists(page):
    assert [p for p in named_paths(page) if not (ROOT / p).exists()] == []


def test_the_path_check_sees_the_paths_the_readme_names():
    named = named_paths(ROOT / "README.md")
    assert {"docs/guide.md", "docs/phones.md", "docs/figures.md", "luts/host/tiny/d0fb186589faa0c4.json"} <= set(named)
