"""`torchrun --nproc_per_node 2 --no-python bench search`: every generation's subnets are split over
the processes, the search is the one a single process runs (same candidates, accuracies and
winner), rank 0 alone writes and prints, and `--resume` works across a change of process count.

One-process runs happen in this process on one thread, as each torchrun worker runs
(OMP_NUM_THREADS=1), so both sides do the same arithmetic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

from search.nas.strategies import Search, SearchState
from search.space import load_space
from search.space.config import SubnetConfig
from search.training import distributed
from tests.lut_factory import sized_lut
from tests.test_search_cli import HOST, middle_budget, write_lut

pytestmark = [pytest.mark.distributed, pytest.mark.exports]

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(sys.executable).parent / "bench"
FAST = ["--population", "4", "--generations", "3", "--parents", "2", "--coarse-samples", "2000", "--no-measure"]
evaluate_population = Search._evaluate_population


def _interrupted_after(saved_generation: int, self: Search, state: SearchState) -> None:
    """Ctrl-C once generation `saved_generation` is saved, as the next starts: on every rank at the
    same point, after a barrier so that rank 0 has written the state before any rank exits."""
    if state.generation == saved_generation:
        if torch.distributed.is_initialized():
            torch.distributed.barrier()
        raise KeyboardInterrupt
    evaluate_population(self, state)


def interrupted_in_generation_2(self: Search, state: SearchState) -> None:
    _interrupted_after(1, self, state)


def interrupted_in_generation_3(self: Search, state: SearchState) -> None:
    _interrupted_after(2, self, state)


# `bench` in a torchrun worker, interrupted as generation 3 starts (PYTHONPATH holds the repository root).
INTERRUPTED_BENCH = (
    "import sys; from search.nas.strategies import Search; from orchestrator.cli.app import main; "
    "from tests.test_search_distributed import interrupted_in_generation_3; "
    "Search._evaluate_population = interrupted_in_generation_3; sys.argv = ['bench', *sys.argv[1:]]; main()"
)


def ctrl_c(*args: Any, **kwargs: Any) -> None:
    raise KeyboardInterrupt


@contextmanager
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def bench_alone(*args: str, patches: dict[str, Any]) -> int:
    """`bench ARGS...` in this process, on one thread, with `patches` applied; its exit code."""
    from orchestrator.cli.app import main

    with pytest.MonkeyPatch.context() as mp, one_thread():
        mp.setattr("sys.argv", ["bench", *args])
        for target, value in patches.items():
            mp.setattr(target, value)
        try:
            main()
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
    return 0


def torchrun(*command: str, tmp: Path) -> subprocess.CompletedProcess:
    """`command` in two processes started by torchrun (gloo on CPU, a free port)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}  # BENCH_CACHE: the run's export cache
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--no-python"]
    return subprocess.run([*launcher, *command], env=env, cwd=tmp, capture_output=True, text=True, timeout=300)


def saved(out: Path) -> SearchState:
    return SearchState.from_dict(json.loads((out / "search_state.json").read_text()))


def accuracies(state: SearchState) -> dict[str, tuple[float, int]]:
    """Every evaluated subnet's held-out accuracy and generation, by config hash."""
    return {h: (c.accuracy, c.generation) for h, c in state.evaluated.items()}


@pytest.fixture(scope="module")
def search_args(tiny_checkpoint: Path, tmp_path_factory) -> list[str]:
    lut = write_lut(tmp_path_factory.mktemp("lut") / "tiny-host.json", sized_lut(load_space("tiny"), device=HOST))
    return ["search", "--checkpoint", str(tiny_checkpoint), "--lut", str(lut), "--latency-ms", str(middle_budget(lut)), *FAST]


@pytest.fixture(scope="module")
def alone(search_args: list[str], tmp_path_factory) -> SearchState:
    """The whole search in one process (stopped before delivery: `best.json` is its best config)."""
    out = tmp_path_factory.mktemp("alone") / "s"
    assert bench_alone(*search_args, "--out", str(out), patches={"orchestrator.searchjob.finish.deliver": ctrl_c}) == 130
    state = saved(out)
    assert state.generation == 3 and len(state.evaluated) == 12
    return state


@pytest.mark.slow
def test_two_processes_search_like_one_and_only_rank_0_writes_and_prints(search_args, alone, tmp_path):
    out = tmp_path / "s"
    run = torchrun(str(BENCH), *search_args, "--out", str(out), "--json", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)  # one JSON document: rank 1 printed nothing
    assert SubnetConfig.from_dict(json.loads((out / "best.json").read_text())) == alone.best().config
    assert doc["config_hash"] == alone.best().config.hash and doc["model"]["accuracy"] == alone.best().accuracy
    assert accuracies(saved(out)) == accuracies(alone) and doc["evaluations"] == len(alone.evaluated)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["best.json", "best.pt", "best.pte", "best.mlpackage", "pareto.png", "result.json", "inputs.json", "search_state.json", "delivery.log",
         "deploy-host.json", "deploy-coreml.json", ".delivered.json"]
    )
    assert "2 processes share each generation's subnets, one cpu device each" in run.stderr
    assert run.stderr.count("has no validation") == run.stderr.count("coarse phase:") == run.stderr.count("generation 3/3:") == 1


@pytest.mark.slow
def test_a_search_resumes_across_process_counts_both_ways_to_the_same_result(search_args, alone, tmp_path):
    """Interrupted in one process after generation 1, resumed in two and interrupted there after
    generation 2, resumed in one to the end: the search a single uninterrupted process runs."""
    out = tmp_path / "s"
    first = bench_alone(*search_args, "--out", str(out), patches={"search.nas.strategies.Search._evaluate_population": interrupted_in_generation_2})
    assert first == 130 and saved(out).generation == 1
    run = torchrun(sys.executable, "-c", INTERRUPTED_BENCH, *search_args, "--out", str(out), "--resume", tmp=tmp_path)
    assert run.returncode != 0 and run.stderr.count("continue with the same command and --resume") == 1
    assert run.stdout.count("resuming the search in") == 1 and "after generation 1 " in run.stdout
    assert saved(out).generation == 2
    resumed = bench_alone(*search_args, "--out", str(out), "--resume", patches={"orchestrator.searchjob.finish.deliver": ctrl_c})
    assert resumed == 130
    state = saved(out)
    assert state.generation == 3 and accuracies(state) == accuracies(alone) and state.best().config == alone.best().config


def test_shares_are_dealt_round_robin_and_merge_back_in_order():
    items = list(range(7))
    shares = [distributed.share(items, rank, 3) for rank in range(3)]
    assert shares == [[0, 3, 6], [1, 4], [2, 5]]
    assert distributed.merge(shares) == items
    assert distributed.merge([distributed.share(items, 0, 1)]) == items


def test_one_process_evaluates_everything_itself_in_order():
    one = distributed.Dist(0, 1, 0, torch.device("cpu"))
    assert distributed.map_shared(one, lambda xs: [x * 10 for x in xs], [3, 1, 2], key=str) == [30, 10, 20]


def test_ranks_asking_for_different_subnets_is_an_error():
    distributed.check_same_work([["a", "b"], ["a", "b"], ["a", "b"]])
    with pytest.raises(RuntimeError, match=r"rank 2 asked to evaluate 2 items and rank 0 2, the first difference at item 1 \(c vs b\)"):
        distributed.check_same_work([["a", "b"], ["a", "b"], ["a", "c"]])
    with pytest.raises(RuntimeError, match=r"rank 1 asked to evaluate 1 items and rank 0 2, the first difference at item 1 \(nothing vs b\)"):
        distributed.check_same_work([["a", "b"], ["a"]])
