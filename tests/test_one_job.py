"""`bench search`, the Python API's `search` and the benchmarks run one search job: the finish's
rule lives in one place (`search.nas.budget.finish_pick` and `measures_within`, with each
constraint's tolerance from its registration), and a change there reaches every door."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import autovit_bench as api
from benchmarks.search_quality_work import finish_choice
from search.nas.constraints import CONSTRAINTS
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


def test_the_finish_margin_changed_in_one_place_reaches_bench_search_the_api_and_the_benchmark(tiny_checkpoint, tmp_path, bench_cli, monkeypatch, host_lut):
    path, lut = host_lut
    fake_sessions(monkeypatch, {"host": lut}, slower=SLOWER)
    budget = f"{middle(lut):.3f}"
    assert finish_choice([SLOWER * 0.9], 1.0).within is False
    monkeypatch.setattr(CONSTRAINTS["latency"], "tolerance", MARGIN)
    assert finish_choice([SLOWER * 0.9], 1.0).within is True
    cli = bench_cli("search", "--checkpoint", str(tiny_checkpoint), "--lut", str(path), "--latency-ms", budget, "--out", str(tmp_path / "cli"), "--json", *FAST)
    assert cli.exit_code == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert doc["within_budget"] is True and doc["devices"]["host"]["constraints"]["latency"]["ratio"] > 1 + 0.05
    supernet = api.Supernet.load(tiny_checkpoint)
    found = api.search(supernet, str(path), float(budget), settings=api.SearchSettings(population=4, generations=2, parents=2, coarse_samples=2000),
                       measure=True, out=tmp_path / "api")
    assert found.result["within_budget"] is True and found.result["devices"]["host"]["constraints"]["latency"]["ratio"] > 1 + 0.05
    assert found.config.hash == json.loads(cli.stdout)["config_hash"]  # the same job: the same subnet from the same inputs


def test_the_api_search_holds_every_budget_at_once_and_calibrates_as_bench_search(tiny_checkpoint, tmp_path, host_lut):
    from tests.test_joint_search import skewed

    path, lut = host_lut
    other = skewed("host-int8", "transformer", backend="pte-int8")
    supernet = api.Supernet.load(tiny_checkpoint)
    found = api.search(supernet, budgets=[(str(path), middle(lut)), (other, middle(other))],
                       settings=api.SearchSettings(population=4, generations=2, parents=2, coarse_samples=2000))
    host, int8 = api.Predictor(lut, supernet.space, supernet.num_classes), api.Predictor(other, supernet.space, supernet.num_classes)
    assert all(host.predict(c.config).ms <= middle(lut) and int8.predict(c.config).ms <= middle(other) for c in found.evaluated)
