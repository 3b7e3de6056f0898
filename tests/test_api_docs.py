"""Every Python snippet in README.md and docs/api.md runs as written, from a folder that holds what
the documents say a user has there: a supernet checkpoint (`runs/train/last.pt`), the digits set
(`data/digits`) and a finished search (`runs/search`); LUTs are found by id without a `luts/`
folder (the committed ones ship with the package), so the documented API is the one that works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", "docs/api.md"]


def python_blocks(document: str) -> list[tuple[str, str]]:
    text = (ROOT / document).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    return [(f"{document}#{i + 1}", block) for i, block in enumerate(blocks)]


SNIPPETS = [snippet for document in DOCUMENTS for snippet in python_blocks(document)]


def test_each_document_has_python_snippets():
    assert {name.split("#")[0] for name, _ in SNIPPETS} == set(DOCUMENTS)


@pytest.mark.parametrize("name, code", SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_snippet_runs_as_written(name, code, tmp_path, monkeypatch, tiny_checkpoint, digits_dir, tiny_search_run):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "train").symlink_to(tiny_checkpoint.parent)
    (tmp_path / "runs" / "search").symlink_to(tiny_search_run)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "digits").symlink_to(digits_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_LUTS", raising=False)
    exec(compile(code, name, "exec"), {"__name__": "__snippet__"})
