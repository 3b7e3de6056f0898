"""The latency predictor: the LUT's entries summed over what a subnet contains, for one config or a
vectorised batch, and an error naming what is missing rather than a silent zero."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from search.nas.lut import LUTError, content_id
from search.nas.predictor import LatencyPredictor, parts
from search.space import load_space
from search.space.config import MBConvStage, SubnetConfig
from search.space.encoding import decode, encode, random_batch
from search.space.sampling import random_config
from tests.lut_factory import CONTEXT, LATENCIES, make_lut

TINY = load_space("tiny")


def full_lut(latency: float = 1.0) -> dict:
    """A LUT of the tiny space with every entry the plan has, each `latency` ms (layers 0.1 ms)."""
    from orchestrator.plan.builder import build_plan

    entries = {
        e.key: (e.kind, e.stage, e.params, 0.1 if e.kind.endswith("layer") else latency)
        for e in build_plan(TINY).entries
    }
    return make_lut(TINY, latencies=entries)


def test_context_network_sums_its_entries() -> None:
    predictor = LatencyPredictor(make_lut(TINY), TINY)
    context = SubnetConfig.from_dict(CONTEXT)
    expected = sum(LATENCIES[p.key][3] for p in parts(context, TINY))
    assert predictor.predict(context) == pytest.approx(expected)
    assert expected == pytest.approx(0.5 + 1.0 + 2.0 + 1.5 + 3.0 + 2.5 + 1.25 + 4.0 + 2.0 + 3.0 + 3.5 + 2.5 + 3.0 + 2.0 + 2.0 + 2 * 1.75 + 0.75)


def test_every_layer_counts_once_per_occurrence() -> None:
    predictor = LatencyPredictor(full_lut(), TINY)
    config = random_config(TINY, random.Random(3), 64)
    layers = sum(s.depth for s in config.transformer) + sum(s.depth - 1 for s in config.mbconv)
    fixed = 1 + 1 + len(config.mbconv) + len(config.transformer) + 1
    assert predictor.predict(config) == pytest.approx(fixed * 1.0 + layers * 0.1)


def test_vectorised_batch_equals_one_by_one() -> None:
    predictor = LatencyPredictor(full_lut(), TINY)
    configs = [random_config(TINY, random.Random(s), 64) for s in range(200)]
    np.testing.assert_allclose(predictor.predict_many(configs), [predictor.predict(c) for c in configs], rtol=1e-12)


def test_random_batch_decodes_to_valid_configs_with_the_same_prediction() -> None:
    predictor = LatencyPredictor(full_lut(), TINY)
    batch = random_batch(TINY, 100, np.random.default_rng(0), 64)
    batched = predictor.predict_batch(batch)
    for row in range(100):
        assert predictor.predict(decode(batch, row, TINY)) == pytest.approx(batched[row])
    assert encode([decode(batch, 5, TINY)], TINY).t_depth.tolist() == [batch.t_depth[5].tolist()]


def test_missing_entry_is_an_error_naming_it() -> None:
    lut = full_lut()
    del lut["entries"]["transformer/Transformer-2/layer/w32/h2/r2"]
    lut["id"] = content_id(lut)
    predictor = LatencyPredictor(lut, TINY)
    config = SubnetConfig.from_dict(CONTEXT)
    config = dataclasses.replace(
        config, transformer=(config.transformer[0], dataclasses.replace(config.transformer[1], heads=(2,), mlp_ratio=(2.0,)), *config.transformer[2:])
    )
    with pytest.raises(LUTError, match=r"has no entry 'transformer/Transformer-2/layer/w32/h2/r2', which config \w+ needs"):
        predictor.predict(config)
    with pytest.raises(LUTError, match="transformer/Transformer-2/layer/w32/h2/r2"):
        predictor.predict_many([config])


def test_config_at_another_resolution_is_an_error() -> None:
    predictor = LatencyPredictor(full_lut(), TINY)
    config = random_config(TINY, random.Random(0), 128)
    with pytest.raises(LUTError, match="was measured at 64 px, but a config is at 128 px"):
        predictor.predict(config)


def test_lut_of_another_space_is_refused() -> None:
    with pytest.raises(LUTError, match="is for space 'tiny', not 'xxs'"):
        LatencyPredictor(full_lut(), load_space("xxs"))


def test_deeper_mbconv_stage_costs_one_more_layer_entry() -> None:
    predictor = LatencyPredictor(full_lut(), TINY)
    base = random_config(TINY, random.Random(1), 64)
    shallow = dataclasses.replace(base, mbconv=(MBConvStage(base.mbconv[0].width, 1, 1.0), *base.mbconv[1:]))
    deep = dataclasses.replace(base, mbconv=(MBConvStage(base.mbconv[0].width, 2, 1.0), *base.mbconv[1:]))
    assert predictor.predict(deep) - predictor.predict(shallow) == pytest.approx(0.1)


def test_a_subnets_interval_adds_a_stages_entries_and_combines_stages_in_quadrature() -> None:
    predictor = LatencyPredictor(make_lut(TINY), TINY)  # every entry's interval: ±5% of it
    context = SubnetConfig.from_dict(CONTEXT)
    groups: dict[str, float] = {}
    for p in parts(context, TINY):
        group = "fixed" if p.part == "stem / head / overhead" else p.stage
        groups[group] = groups.get(group, 0.0) + 0.05 * LATENCIES[p.key][3]
    half = float(np.sqrt(sum(v**2 for v in groups.values())))
    point = predictor.predict(context)
    assert predictor.interval(context) == pytest.approx((point - half, point + half))
    assert half < 0.05 * point  # narrower than if every entry's error had one sign


def test_the_batch_interval_is_each_subnets_own() -> None:
    lut = full_lut()
    for i, e in enumerate(lut["entries"].values()):
        e["ci_ms"] = [e["latency_ms"] * (0.9 - 0.01 * (i % 5)), e["latency_ms"] * (1.05 + 0.01 * (i % 3))]
    lut["id"] = content_id(lut)
    predictor = LatencyPredictor(lut, TINY)
    batch = random_batch(TINY, 50, np.random.default_rng(3), 64)
    low, high = predictor.interval_batch(batch)
    own = np.array([predictor.interval(decode(batch, i, TINY)) for i in range(50)])
    assert np.allclose(low, own[:, 0]) and np.allclose(high, own[:, 1])
