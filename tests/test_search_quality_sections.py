"""The search-quality benchmark's sections (benchmarks/search_quality.py) search and rank only
supernets trained to their full length: one still training in another process is not done."""

from __future__ import annotations

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
