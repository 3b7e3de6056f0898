"""The search-quality benchmark's sections (benchmarks/search_quality.py) search and rank only
supernets trained to their full length: one still training in another process is not done."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
import torch
import typer

from benchmarks.search_quality import _supernet, alone_entry, schedule, train_share, trained_epochs
from benchmarks.search_quality_store import Refused


@pytest.fixture
def work(tmp_path: Path, tiny_checkpoint: Path) -> Path:
    """A benchmark folder whose warmup and longer supernets hold the 2-epoch tiny checkpoint."""
    for variant in ("warmup", "longer"):
        (tmp_path / "supernets" / variant).mkdir(parents=True)
        shutil.copy(tiny_checkpoint, tmp_path / "supernets" / variant / "last.pt")
    return tmp_path


def test_a_checkpoint_s_epochs_are_read_and_a_missing_one_holds_none(work):
    assert trained_epochs(work / "supernets" / "warmup" / "last.pt") == 2
    assert trained_epochs(work / "supernets" / "random" / "last.pt") == 0


def test_a_supernet_trained_to_its_length_is_used(work):
    assert _supernet(work, "warmup", 2) == work / "supernets" / "warmup" / "last.pt"


def test_a_supernet_still_training_is_refused_naming_its_progress_and_the_fix(work):
    with pytest.raises(Refused, match=r"the warmup supernet is trained 2 of 200 epochs; finish it with `supernets --variants warmup` first"):
        _supernet(work, "warmup", 200)


def test_the_longer_variant_needs_twice_the_epochs(work):
    assert _supernet(work, "longer", 1) == work / "supernets" / "longer" / "last.pt"
    with pytest.raises(Refused, match="trained 2 of 4 epochs"):
        _supernet(work, "longer", 2)


def test_an_unknown_variant_is_refused_naming_the_known_ones(work):
    with pytest.raises(Refused, match="unknown variant 'bigger'; choose from sandwich, warmup"):
        _supernet(work, "bigger", 2)


def test_the_page_s_commands_name_only_sections_and_options_the_benchmark_has():
    """The page tells a reader how to run the benchmark again; a renamed option must fail here, not
    in their shell."""
    from benchmarks.search_quality import app
    from benchmarks.search_quality_page import render
    from tests.test_search_quality_figures import synthetic_document

    commands = {c.name: c for c in typer.main.get_command(app).commands.values()}
    page = render(synthetic_document())
    lines = page.split("## Running it again")[1].split("```sh\n")[1].split("```")[0].splitlines()
    assert [shlex.split(line, comments=True)[3] for line in lines] == [
        "restore", "alone", "supernets", "ranking", "strategies", "found", "measure", "found", "report", "page",
    ]
    for line in lines:
        words = shlex.split(line, comments=True)
        options = {o for p in commands[words[3]].params for o in (*p.opts, *getattr(p, "secondary_opts", ()))}
        assert {w for w in words[3:] if w.startswith("--")} <= options, line


def _run(seed: int, test: float) -> dict:
    """A finished run: one that learned leaves chance (0.1) at its second of four epochs; one that
    did not stays there."""
    curve = [0.1, 0.5, 0.6, test] if test > 0.3 else [0.1, 0.1, 0.11, test]
    return {"seed": seed, "test": test, "converged": True, "holdout_curve": curve, "epochs": 4}


def test_a_run_that_did_not_learn_adds_the_subnet_s_next_seed_after_every_first_seed():
    from search.space import load_space
    from search.space.sampling import max_config, min_config

    small, large = min_config(load_space("tiny"), 64), max_config(load_space("tiny"), 64)
    runs = {small.hash: [_run(0, 0.74), _run(1, 0.123)], large.hash: [_run(0, 0.19)]}
    todo = schedule([small, large], 2, runs, at_chance=0.1)
    assert [(c.hash, seed) for c, seed in todo] == [(small.hash, 0), (large.hash, 0), (small.hash, 1), (large.hash, 1), (small.hash, 2), (large.hash, 2)]
    assert schedule([small], 2, {small.hash: [_run(0, 0.74), _run(1, 0.75)]}, at_chance=0.1) == [(small, 0), (small, 1)]


def test_a_subnet_s_figures_average_the_runs_that_learned_and_keep_the_others_apart():
    entry = alone_entry([_run(0, 0.74), _run(1, 0.123), _run(2, 0.72)], at_chance=0.1)
    assert entry["alone"] == [0.74, 0.72] and entry["seeds"] == [0, 2]
    assert entry["did_not_learn"] == [{"seed": 1, "test": 0.123, "rise_epoch": None, "epochs": 4}] and entry["alone_as_run"] == [0.74, 0.123]
    assert entry["rise_epoch"] == [2, 2]


def test_a_run_another_process_is_training_is_skipped_not_trained_twice(tmp_path):
    """Processes share the reference by lock as well as by --part, so a restarted one never trains
    the run another still holds (both would write the same state file)."""
    from infra.locks import held
    from search.space import load_space
    from search.space.sampling import min_config

    config = min_config(load_space("tiny"), 64)
    lock = tmp_path / "alone" / "partial" / f"{config.hash}-seed0-e3.lock"
    lock.parent.mkdir(parents=True)
    with held(lock, "a run in another process"):
        trained = train_share(tmp_path, tmp_path / "data", "data digits", [(config, 0)], 3, torch.device("cpu"), 0, 1)
    assert trained == 0 and not list((tmp_path / "alone").glob("*.json"))


