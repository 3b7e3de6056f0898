"""`bench search`, the Python API's `search` and the benchmarks run one search job: the finish's
rule lives in one place (`search.nas.budget.finish_pick` and `measures_within`, with each
constraint's tolerance from its registration), and a change there reaches every door."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import autovit_bench as api
from benchmarks.search_quality_store import Refused
from benchmarks.search_quality_work import POINT_ONLY, Inherited, Timings, finish, search
from search.nas.constraints import CONSTRAINTS
from search.nas.lut import read_lut
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from tests.lut_factory import sized_lut
from tests.test_joint_search import FAST, device, fake_sessions, middle

SLOWER = 10.0  # the device runs every candidate at ten times its prediction: over any budget the LUT admits it at
MARGIN = 20.0  # a finish rule that lets a model measure up to 21x its budget


@pytest.fixture
def host_lut(tmp_path) -> tuple[Path, dict]:
    lut = sized_lut(load_space("tiny"), device=device("host", "pte"), measurement={"context_latency_ms": 1.0})
    path = tmp_path / "host.json"
    path.write_text(json.dumps(lut))
    return path, lut


@pytest.fixture(scope="module")
def benchmark_search(tiny_checkpoint, tmp_path_factory):
    """One search of the search-quality benchmark (point-only pricing, as its labelled row), with
    its scorer and an empty timings cache: the benchmark's own code, run once for this module."""
    work = tmp_path_factory.mktemp("search-quality")
    lut = sized_lut(load_space("tiny"), device=device("host", "pte"), measurement={"context_latency_ms": 1.0})
    path = work / "host.json"
    path.write_text(json.dumps(lut))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "set_num_threads", lambda n: None)  # the benchmark's one thread a process, not this test process's
        inherited = Inherited(tiny_checkpoint, work / "inherited", torch.device("cpu"))
    predictor = LatencyPredictor(read_lut(path), inherited.space)
    run = search("coarse-to-fine", 0, middle(lut), POINT_ONLY, 6, 2, 3, predictor, path, inherited, work, "point-only-seed0")
    return work, path, inherited, run


def timed(work: Path, path: Path, run: dict, ratios: list[float]) -> Timings:
    """The benchmark's timings cache holding each candidate at `ratios` (most accurate first) of the run's budget."""
    timings = Timings(work, str(path))
    timings.cache = {c["hash"]: {"ms": r * run["budget_ms"], "measured_ms": r * run["budget_ms"], "anchor_ms": 1.0} for c, r in zip(run["candidates"], ratios)}
    return timings


@pytest.mark.slow
def test_the_benchmark_s_search_runs_in_the_job_and_its_scores_fill_the_benchmark_s_cache(benchmark_search):
    work, _, inherited, run = benchmark_search
    out = work / "searches" / "point-only-seed0"
    assert (out / "search_state.json").is_file() and (out / "inputs.json").is_file()
    assert len(run["candidates"]) == 5 and run["evaluations"] >= 5
    assert [c["holdout"] for c in run["candidates"]] == sorted((c["holdout"] for c in run["candidates"]), reverse=True)
    assert all(inherited.cache[c["hash"]]["holdout"] == c["holdout"] for c in run["candidates"])
    assert len([h for h, e in inherited.cache.items() if "holdout" in e]) == run["evaluations"]  # every subnet the search scored, once


@pytest.mark.slow
def test_the_benchmark_s_finish_is_the_job_s_with_its_timings_plugged_in_and_a_slower_device_delivers_a_later_candidate(benchmark_search):
    work, path, inherited, run = benchmark_search
    timings = timed(work, path, run, [1.2, 1.0, 0.8, 0.7, 0.6])  # within means at most 1.05x the budget
    done = finish(run, work, inherited, timings, path, (1.0, 1.3))
    assert done["finish"] == {"delivered": 1, "within": True}
    assert done["finish_x1.3"] == {"delivered": 2, "within": True}  # 1.0 x 1.3 is over 1.05; 0.8 x 1.3 = 1.04 is not
    over = finish(run, work, inherited, timed(work, path, run, [1.3, 1.2, 1.4, 1.5, 1.6]), path)
    assert over["finish"] == {"delivered": 1, "within": False}  # none within: the closest, marked over


@pytest.mark.slow
def test_the_benchmark_s_finish_of_a_search_without_its_saved_state_is_one_sentence_naming_the_fix(benchmark_search):
    work, path, inherited, run = benchmark_search
    earlier = {k: v for k, v in run.items() if k not in ("key", "settings")}  # a result written before the benchmark searched through the job
    with pytest.raises(Refused, match=r"has no saved search state under .*searches .*delete its result and run its section again"):
        finish(earlier, work, inherited, timed(work, path, run, [1.0] * 5), path)


@pytest.mark.slow
def test_a_job_refuses_a_scorer_of_another_checkpoint(benchmark_search, tiny_checkpoint, tmp_path):
    from orchestrator.searchjob.run import Asked, open_job
    from search.nas.strategies import SearchSettings

    work, path, inherited, run = benchmark_search
    other = tmp_path / "other.pt"
    shutil.copy(tiny_checkpoint, other)
    asked = Asked.of([(path, {"latency": (run["budget_ms"], "--latency-ms")})])
    with pytest.raises(ValueError, match=r"a scorer of checkpoint .*last\.pt .* cannot score a search of .*other\.pt"):
        open_job(other, asked, tmp_path / "s", SearchSettings(population=4, generations=1, parents=2), scorer=inherited.scorer)
    assert open_job(tiny_checkpoint, asked, tmp_path / "s", SearchSettings(population=4, generations=1, parents=2), scorer=inherited.scorer).scorer is inherited.scorer


@pytest.mark.slow
def test_the_finish_margin_changed_in_one_place_reaches_bench_search_the_api_and_the_benchmark(
    tiny_checkpoint, tmp_path, bench_cli, monkeypatch, host_lut, benchmark_search,
):
    path, lut = host_lut
    fake_sessions(monkeypatch, {"host": lut}, slower=SLOWER)
    budget = f"{middle(lut):.3f}"
    work, bench_lut, inherited, run = benchmark_search
    timings = timed(work, bench_lut, run, [SLOWER * 0.9] * 5)
    assert finish(run, work, inherited, timings, bench_lut)["finish"]["within"] is False
    monkeypatch.setattr(CONSTRAINTS["latency"], "tolerance", MARGIN)
    assert finish(run, work, inherited, timings, bench_lut)["finish"] == {"delivered": 0, "within": True}
    cli = bench_cli("search", "--checkpoint", str(tiny_checkpoint), "--lut", str(path), "--latency-ms", budget, "--out", str(tmp_path / "cli"), "--json", *FAST)
    assert cli.exit_code == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert doc["within_budget"] is True and doc["devices"]["host"]["constraints"]["latency"]["ratio"] > 1 + 0.05
    supernet = api.Supernet.load(tiny_checkpoint)
    found = api.search(supernet, str(path), float(budget), settings=api.SearchSettings(population=4, generations=2, parents=2, coarse_samples=2000),
                       measure=True, out=tmp_path / "api")
    assert found.result["within_budget"] is True and found.result["devices"]["host"]["constraints"]["latency"]["ratio"] > 1 + 0.05
    assert found.config.hash == json.loads(cli.stdout)["config_hash"]  # the same job: the same subnet from the same inputs


@pytest.mark.slow
def test_the_api_search_holds_every_budget_at_once_and_calibrates_as_bench_search(tiny_checkpoint, tmp_path, host_lut):
    from tests.test_joint_search import skewed

    path, lut = host_lut
    other = skewed("host-int8", "transformer", backend="pte-int8")
    supernet = api.Supernet.load(tiny_checkpoint)
    found = api.search(supernet, budgets=[(str(path), middle(lut)), (other, middle(other))],
                       settings=api.SearchSettings(population=4, generations=2, parents=2, coarse_samples=2000))
    host, int8 = api.Predictor(lut, supernet.space, supernet.num_classes), api.Predictor(other, supernet.space, supernet.num_classes)
    assert all(host.predict(c.config).ms <= middle(lut) and int8.predict(c.config).ms <= middle(other) for c in found.evaluated)
