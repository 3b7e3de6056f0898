"""Budgets, the coarse phase, the three strategies and resumable search state (synthetic LUT and
accuracy, so every behaviour is checked exactly and fast)."""

import json
import random
import re

import numpy as np
import pytest

from infra.errors import UserError
from search.nas.budget import BudgetError, Pricer, one_device
from search.nas.constraints import TOLERANCE
from search.nas.predictor import LatencyPredictor
from search.nas.strategies import STRATEGIES, Candidate, Search, SearchSettings, SearchState, coarse_phase, pareto_front, skeleton
from search.space import load_space
from search.space.encoding import decode, random_batch
from search.space.params import count_params, params_batch
from search.space.sampling import max_config, min_config
from tests.lut_factory import restamped, sized_lut


@pytest.fixture(scope="module")
def predictor(tiny):
    return LatencyPredictor(sized_lut(tiny), tiny)


def pricer_for(predictor, space, latency_ms, params=None, validation=None):
    """One device's pricer; `params`: a parameter count, `validation`: the LUT's latest validation record."""
    limits = {"latency": latency_ms, **({"params": params / 1e6} if params is not None else {})}
    return one_device(predictor.lut.with_validation(validation), space, limits)


def calibration_of(predictor, validation):
    return pricer_for(predictor, predictor.space, 10.0, validation=validation).only.prices["latency"].calibration


TINY = load_space("tiny")


def synthetic_accuracy(config):
    """Bigger subnets are more accurate, plus a fixed per-config jitter (stands in for a supernet)."""
    jitter = random.Random(config.hash).uniform(-0.01, 0.01)
    return min(1.0, count_params(config, TINY) / 3e5) + jitter


def test_vectorised_parameter_count_equals_the_exact_count(tiny):
    batch = random_batch(tiny, 300, np.random.default_rng(0), 64)
    assert params_batch(tiny)(batch).tolist() == [count_params(decode(batch, i, tiny), tiny) for i in range(300)]


def validation_of(predictor, configs, measured_over_predicted):
    """A validation record whose subnets measured `measured_over_predicted` times their prediction."""
    points = [
        {"config": c.to_dict(), "predicted_ms": predictor.predict(c), "raw_predicted_ms": predictor.predict(c), "measured_ms": predictor.predict(c) * r}
        for c, r in zip(configs, measured_over_predicted)
    ]
    return {"created_at": "2026-11-25T00:00:00", "points": points}


def spread_configs(space, n):
    batch = random_batch(space, n, np.random.default_rng(3), 64)
    return [decode(batch, i, space) for i in range(n)]


def test_calibrated_intervals_are_as_wide_as_the_validated_errors_need_not_as_the_entries_say(predictor, tiny):
    configs = spread_configs(tiny, 20)
    pricer = pricer_for(predictor, tiny, 10.0, validation=validation_of(predictor, configs, [1.0, 1.02, 0.98, 1.01, 0.99] * 4))
    c = pricer.only.prices["latency"].calibration
    assert c.points == 20 and 0.9 <= c.loo_coverage <= 1.0
    config = configs[0]
    raw_lo, raw_hi = predictor.interval(config)
    lo, hi = pricer.only.interval("latency", config)
    point = predictor.predict(config)
    assert lo < point < hi
    errors = [abs(r - 1) * point for r in (1.02, 0.98)]
    assert hi - point >= max(errors) * 0.5 and (hi - lo) != pytest.approx(raw_hi - raw_lo)


def test_a_predictor_that_under_predicts_moves_the_calibrated_interval_up():
    predictor = LatencyPredictor(sized_lut(TINY), TINY)
    configs = spread_configs(TINY, 20)
    fair = calibration_of(predictor, validation_of(predictor, configs, [0.99, 1.01] * 10))
    low = calibration_of(predictor, validation_of(predictor, configs, [1.07, 1.09] * 10))
    assert fair.centre == pytest.approx(0.0, abs=0.05) and low.centre > 1.0


def test_budget_without_validation_keeps_the_raw_intervals_and_the_point_limit_is_the_budget(predictor, tiny):
    held = pricer_for(predictor, tiny, 10.0, params=1_500_000).only
    assert held.prices["latency"].calibration is None and (held.limits["latency"].value, held.limits["params"].value) == (10.0, 1.5)
    config = max_config(tiny, 64)
    assert held.interval("latency", config) == predictor.interval(config)


def widened(lut: dict, factor: float) -> dict:
    """The LUT with every entry's interval `factor` times as wide about its value."""
    entries = {
        k: {**e, "ci_ms": [e["latency_ms"] - factor * (e["latency_ms"] - e["ci_ms"][0]), e["latency_ms"] + factor * (e["ci_ms"][1] - e["latency_ms"])]}
        for k, e in lut["entries"].items()
    }
    return restamped({**lut, "entries": entries})


def test_a_subnet_whose_predicted_interval_passes_the_budget_plus_tolerance_is_not_feasible(tiny):
    lut = sized_lut(tiny)
    config = max_config(tiny, 64)
    point = LatencyPredictor(lut, tiny).predict(config)
    assert pricer_for(LatencyPredictor(lut, tiny), tiny, point).feasible(config)  # the point prediction meets the budget exactly
    uncertain = LatencyPredictor(widened(lut, 4.0), tiny)
    high, ceiling = uncertain.interval(config)[1], point * (1 + TOLERANCE)
    assert high > ceiling
    pricer = pricer_for(uncertain, tiny, point)
    assert not pricer.feasible(config)
    priced = pricer.price(2000, seed=0)
    assert priced.feasible.any() and (uncertain.interval_batch(priced.batch)[1][priced.feasible] <= ceiling).all()


def test_a_budget_refused_for_the_intervals_names_the_luts_noise_and_a_budget_that_passes(tiny):
    lut = widened(sized_lut(tiny), 20.0)
    predictor = LatencyPredictor(lut, tiny)
    budget = predictor.least_prediction() * 1.01
    with pytest.raises(BudgetError, match="entries are too uncertain.*no subnet's 95% interval stays under.*disturbed.*bench validate") as refused:
        pricer_for(predictor, tiny, budget).check_reachable()
    named = float(re.search(r"raise --latency-ms to at least ([0-9.]+)", str(refused.value)).group(1))
    pricer_for(predictor, tiny, named).check_reachable()  # the budget it names passes every check


@pytest.mark.slow
def test_budget_below_the_fastest_subnet_names_its_latency_and_a_budget_that_passes(predictor, tiny):
    fastest = predictor.least_prediction()
    with pytest.raises(BudgetError, match=f"the fastest subnet is predicted at {fastest:.3g} ms") as refused:
        pricer_for(predictor, tiny, fastest * 0.5).check_reachable()
    named = float(re.search(r"raise --latency-ms to at least ([0-9.]+)", str(refused.value)).group(1))
    pricer_for(predictor, tiny, named).check_reachable()
    with pytest.raises(BudgetError, match="--params-m"):
        pricer_for(predictor, tiny, 1e5, params=1000).check_reachable()


def test_a_budget_most_subnets_meet_is_known_reachable_from_the_first_thousand_priced(predictor, tiny, monkeypatch):
    """A search checks its budget twice before it starts; pricing all 50,000 draws each time cost
    a quarter of a second where the first chunk already holds a subnet within it."""
    pricer = pricer_for(predictor, tiny, predictor.predict(max_config(tiny, 64)))
    priced = []
    monkeypatch.setattr(pricer, "_priced", lambda batch: priced.append(len(batch)) or Pricer._priced(pricer, batch))
    pricer.check_reachable()
    assert priced == [1000]


def test_a_budget_the_fastest_subnet_by_the_lut_meets_is_searched_though_the_narrowest_does_not_meet_it(tiny):
    """Under a LUT the narrowest subnet is not always the fastest: here its stem is the slow part."""
    lut = sized_lut(tiny)
    lut["entries"]["stem/w8"]["latency_ms"] = lut["entries"]["stem/w16"]["latency_ms"] + 1.0
    lut = restamped(lut)
    predictor = LatencyPredictor(lut, tiny)
    narrowest, fastest = predictor.predict(min_config(tiny, 64)), predictor.least_prediction()
    assert fastest < narrowest
    budget = (fastest + narrowest) / 2
    pricer_for(LatencyPredictor(widened(lut, 0.0), tiny), tiny, budget).check_reachable()  # points only: no interval to hold


def test_coarse_phase_keeps_within_both_budgets_one_seed_per_skeleton_slowest_first(predictor, tiny):
    """Algorithm 2: latency ranks the skeletons, parameters are only a threshold."""
    mid = (predictor.predict(min_config(tiny, 64)) + predictor.predict(max_config(tiny, 64))) / 2
    pricer = pricer_for(predictor, tiny, mid, params=200_000)
    seeds, report = coarse_phase(pricer, 5000, 20, seed=0)
    assert report.samples == 5000 and 0 < report.feasible < 5000 and len(seeds) == 20
    assert all(pricer.feasible(c) for c in seeds)
    assert len({skeleton(c) for c in seeds}) == 20
    latencies = [predictor.predict(c) for c in seeds]
    assert latencies == sorted(latencies, reverse=True)
    sizes = [count_params(c, tiny) for c in seeds]
    assert max(latencies) <= mid and max(sizes) <= 200_000
    assert sizes != sorted(sizes, reverse=True)  # parameters did not rank them


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_evaluated_subnet_meets_both_budgets_and_the_evaluation_cap(predictor, tiny, strategy):
    mid = (predictor.predict(min_config(tiny, 64)) + predictor.predict(max_config(tiny, 64))) / 2
    pricer = pricer_for(predictor, tiny, mid, params=180_000)
    settings = SearchSettings(strategy, population=10, generations=5, parents=4, coarse_samples=3000, max_evaluations=30)
    state = Search(settings, pricer, synthetic_accuracy).run()
    assert len(state.evaluated) == 30
    assert all(pricer.feasible(c.config) for c in state.evaluated.values())
    assert state.best().accuracy == max(c.accuracy for c in state.evaluated.values())


def test_a_strategy_registered_in_one_module_is_found_by_name_and_run(predictor, tiny, monkeypatch):
    """A new strategy is one class with `@register`; nothing else changes (the settings, the CLI's
    --strategy and the test above find it by name)."""
    from search.nas.strategies import registry

    monkeypatch.setattr(registry, "STRATEGIES", dict(registry.STRATEGIES))

    @registry.register
    class SmallestFirst(registry.Strategy):
        name = "smallest-first"

        def initial(self, ctx):
            return registry.Seeds([min_config(tiny, 64)])

        def generations(self) -> int:
            return 1

    mid = (predictor.predict(min_config(tiny, 64)) + predictor.predict(max_config(tiny, 64))) / 2
    state = Search(SearchSettings("smallest-first", population=2, generations=3, parents=1), pricer_for(predictor, tiny, mid), synthetic_accuracy).run()
    assert list(state.evaluated) == [min_config(tiny, 64).hash] and state.generation == 1


def test_coarse_to_fine_beats_random_search_at_equal_evaluations(predictor, tiny):
    mid = (predictor.predict(min_config(tiny, 64)) + predictor.predict(max_config(tiny, 64))) / 2
    pricer = pricer_for(predictor, tiny, mid)
    best = {
        s: Search(SearchSettings(s, population=10, generations=4, parents=3, coarse_samples=5000, max_evaluations=40), pricer, synthetic_accuracy)
        .run().best().accuracy
        for s in ("coarse-to-fine", "random")
    }
    assert best["coarse-to-fine"] >= best["random"]


def test_interrupted_search_resumes_to_the_same_result(predictor, tiny, tmp_path):
    pricer = pricer_for(predictor, tiny, predictor.predict(max_config(tiny, 64)) * 0.8)
    settings = SearchSettings(population=8, generations=4, parents=3, coarse_samples=2000)
    straight = Search(settings, pricer, synthetic_accuracy).run()

    saved = []
    calls = {"n": 0}

    def flaky(config):
        calls["n"] += 1
        if calls["n"] == 20:  # Ctrl-C during generation 3
            raise KeyboardInterrupt
        return synthetic_accuracy(config)

    def save(state):
        (tmp_path / "state.json").write_text(json.dumps(state.to_dict()))
        saved.append(state.generation)

    with pytest.raises(KeyboardInterrupt):
        Search(settings, pricer, flaky, save).run()
    assert saved == [1, 2]
    state = SearchState.from_dict(json.loads((tmp_path / "state.json").read_text()))
    resumed = Search(settings, pricer, synthetic_accuracy).run(state)
    assert resumed.generation == 4
    assert set(resumed.evaluated) == set(straight.evaluated)
    assert resumed.best().config == straight.best().config


def test_a_prediction_over_the_budget_only_by_rounding_is_within_it_given_a_slack(predictor, tiny):
    """What a resumed search allows a saved subnet: the coarse phase priced it in a batch, summed in another order."""
    config = max_config(tiny, 64)
    budget = predictor.predict(config) * (1 - 1e-13)
    pricer = pricer_for(predictor, tiny, budget)
    assert pricer.excess(config) == f"predicted at {predictor.predict(config):.3f} ms, over the {budget:g} ms budget"
    assert pricer.excess(config, slack=1e-9) is None


def test_a_saved_state_whose_generator_state_is_not_one_is_refused_saying_so(tiny):
    config = min_config(tiny, 64)
    state = SearchState({}, 1, [], {config.hash: Candidate(config, 0.5, 1.0, 10, 0)}, random.Random(0).getstate())
    doc = json.loads(json.dumps(state.to_dict()))
    doc["rng"][1] = doc["rng"][1][:10]
    with pytest.raises(ValueError, match=r"^rng: not a state of Python's random generator \(state vector is the wrong size\)$"):
        SearchState.from_dict(doc)


def test_pareto_front_keeps_only_undominated_candidates(tiny):
    c = min_config(tiny, 64)

    def cand(cost, acc):
        return Candidate(c, acc, cost, 0, 0)

    front = pareto_front([cand(1, 0.5), cand(2, 0.4), cand(3, 0.7), cand(2.5, 0.6), cand(4, 0.65)])
    assert [(x.cost, x.accuracy) for x in front] == [(1, 0.5), (2.5, 0.6), (3, 0.7)]


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="choose one of coarse-to-fine, evolution, random"):
        SearchSettings(strategy="annealing").check()


def test_a_candidate_saved_before_figures_were_per_budget_reads_with_no_cost_until_priced_again(tiny):
    legacy = {"config": min_config(tiny, 64).to_dict(), "accuracy": 0.5, "predicted_ms": 3.0, "params": 10, "generation": 0}
    state = SearchState.from_dict({"settings": {}, "generation": 1, "population": [], "evaluated": [legacy], "rng": None, "coarse": None, "seconds": 1.0})
    (c,) = state.evaluated.values()
    assert (c.cost, c.predicted, c.params) == (0.0, {}, 10)


def test_a_candidate_names_the_device_when_several_hold_the_budget_asked_for(tiny):
    c = Candidate(min_config(tiny, 64), 0.5, 0.9, 10, 0, {"phone-a": {"latency": 2.0}, "phone-b": {"latency": 3.0, "memory": 9.0}})
    assert (c.prediction("latency", "phone-b"), c.prediction("memory")) == (3.0, 9.0)
    with pytest.raises(UserError, match=r"has no one latency prediction on 2 devices \(phone-a, phone-b\); name one"):
        c.prediction("latency")


def test_a_pricer_of_several_devices_has_no_one_target_to_stand_for_them(predictor, tiny):
    one = pricer_for(predictor, tiny, 10.0)
    assert one.only is one.held[0]
    with pytest.raises(ValueError, match="holds 2 devices"):
        _ = Pricer([one.only, one.only], tiny).only
