"""The search-quality benchmark's sections (benchmarks/search_quality.py) search and rank only
supernets trained to their full length: one still training in another process is not done."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import pytest
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from search_quality import _supernet, _trained_epochs  # noqa: E402


@pytest.fixture
def work(tmp_path: Path, tiny_checkpoint: Path) -> Path:
    """A benchmark folder whose warmup and longer supernets hold the 2-epoch tiny checkpoint."""
    for variant in ("warmup", "longer"):
        (tmp_path / "supernets" / variant).mkdir(parents=True)
        shutil.copy(tiny_checkpoint, tmp_path / "supernets" / variant / "last.pt")
    return tmp_path


def test_a_checkpoint_s_epochs_are_read_and_a_missing_one_holds_none(work):
    assert _trained_epochs(work / "supernets" / "warmup" / "last.pt") == 2
    assert _trained_epochs(work / "supernets" / "random" / "last.pt") == 0


def test_a_supernet_trained_to_its_length_is_used(work):
    assert _supernet(work, "warmup", 2) == work / "supernets" / "warmup" / "last.pt"


def test_a_supernet_still_training_is_refused_naming_its_progress_and_the_fix(work):
    with pytest.raises(typer.BadParameter, match=r"the warmup supernet is trained 2 of 200 epochs; finish it with `supernets --variants warmup` first"):
        _supernet(work, "warmup", 200)


def test_the_longer_variant_needs_twice_the_epochs(work):
    assert _supernet(work, "longer", 1) == work / "supernets" / "longer" / "last.pt"
    with pytest.raises(typer.BadParameter, match="trained 2 of 4 epochs"):
        _supernet(work, "longer", 2)


def test_an_unknown_variant_is_refused_naming_the_known_ones(work):
    with pytest.raises(typer.BadParameter, match="unknown variant 'bigger'; choose from sandwich, warmup"):
        _supernet(work, "bigger", 2)


def test_the_page_s_commands_name_only_sections_and_options_the_benchmark_has():
    """The page tells a reader how to run the benchmark again; a renamed option must fail here, not
    in their shell."""
    from search_quality import app
    from search_quality_page import render

    from tests.test_search_quality_figures import synthetic_document

    commands = {c.name: c for c in typer.main.get_command(app).commands.values()}
    page = render(synthetic_document())
    lines = page.split("## Running it again")[1].split("```sh\n")[1].split("```")[0].splitlines()
    assert [shlex.split(line, comments=True)[2] for line in lines] == ["alone", "supernets", "ranking", "strategies", "found", "report", "page"]
    for line in lines:
        words = shlex.split(line, comments=True)
        options = {o for p in commands[words[2]].params for o in p.opts}
        assert {w for w in words[3:] if w.startswith("--")} <= options, line
