"""Transfer fitting on synthetic devices: a source LUT of the tiny space and a "new device" that
scales each kind of entry by a known factor, so the fit's answers can be checked exactly."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import orchestrator.lut.entry_flops as flops
from orchestrator.lut.entry_flops import entry_flops
from orchestrator.lut.transfer import Columns, choose_networks, design
from orchestrator.lut.transfer_fit import common_factor, fit
from search.nas.lut import Lut
from search.space import SearchSpace
from search.space.encoding import decode, random_batch
from tests.lut_factory import plan_lut

KIND_FACTORS = {
    "overhead": 0.6, "stem": 3.0, "mbconv_transition": 2.0, "mbconv_layer": 2.2,
    "transformer_shell": 1.2, "transformer_layer": 4.0, "head": 1.0,
}


@pytest.fixture(scope="module")
def source(tiny: SearchSpace) -> Lut:
    return Lut.of(plan_lut(tiny, resolution=64))


@pytest.fixture(scope="module")
def columns(source: Lut, tiny: SearchSpace, export_cache: Path) -> Columns:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE", str(export_cache))  # the FLOP counts test_transfer_cli's transfers use too
        return Columns.of(source, entry_flops(tiny, 64, "removal"))


def device_ms(lut: Lut, columns: Columns, configs, space: SearchSpace, factors: dict[str, float], per_gflop: float = 0.0) -> np.ndarray:
    """What a device measures that scales kind k by factors[k] and adds `per_gflop` ms per GFLOP
    of transformer layers."""
    x, _ = design(lut, columns, configs, space)
    kinds = [i for i, level in enumerate(columns.levels) if level == 0]
    work = x[:, columns.names.index("flops/transformer_layer")] / columns.ms_per_flop / 1e9
    return sum(x[:, i] * factors[columns.names[i]] for i in kinds) + per_gflop * work


def fitted(lut: Lut, columns: Columns, configs, measured: np.ndarray, space: SearchSpace):
    x, total = design(lut, columns, configs, space)
    weights = np.array([columns.contributions[k] / e["latency_ms"] for k, e in lut.entries.items()])
    return fit(x, total, measured, columns.levels, weights)


def predicted(lut: Lut, columns: Columns, result, configs, space: SearchSpace) -> np.ndarray:
    x, total = design(lut, columns, configs, space)
    return result.common * (total + x @ result.u)


def factor(result, columns: Columns, lut: Lut, key: str) -> float:
    base = lut.entries[key]["latency_ms"]
    return result.latency(base, columns.contributions[key]) / base


def unseen(space: SearchSpace, n: int = 50):
    batch = random_batch(space, n, np.random.default_rng(99), 64)
    return [decode(batch, i, space) for i in range(n)]


@pytest.mark.slow
def test_the_first_network_is_the_source_anchor_and_the_rest_are_distinct(source, columns, tiny) -> None:
    configs = choose_networks(source, columns, tiny, 10, seed=0)
    assert configs[0].to_dict() == source.context
    assert len({c.to_json() for c in configs}) == 10


@pytest.mark.slow
def test_the_choice_is_the_same_for_the_same_seed(source, columns, tiny) -> None:
    assert choose_networks(source, columns, tiny, 5, seed=3) == choose_networks(source, columns, tiny, 5, seed=3)


@pytest.mark.slow
def test_chosen_networks_tell_the_kinds_apart_better_than_random_ones(source, columns, tiny) -> None:
    kinds = columns.levels == 0

    def information(configs) -> float:
        x, total = design(source, columns, configs, tiny)
        shares = (x / total[:, None])[:, kinds]
        return float(np.linalg.slogdet(shares.T @ shares + 1e-6 * np.eye(kinds.sum()))[1])

    assert information(choose_networks(source, columns, tiny, 10, seed=0)) > information(unseen(tiny, 10)) + 1.0


@pytest.mark.slow
def test_every_entry_contributes_its_latency_to_its_kind_and_stage_and_its_flops_to_its_kinds_flops(source, columns) -> None:
    key = "transformer/Transformer-2/layer/w32/h2/r2"
    c = dict(zip(columns.names, columns.contributions[key]))
    latency = source.entries[key]["latency_ms"]
    assert c["transformer_layer"] == c["transformer_layer/Transformer-2"] == latency
    assert c["flops/transformer_layer"] > 0
    assert sum(v != 0 for v in c.values()) == 3
    assert dict(zip(columns.names, columns.contributions["overhead"]))["overhead"] == source.entries["overhead"]["latency_ms"]


@pytest.mark.slow
def test_one_network_gives_the_anchored_source(source, columns, tiny) -> None:
    anchor = choose_networks(source, columns, tiny, 1, seed=0)
    measured = device_ms(source, columns, anchor, tiny, KIND_FACTORS)
    result = fitted(source, columns, anchor, measured, tiny)
    _, total = design(source, columns, anchor, tiny)
    assert result.common == pytest.approx(measured[0] / total[0])
    assert np.allclose(result.u, 0.0, atol=1e-4)
    assert result.sigma is None


@pytest.mark.slow
def test_a_uniformly_faster_device_gets_one_factor_for_every_kind(source, columns, tiny) -> None:
    configs = choose_networks(source, columns, tiny, 10, seed=0)
    result = fitted(source, columns, configs, device_ms(source, columns, configs, tiny, dict.fromkeys(KIND_FACTORS, 0.5)), tiny)
    for key in source.entries:
        assert factor(result, columns, source, key) == pytest.approx(0.5, rel=1e-3)


@pytest.mark.slow
def test_ten_networks_recover_per_kind_factors_and_predict_unseen_subnets(source, columns, tiny) -> None:
    configs = choose_networks(source, columns, tiny, 10, seed=0)
    noise = np.random.default_rng(0).normal(1.0, 0.005, len(configs))
    result = fitted(source, columns, configs, device_ms(source, columns, configs, tiny, KIND_FACTORS) * noise, tiny)
    test = unseen(tiny)
    truth = device_ms(source, columns, test, tiny, KIND_FACTORS)
    assert np.max(np.abs(predicted(source, columns, result, test, tiny) / truth - 1)) < 0.05
    _, total = design(source, columns, test, tiny)
    anchored = total * common_factor(total, truth)
    assert np.max(np.abs(anchored / truth - 1)) > 0.10  # one factor is not enough for this device


@pytest.mark.slow
def test_a_device_whose_layers_cost_their_arithmetic_is_fitted_through_the_flops_columns(source, columns, tiny) -> None:
    """Like portable kernels: transformer layers cost 1 ms per GFLOP on top of a small share of
    their source latency, which no factor on the source latency alone can express."""
    factors = {**dict.fromkeys(KIND_FACTORS, 1.0), "transformer_layer": 0.2}
    configs = choose_networks(source, columns, tiny, 10, seed=0)
    result = fitted(source, columns, configs, device_ms(source, columns, configs, tiny, factors, per_gflop=1000.0), tiny)
    assert result.lambdas[2] < 1e6  # the FLOPs columns were used
    test = unseen(tiny)
    truth = device_ms(source, columns, test, tiny, factors, per_gflop=1000.0)
    assert np.max(np.abs(predicted(source, columns, result, test, tiny) / truth - 1)) < 0.05


@pytest.mark.slow
def test_factors_come_with_an_uncertainty_once_networks_outnumber_what_was_fitted(source, columns, tiny) -> None:
    configs = choose_networks(source, columns, tiny, 10, seed=0)
    noise = np.random.default_rng(1).normal(1.0, 0.02, len(configs))
    result = fitted(source, columns, configs, device_ms(source, columns, configs, tiny, KIND_FACTORS) * noise, tiny)
    sd = result.latency_sd(1.0, columns.column("overhead"), len(configs))
    assert sd is not None and 0 < sd < 0.5
    assert np.all(np.isfinite(result.loo_ms))


@pytest.mark.slow
def test_no_entry_costs_less_than_a_twentieth_of_its_source_latency_times_the_common_factor(source, columns, tiny) -> None:
    configs = choose_networks(source, columns, tiny, 4, seed=0)
    result = fitted(source, columns, configs, device_ms(source, columns, configs, tiny, {**KIND_FACTORS, "overhead": 1e-4}), tiny)
    assert min(factor(result, columns, source, key) for key in source.entries) >= 0.05 * result.common - 1e-9


def test_processes_that_need_the_flop_counts_at_once_count_them_once(tiny: SearchSpace, tmp_path: Path, monkeypatch) -> None:
    """Two at once (threads here: the cache's lock excludes them as it does processes), the counting
    itself slowed so that the second asks while the first counts."""
    counted: list[int] = []

    def slow_count(plan, space):
        counted.append(1)
        time.sleep(0.3)
        return {e.key: 1.0 for e in plan.entries}

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(flops, "_count", slow_count)
    answers: list[dict[str, float]] = []
    threads = [threading.Thread(target=lambda: answers.append(entry_flops(tiny, 64, "removal"))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(counted) == 1 and len(answers) == 2 and answers[0] == answers[1]


def test_damaged_flop_counts_are_counted_again(tiny: SearchSpace, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(flops, "_count", lambda plan, space: {e.key: 2.0 for e in plan.entries})
    first = entry_flops(tiny, 64, "removal")
    (saved,) = (tmp_path / "flops").glob("*.json")
    saved.write_text("{broken")
    assert entry_flops(tiny, 64, "removal") == first and set(first.values()) == {2.0}
