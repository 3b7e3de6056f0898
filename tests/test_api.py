"""The public Python surface (`search.api`): what docs/api.md promises, one behaviour per test."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from search import api
from search.nas.predictor import LatencyPredictor
from search.space.config import validate
from search.space.params import count_params

ROOT = Path(__file__).resolve().parents[1]
QUICK_LUT = ROOT / "luts" / "host" / "tiny" / "d0fb186589faa0c4.json"


@pytest.fixture(scope="module")
def predictor() -> api.Predictor:
    return api.Predictor(QUICK_LUT, num_classes=10)


def test_a_lut_loads_by_path_by_id_and_by_id_prefix(tmp_path):
    shutil.copytree(ROOT / "luts" / "host", tmp_path / "host")
    by_path = api.load_lut(QUICK_LUT)
    assert api.load_lut("d0fb186589faa0c4", tmp_path) == by_path
    assert api.load_lut("d0fb", tmp_path)["id"] == "d0fb186589faa0c4"


def test_a_lut_id_prefix_shared_by_two_luts_is_refused_naming_both(tmp_path):
    shutil.copytree(ROOT / "luts" / "host", tmp_path / "host")
    with pytest.raises(api.UserError, match="ambiguous.*6b8dc6fffb6e6bf1.*6cbb6555340dc483|ambiguous.*6cbb6555340dc483.*6b8dc6fffb6e6bf1"):
        api.load_lut("6", tmp_path)


def test_an_unknown_lut_is_one_error_naming_the_folder(tmp_path):
    with pytest.raises(api.UserError, match=f"no LUT file 'abc123' and no LUT with that id under {tmp_path}"):
        api.load_lut("abc123", tmp_path)


def test_one_prediction_is_the_luts_sum_inside_the_luts_interval(predictor):
    config = api.sample_configs(predictor.space, 1, seed=3, resolution=128)[0]
    p = predictor.predict(config)
    inner = LatencyPredictor(predictor.lut, predictor.space)
    assert (p.ms, p.low, p.high) == pytest.approx((inner.predict(config), *inner.interval(config)))
    assert p.low < p.ms < p.high
    assert api.Predictor(QUICK_LUT, num_classes=100).predict(config).params == count_params(config, predictor.space.for_classes(100))


def test_many_predictions_equal_one_at_a_time(predictor):
    configs = api.sample_configs(predictor.space, 20, seed=4, resolution=128)
    many = predictor.predict_many(configs)
    assert [tuple(round(float(x), 9) for x in (m, lo, hi)) for m, lo, hi in zip(many.ms, many.low, many.high)] == [
        tuple(round(x, 9) for x in predictor.predict(c)[:3]) for c in configs
    ]
    assert many.params.tolist() == [predictor.predict(c).params for c in configs]


def test_a_config_at_another_resolution_is_refused(predictor):
    config = api.sample_configs(predictor.space, 1, seed=0, resolution=64)[0]
    with pytest.raises(api.UserError, match="measured at 128 px, but a config is at 64 px"):
        predictor.predict(config)


def test_sampled_configs_are_reproducible_by_seed(tiny):
    assert api.sample_configs(tiny, 5, seed=7) == api.sample_configs(tiny, 5, seed=7) != api.sample_configs(tiny, 5, seed=8)


def test_every_subnet_of_a_space_is_listed_once(tiny):
    small = replace(
        tiny,
        resolutions=(128,),
        stem=replace(tiny.stem, width=(8,)),
        mbconv=tuple(replace(s, width=s.width[:1], depth=(1,)) for s in tiny.mbconv),
        transformer=tuple(replace(s, heads=(1,)) for s in tiny.transformer),
    )
    listed = list(api.iter_configs(small))
    assert len(listed) == small.num_subnets() == 4 * 6**3 + 5 * 6**4  # increasing width sequences: 4 of 3 stages, 5 of 4
    assert len({c.hash for c in listed}) == len(listed)
    assert all(validate(c, small) for c in listed)


def test_the_search_keeps_every_evaluated_subnet_within_the_budget_and_returns_the_most_accurate(predictor):
    evaluated = []

    def accuracy(config):
        evaluated.append(config)
        return predictor.predict(config).params / 1e6

    found = api.run_search(predictor, accuracy, latency_ms=0.8, settings=api.SearchSettings(population=8, generations=3, parents=4))
    assert found.limit_ms == 0.8
    assert len(found.evaluated) == len(evaluated) > 8
    assert all(predictor.predict(c).ms <= 0.8 for c in evaluated)
    assert found.best.accuracy == max(c.accuracy for c in found.evaluated)
