"""Every Python snippet in README.md and docs/api.md runs as written, from a folder that holds what
the steps a quick profile prints write there: the digits set (`data/digits`), a supernet trained at
the quick LUT's 128 px (`runs/train-tiny-128/last.pt`) and a finished search in the folder that
docs/api.md's `bench search` command names with `--out` (the suite's finished search standing in:
a snippet only reads it); LUTs are found by id without a `luts/` folder (the committed ones ship
with the package), so the documented API is the one that works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import made_once, tiny_train_settings

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", "docs/api.md"]


def python_blocks(document: str) -> list[tuple[str, str]]:
    text = (ROOT / document).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    return [(f"{document}#{i + 1}", block) for i, block in enumerate(blocks)]


SNIPPETS = [snippet for document in DOCUMENTS for snippet in python_blocks(document)]


def documented_search_folder() -> str:
    """The `--out` of the one `bench search` command docs/api.md shows: the folder its snippets read."""
    text = (ROOT / "docs" / "api.md").read_text()
    commands = [block.replace("\\\n", " ") for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M) if "bench search" in block]
    assert len(commands) == 1, commands
    return re.search(r"--out (\S+)", commands[0]).group(1)


@pytest.fixture(scope="module")
def quick_checkpoint(digits_dir: Path, run_folder: Path) -> Path:
    """A tiny supernet trained at 128 px, as the printed `bench train` step trains it (one short
    epoch: the snippets search it, they do not judge it), once for the run."""
    from search.training import distributed
    from search.training.train import Trainer

    def train(out: Path) -> None:
        Trainer(tiny_train_settings(digits_dir, resolution=128, epochs=1, warmup_epochs=0), out, distributed.init(prefer_gpu=False)).run()

    return made_once(run_folder / "train-tiny-128", train) / "last.pt"


def test_each_document_has_python_snippets():
    assert {name.split("#")[0] for name, _ in SNIPPETS} == set(DOCUMENTS)


def test_the_import_of_search_the_page_calls_earlier_is_gone_and_the_one_it_gives_works():
    """api.md once told a user that `from autovit_bench import search` of earlier releases is
    `from autovit_bench import search` (issue 83, finding 18): the two imports it names differ, the
    earlier one fails today and the current one gives the job-backed `search`."""
    import importlib

    import autovit_bench

    text = " ".join((ROOT / "docs" / "api.md").read_text().split())
    earlier, now = re.search(r"`from (\S+) import search` of earlier releases is `from (\S+) import search`", text).groups()
    assert (earlier, now) == ("search.api", "autovit_bench")
    assert not hasattr(importlib.import_module(earlier), "search") and "search" not in importlib.import_module(earlier).__all__
    assert importlib.import_module(now).search is autovit_bench.search and callable(autovit_bench.search)


def test_the_snippets_read_the_search_folder_the_documented_command_names_whatever_the_luts_budget():
    """A folder named by `--out`, not `bench search`'s default, which holds the LUT's id and the
    budget a profile printed: a reader's own LUT's, not those of a page written beforehand."""
    read = {a or b for _, code in SNIPPETS for a, b in re.findall(r'load_found\("([^"]+)"\)|^run = "([^"]+)"', code, flags=re.M)}
    assert read == {documented_search_folder()} == {"runs/search-tiny-128"}


def test_the_snippet_that_searches_where_the_folder_is_missing_runs_the_documented_bench_search_step():
    """What a reader who skipped the shell step gets is the search that step runs: the same
    checkpoint, LUT, budget and settings, measured and delivered into the same folder."""
    import ast

    (code,) = [code for _, code in SNIPPETS if "measure=True" in code]
    tree = ast.parse(code)
    names = {t.id: ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
             and isinstance(n.value, ast.Constant)}
    (call,) = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "search"]

    def value(node: ast.expr):
        return names[node.id] if isinstance(node, ast.Name) else ast.literal_eval(node)

    words = {k.arg: k.value for k in call.keywords}
    settings = {k.arg: value(k.value) for k in words.pop("settings").keywords}
    searched = {"checkpoint": value(call.args[0].args[0]), "lut": value(call.args[1]), **{k: value(v) for k, v in words.items()}, **settings}
    text = (ROOT / "docs" / "api.md").read_text()
    (command,) = [b.replace("\\\n", " ") for b in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M) if "bench search" in b]
    options = dict(re.findall(r"--([a-z-]+) (\S+)", command))
    assert searched == {"checkpoint": options["checkpoint"], "lut": options["lut"], "latency_ms": float(options["latency-ms"]), "measure": True,
                        "out": options["out"], **{k: int(options[k]) for k in ("population", "generations", "parents")}}


@pytest.mark.slow
@pytest.mark.parametrize("name, code", SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_snippet_runs_as_written(name, code, tmp_path, monkeypatch, quick_checkpoint, digits_dir, tiny_search_run):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "train-tiny-128").symlink_to(quick_checkpoint.parent)
    (tmp_path / documented_search_folder()).symlink_to(tiny_search_run)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "digits").symlink_to(digits_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_LUTS", raising=False)
    exec(compile(code, name, "exec"), {"__name__": "__snippet__"})
