"""The public Python surface (`search.api`): what docs/api.md promises, one behaviour per test."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import autovit_bench as api
from search.nas.constraints import shared_constraints
from search.nas.predictor import LatencyPredictor
from search.space.config import validate
from search.space.params import count_params
from tests.conftest import copy_committed_luts
from tests.lut_factory import sized_lut

ROOT = Path(__file__).resolve().parents[1]
QUICK_LUT = ROOT / "luts" / "host" / "tiny" / "d0fb186589faa0c4.json"


@pytest.fixture(scope="module")
def predictor() -> api.Predictor:
    return api.Predictor(QUICK_LUT, num_classes=10)


def test_a_lut_loads_by_path_by_id_and_by_id_prefix(tmp_path):
    copy_committed_luts(tmp_path, "host/")
    by_path = api.load_lut(QUICK_LUT)
    assert api.load_lut("d0fb186589faa0c4", tmp_path) == by_path
    assert api.load_lut("d0fb", tmp_path)["id"] == "d0fb186589faa0c4"


def test_a_lut_id_prefix_shared_by_two_luts_is_refused_naming_both(tmp_path):
    copy_committed_luts(tmp_path, "host/")
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


def test_sampled_configs_without_a_resolution_are_all_at_the_spaces_default(tiny):
    assert {c.resolution for c in api.sample_configs(tiny, 20)} == {tiny.default_resolution} == {64}


def test_a_predictors_sample_is_at_its_luts_resolution_so_it_prices_every_one(predictor):
    sample = predictor.sample(20, seed=1)
    assert {c.resolution for c in sample} == {128}
    assert sample == api.sample_configs(predictor.space, 20, seed=1, resolution=128)
    assert len(predictor.predict_many(sample)) == 20


@pytest.mark.timeout(20)
@pytest.mark.parametrize("n", [10**9, 10**30])
def test_more_sampled_configs_than_memory_holds_are_refused_at_once_naming_the_maximum(tiny, n):
    with pytest.raises(api.UserError, match=rf"n must be a whole number from 0 to 100,000, not {n}; .*random_batch\(space, n, rng, resolution\)"):
        api.sample_configs(tiny, n)


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
    assert list(found.limits.values()) == [{"latency": 0.8}]
    assert len(found.evaluated) == len(evaluated) > 8
    assert all(predictor.predict(c).ms <= 0.8 for c in evaluated)
    assert found.best.accuracy == max(c.accuracy for c in found.evaluated)


def test_a_config_dict_is_priced_as_its_config(predictor):
    config = api.sample_configs(predictor.space, 1, seed=5, resolution=128)[0]
    assert predictor.predict(config.to_dict()) == predictor.predict(config)
    assert predictor.predict_many([config.to_dict()]).ms.tolist() == [predictor.predict(config).ms]


def test_a_committed_lut_loads_by_id_from_a_folder_without_luts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_LUTS", raising=False)
    assert api.load_lut("d0fb1865") == api.load_lut(QUICK_LUT)


def test_an_empty_bench_luts_is_refused_by_the_api_as_by_bench(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_LUTS", "")
    with pytest.raises(api.UserError, match="BENCH_LUTS is set but empty; unset it"):
        api.load_lut("d0fb1865")


def test_the_pareto_front_is_the_evaluated_subnets_no_other_beats_fastest_first(predictor):
    found = api.run_search(predictor, lambda c: predictor.predict(c).params / 1e6, latency_ms=0.8,
                           settings=api.SearchSettings(population=8, generations=2, parents=4))
    front = api.pareto(found)
    assert [c.cost for c in front] == sorted(c.cost for c in front)
    assert front[-1].accuracy == found.best.accuracy
    assert not any(o.cost <= c.cost and o.accuracy > c.accuracy for c in front for o in found.evaluated)
    (device,) = found.limits
    assert all(c.cost == pytest.approx(c.predicted[device]["latency"] / 0.8) for c in front)  # one device, one ranking budget: its share


def test_the_deprecated_limit_ms_of_a_search_of_two_devices_names_where_to_read_each(predictor):
    found = api.Found(None, [], {"host": {"latency": 0.8}, "host-int8": {"latency": 0.5}})
    with pytest.warns(DeprecationWarning), pytest.raises(api.UserError, match=r"held 2 latency budgets .*: read Found.limits\[device\]\['latency'\]"):
        _ = found.limit_ms


def test_the_latency_of_a_one_device_search_still_reads_by_its_old_names_with_a_deprecation_warning(predictor):
    found = api.run_search(predictor, lambda c: 0.5, latency_ms=0.8, settings=api.SearchSettings(population=2, generations=1, parents=1, coarse_samples=200))
    (device,) = found.limits
    with pytest.warns(DeprecationWarning, match=r"read Found.limits\[device\]\['latency'\]"):
        assert found.limit_ms == 0.8
    with pytest.warns(DeprecationWarning, match=r"read Candidate.prediction\('latency', device=None\)"):
        assert found.best.predicted_ms == found.best.predicted[device]["latency"] == found.best.prediction("latency")


@pytest.mark.slow
def test_a_subnet_built_from_a_checkpoint_computes_what_the_supernet_computes_for_it(tiny_checkpoint):
    from search.supernet.model import Supernet
    from search.training.checkpoint import checkpoint_space, load_checkpoint

    doc = load_checkpoint(tiny_checkpoint)
    _, space = checkpoint_space(doc)
    config = api.sample_configs(space, 1, seed=2, resolution=64)[0]
    supernet = Supernet(space)
    supernet.load_state_dict(doc["model"])
    supernet.eval().set_active(config)
    model = api.build_model(config.to_dict(), tiny_checkpoint)
    x = torch.randn(2, 3, 64, 64)
    assert torch.allclose(model(x), supernet(x), atol=1e-4)


@pytest.mark.slow
def test_a_subnet_built_with_data_has_batchnorm_statistics_of_its_own(tiny_checkpoint, digits_dir):
    config = api.sample_configs(api.load_space("tiny"), 1, seed=2, resolution=64)[0]
    inherited, recalibrated = api.build_model(config, tiny_checkpoint), api.build_model(config, tiny_checkpoint, data=digits_dir)
    mean = lambda m: next(b for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d)).running_mean  # noqa: E731
    assert not torch.allclose(mean(inherited), mean(recalibrated))


@pytest.mark.slow
def test_a_finished_search_loads_as_its_config_model_and_latencies(tiny_search_run):
    found = api.load_found(tiny_search_run)
    result = json.loads((tiny_search_run / "result.json").read_text())
    assert (found.config.to_dict(), found.accuracy, found.predicted_ms, found.measured_ms) == (
        result["config"], result["model"]["accuracy"], result["devices"]["host"]["constraints"]["latency"]["predicted"], None
    )


@pytest.mark.slow
def test_a_result_of_the_first_version_loads_as_it_did(tiny_search_run, tmp_path):
    """A search finished before result.json's version 2 (a primary device's figures at the top) is read from those."""
    run = tmp_path / "run"
    shutil.copytree(tiny_search_run, run)
    result = json.loads((run / "result.json").read_text())
    first = {"config": result["config"], "config_hash": result["config_hash"], "accuracy": 0.5, "predicted_ms": 4.0, "measured_ms": 4.4,
             "measured_ms_at_lut_speed": 4.2, "devices": {}}
    (run / "result.json").write_text(json.dumps(first))
    found = api.load_found(run)
    assert (found.accuracy, found.predicted_ms, found.measured_ms, found.measured_ms_at_lut_speed) == (0.5, 4.0, 4.4, 4.2)
    assert found.model(torch.randn(1, 3, 64, 64)).shape == (1, 10)


@pytest.mark.slow
def test_a_found_subnet_of_a_supernet_with_fixed_shortcuts_loads_without_transition_skips(tiny_search_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_search_run, run)
    saved = torch.load(run / "best.pt", weights_only=True)
    assert saved["fixed_shortcuts"] is False
    torch.save({**saved, "fixed_shortcuts": True}, run / "best.pt")
    found = api.load_found(run)
    assert found.model.fixed_shortcuts and not any(block.has_skip for block in (stage[0] for stage in found.model.stages[:3]))


HOSTILE = [
    ("run_search(latency_ms=0)", lambda p: api.run_search(p, lambda c: 1.0, latency_ms=0), "latency_ms must be above 0 ms and at most 1e\\+06, not 0"),
    ("run_search(latency_ms=nan)", lambda p: api.run_search(p, lambda c: 1.0, latency_ms=float("nan")), "latency_ms must be .* not nan"),
    ("run_search(latency_ms='0.9')", lambda p: api.run_search(p, lambda c: 1.0, latency_ms="0.9"), "latency_ms must be .* not '0.9'"),
    ("run_search(params_m=nan)", lambda p: api.run_search(p, lambda c: 1.0, latency_ms=0.9, params_m=float("nan")), "params_m must be .* not nan"),
    ("run_search(accuracy=None)", lambda p: api.run_search(p, None, latency_ms=0.9), "accuracy must be a function"),
    ("run_search(settings={})", lambda p: api.run_search(p, lambda c: 1.0, latency_ms=0.9, settings={}), "settings must be a SearchSettings"),
    ("run_search(accuracy -> nan)", lambda p: api.run_search(p, lambda c: float("nan"), latency_ms=0.9, settings=api.SearchSettings(population=4, generations=1, parents=2)),
     r"accuracy\(config\) must return a finite number, but returned nan for subnet [0-9a-f]+"),
    ("run_search(latency_ms=0.1)", lambda p: api.run_search(p, lambda c: 1.0, latency_ms=0.1), "raise latency_ms to at least 0.55"),
    ("SearchSettings(generations=-1)", lambda p: api.SearchSettings(generations=-1), r"SearchSettings.generations must be an integer from 1 to 100,000, not -1"),
    ("SearchSettings(parents > population)", lambda p: api.run_search(p, lambda c: 1.0, latency_ms=0.9, settings=api.SearchSettings(population=4, parents=8)),
     r"SearchSettings.parents must be between 1 and the population \(4\), not 8"),
    ("Predictor({})", lambda p: api.Predictor({}), "the LUT given as lut is not an autovit-bench LUT"),
    ("Predictor(num_classes=-1)", lambda p: api.Predictor(QUICK_LUT, num_classes=-1), "num_classes must be a whole number of at least 1 or None, not -1"),
    ("predict(None)", lambda p: p.predict(None), r"config must be a SubnetConfig or its dict \(SubnetConfig.to_dict\(\)\), not NoneType"),
    ("predict('x')", lambda p: p.predict("x"), "config must be a SubnetConfig or its dict .*, not str"),
    ("predict({})", lambda p: p.predict({}), "config document is missing or mistypes the field"),
    ("predict_many('x')", lambda p: p.predict_many("x"), "configs must be a list of SubnetConfigs or their dicts, or a ConfigBatch, not str"),
    ("load_lut(None)", lambda p: api.load_lut(None), "ref must be a LUT id or a path to a LUT file, not NoneType None"),
    ("load_lut(123)", lambda p: api.load_lut(123), "ref must be a LUT id or a path to a LUT file, not int 123"),
    ("load_found(None)", lambda p: api.load_found(None), "run_dir must be the path of a `bench search` run folder"),
    ("build_model(checkpoint=None)", lambda p: api.build_model({}, None), "checkpoint must be the path of a supernet checkpoint"),
    ("pareto([1])", lambda p: api.pareto([1]), "found must be what run_search returned"),
    ("pareto(None)", lambda p: api.pareto(None), r"found must be what run_search returned, or a list of its Candidates, not NoneType None"),
    ("sample_configs(n=-1)", lambda p: api.sample_configs(p.space, -1), r"n must be a whole number from 0 to 100,000, not -1; for more subnets draw"),
    ("sample_configs(n=nan)", lambda p: api.sample_configs(p.space, float("nan")), r"n must be a whole number from 0 to 100,000, not nan"),
    ("sample_configs(resolution=7)", lambda p: api.sample_configs(p.space, 2, resolution=7),
     r"resolution must be one of space tiny's resolutions \(64, 128\) or None, not 7"),
    ("sample_configs('tiny')", lambda p: api.sample_configs("tiny", 2), r"space must be a SearchSpace \(load_space\(name\)\), not str 'tiny'"),
    ("iter_configs(None)", lambda p: api.iter_configs(None), r"space must be a SearchSpace \(load_space\(name\)\), not NoneType None"),
    ("iter_configs(resolution=7)", lambda p: api.iter_configs(p.space, 7), r"resolution must be one of space tiny's resolutions \(64, 128\) or None, not 7"),
    ("run_search(latency_ms=nan)", lambda p: api.run_search(p, lambda c: 0.5, float("nan")), r"latency_ms must be a finite number above 0 ms and at most 1e\+06, not nan"),
    ("run_search(latency_ms=-1)", lambda p: api.run_search(p, lambda c: 0.5, -1), r"latency_ms must be above 0 ms and at most 1e\+06, not -1"),
    ("run_search(latency_ms=1e7)", lambda p: api.run_search(p, lambda c: 0.5, 1e7), r"latency_ms must be above 0 ms and at most 1e\+06, not 1e\+07"),
    ("run_search(latency_ms='1')", lambda p: api.run_search(p, lambda c: 0.5, "1"), r"latency_ms must be a finite number above 0 ms and at most 1e\+06, not '1'"),
    ("SearchSettings(strategy=['x'])", lambda p: api.SearchSettings(strategy=["x"]), r"SearchSettings.strategy must be a strategy's name \(coarse-to-fine, .*\), not list \['x'\]"),
    ("SearchSettings(strategy={})", lambda p: api.SearchSettings(strategy={}), r"SearchSettings.strategy must be a strategy's name .*, not dict \{\}"),
    ("SearchSettings(coarse_samples=10**12)", lambda p: api.SearchSettings(coarse_samples=10**12),
     r"SearchSettings.coarse_samples must be an integer from 1 to 100,000,000, not 1000000000000"),
]


def test_the_api_takes_a_budget_of_any_real_number_type_as_a_float(predictor):
    """numpy's float32 (what an array gives) failed in the JSON writer, after the data had loaded."""
    import numpy as np

    budget = np.float32(predictor.predict(predictor.sample(1)[0]).ms * 2)
    found = api.run_search(predictor, lambda c: 0.5, budget, np.float64(10.0), api.SearchSettings(population=2, generations=1, parents=1, coarse_samples=200))
    ((_, limit),) = [(d, by["latency"]) for d, by in found.limits.items()]
    assert type(limit) is float and limit == pytest.approx(float(budget))


@pytest.mark.parametrize("call, problem", [(call, problem) for _, call, problem in HOSTILE], ids=[name for name, _, _ in HOSTILE])
def test_a_hostile_argument_is_one_user_error_naming_the_api_argument(predictor, call, problem):
    with pytest.raises(api.UserError, match=problem) as raised:
        call(predictor)
    assert "--" not in str(raised.value)  # the API's names, never the CLI's options


@pytest.fixture(scope="module")
def supernet(tiny_checkpoint) -> api.Supernet:
    return api.Supernet.load(tiny_checkpoint, "cpu")


@pytest.fixture(scope="module")
def lut_64(tiny_checkpoint, tmp_path_factory) -> Path:
    """A made-up LUT of tiny at the checkpoint's 64 px."""
    path = tmp_path_factory.mktemp("lut") / "tiny-64.json"
    path.write_text(json.dumps(sized_lut(api.load_space("tiny"), device={"name": "host", "platform": "host", "backend": "pte",
                                                                         "runtime": {"threads": 1}, "description": "this machine", "facts": {}})))
    return path


@pytest.fixture(scope="module")
def search_job(tiny_checkpoint, lut_64, tmp_path_factory):
    """`bench search`'s job for the checkpoint (its own data, its default batches), which scores as the search does."""
    from orchestrator.searchjob.job import SearchInputs, SearchJob
    from orchestrator.searchjob.targets import Asked
    from search.training import distributed

    inputs = SearchInputs(tiny_checkpoint, Asked.of([(lut_64, {"latency": (6.0, "latency_ms")})]), tmp_path_factory.mktemp("search"))
    return SearchJob(inputs, api.SearchSettings(), None, lambda m: None, distributed.init(prefer_gpu=False)).scorer


@pytest.mark.slow
def test_a_loaded_supernet_scores_a_subnet_as_bench_search_ranks_it(supernet, search_job):
    config = api.sample_configs(supernet.space, 1, seed=2)[0]
    assert supernet.accuracy(config) == search_job.evaluator()(config)
    assert (supernet.resolution, supernet.num_classes, supernet.classes) == (64, 10, [str(d) for d in range(10)])


@pytest.mark.slow
def test_a_loaded_supernets_subnet_is_the_module_bench_search_delivers(supernet, search_job):
    config = api.sample_configs(supernet.space, 1, seed=3)[0]
    x = torch.randn(2, 3, 64, 64)
    assert torch.allclose(supernet.subnet(config.to_dict())(x), search_job.recalibrated(config).eval()(x), atol=1e-5)


@pytest.mark.slow
def test_a_loaded_supernet_reads_its_checkpoint_and_data_once_for_many_subnets(tiny_checkpoint, digits_dir, monkeypatch):
    import search.training.checkpoint
    import search.training.data

    reads = []
    for module, name in ((search.training.checkpoint, "load_checkpoint"), (search.training.data, "open_data")):
        monkeypatch.setattr(module, name, lambda *a, real=getattr(module, name), name=name, **k: reads.append(name) or real(*a, **k))
    net = api.Supernet.load(tiny_checkpoint, "cpu")
    for config in api.sample_configs(net.space, 3, seed=4):
        net.subnet(config, digits_dir)
        net.accuracy(config, digits_dir)
    assert reads == ["load_checkpoint", "open_data"]


@pytest.mark.slow
def test_data_of_other_classes_than_the_supernets_is_refused_naming_both(supernet, digits_dir, tmp_path):
    shutil.copytree(digits_dir, tmp_path / "digits", symlinks=True)
    for split in ("train", "val"):
        shutil.rmtree(tmp_path / "digits" / split / "9")
    config = api.sample_configs(supernet.space, 1)[0]
    with pytest.raises(api.UserError, match=rf"data {tmp_path / 'digits'} has the classes \['0', .*'8'\], but the supernet .* was trained on "
                                            rf"\['0', .*'9'\]; pass data with the supernet's classes"):
        supernet.accuracy(config, tmp_path / "digits")


@pytest.mark.slow
def test_a_search_from_python_scores_every_subnet_with_the_supernet_within_the_budget(supernet, lut_64):
    """Budgets of numpy's types (what an array gives) are taken as floats."""
    import numpy as np

    found = api.search(supernet, lut_64, latency_ms=np.float32(6.0), params_m=np.float64(10.0), settings=api.SearchSettings(population=4, generations=2, parents=2))
    assert len(found.evaluated) > 4
    assert [c.accuracy for c in found.evaluated] == [supernet.accuracy(c.config) for c in found.evaluated]
    assert all(by["latency"] <= 6.0 for c in found.evaluated for by in c.predicted.values()) and all(c.config.resolution == 64 for c in found.evaluated)
    assert found.best.accuracy == max(c.accuracy for c in found.evaluated)


@pytest.mark.slow
def test_a_budget_given_per_lut_holds_on_that_device_alone(supernet, tmp_path):
    """Issue 83, finding 15: one size budget held on every device let the float32 program nobody ships bind it."""
    from tests.lut_factory import with_size

    tiny = api.load_space("tiny")
    paths = {}
    for name, backend, per_param in (("host", "pte", 4.0), ("host-int8", "pte-int8", 1.0)):
        device = {"name": name, "platform": "host", "backend": backend, "runtime": {"threads": 1}, "description": name, "facts": {}}
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(with_size(sized_lut(tiny, device=device), tiny, bytes_per_param=per_param)))
    from search.nas.budget import held
    from search.nas.lut import Lut

    size = {name: held(Lut.of(json.loads(path.read_text())), {}, tiny, tiny).prices["size"] for name, path in paths.items()}
    found = api.search(supernet, budgets=[(paths["host"], 1e5), (paths["host-int8"], 1e5)], size_mb={str(paths["host-int8"]): 0.2},
                       settings=api.SearchSettings(population=4, generations=1, parents=2), log=lambda message: None)
    assert all(size["host-int8"].point(c.config) <= 0.2 for c in found.evaluated)
    assert all(size["host"].point(c.config) > 0.2 for c in found.evaluated)  # the float32 program, not held, is four times the int8's


@pytest.mark.slow
@pytest.mark.parametrize(("limits", "says"), [
    ({"memory_mb": {"0400031f": 9.0}}, r"memory_mb names LUT 0400031f, which is the LUT of no device of this search; name a LUT given as lut= or in budgets="),
    ({"size_mb": {3: 1.0}}, r"size_mb takes a budget, or a budget per LUT id or path \(size_mb=\{'1ab8c104': \.\.\.\}\), not a key 3"),
    ({"size_m": {"x": 1.0}}, r"search\(\) got size_m, which is no budget"),
])
def test_a_budget_per_lut_that_fits_no_device_is_one_user_error_naming_the_argument(supernet, lut_64, limits, says):
    with pytest.raises(api.UserError, match=says):
        api.search(supernet, lut_64, 6.0, **limits)


TRAINED_HOSTILE = [
    ("search(supernet=path)", lambda s, ckpt: api.search(ckpt, QUICK_LUT, 0.9), r"supernet must be a Supernet \(Supernet.load\(checkpoint\)\), not PosixPath"),
    ("search(lut of 128 px)", lambda s, ckpt: api.search(s, QUICK_LUT, 0.9),
     r"LUT d0fb186589faa0c4 was measured at 128 px, but the supernet .*last.pt was trained at 64 px; pass a LUT of 64 px, or a supernet trained at 128 px"),
    ("search(lut=None)", lambda s, ckpt: api.search(s, None, 0.9), r"lut and latency_ms go together \(one device's LUT and its budget\); give both, or budgets=\[\(lut, ms\), \.\.\.\]"),
    ("search(size_m=3)", lambda s, ckpt: api.search(s, QUICK_LUT, 0.9, size_m=3),
     r"search\(\) got size_m, which is no budget; the budgets held on every device are " + re.escape(", ".join(sorted(c.argument for c in shared_constraints())))),
    ("search(latency_ms=1e7)", lambda s, ckpt: api.search(s, QUICK_LUT, 1e7), r"latency_ms must be above 0 ms and at most 1e\+06, not 1e\+07"),
    ("search(budgets=[(lut, 1e7)])", lambda s, ckpt: api.search(s, budgets=[(QUICK_LUT, 1e7)]), r"budgets\[0\] must be above 0 ms and at most 1e\+06, not 1e\+07"),
    ("search(memory_mb='9')", lambda s, ckpt: api.search(s, QUICK_LUT, 0.9, memory_mb="9"), r"memory_mb must be a finite number above 0 MiB and at most 1e\+06, not '9'"),
    ("Supernet.load(None)", lambda s, ckpt: api.Supernet.load(None), r"checkpoint must be the path of a supernet checkpoint \(bench train's last.pt\), not NoneType"),
    ("Supernet.load(device='gpu')", lambda s, ckpt: api.Supernet.load(ckpt, "gpu"), "device must be a torch device such as 'cpu' or 'cuda:0', or None, not 'gpu'"),
    ("accuracy(data=missing)", lambda s, ckpt: s.accuracy(api.sample_configs(s.space, 1)[0], "no/such/folder"),
     r"data no/such/folder is not a folder; pass data, the path of an ImageFolder \(train/<class>/<image>\) of the supernet's classes"),
    ("subnet(data=3)", lambda s, ckpt: s.subnet(api.sample_configs(s.space, 1)[0], 3), r"data must be the path of an ImageFolder \(train/<class>/<image>\) or None, not int"),
    ("subnet(None)", lambda s, ckpt: s.subnet(None), r"config must be a SubnetConfig or its dict"),
]


@pytest.mark.slow
@pytest.mark.parametrize("call, problem", [(call, problem) for _, call, problem in TRAINED_HOSTILE], ids=[name for name, _, _ in TRAINED_HOSTILE])
def test_a_hostile_argument_to_a_trained_supernet_is_one_user_error_naming_the_api_argument(supernet, tiny_checkpoint, call, problem):
    with pytest.raises(api.UserError, match=problem) as raised:
        call(supernet, tiny_checkpoint)
    assert "--" not in str(raised.value)


@pytest.mark.slow
def test_a_supernet_whose_training_data_is_gone_asks_for_data(tiny_checkpoint, tmp_path):
    doc = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    doc["settings"]["data"] = str(tmp_path / "gone")
    torch.save(doc, tmp_path / "last.pt")
    net = api.Supernet.load(tmp_path / "last.pt", "cpu")
    with pytest.raises(api.UserError, match=rf"the supernet {tmp_path / 'last.pt'} was trained on data {tmp_path / 'gone'}, which is not a folder here; pass data"):
        net.accuracy(api.sample_configs(net.space, 1)[0])


def test_run_search_holds_every_registered_budget_it_is_given_as_search_does():
    """`run_search` takes the budgets held on every device through the same door as `search`
    (`search.api.shared_limits`): program size on a LUT that records it is held, and a budget the
    LUT cannot price is refused naming how to get one that can."""
    sized = api.Predictor("aa5a9101")
    found = api.run_search(sized, lambda c: sized.predict(c).params / 1e6, latency_ms=1e5, size_mb=0.5,
                           settings=api.SearchSettings(population=8, generations=2, parents=4), log=lambda _m: None)
    size = sized._record.entries
    from search.nas.predictor import parts

    assert all(sum(size[p.key]["size_bytes"] for p in parts(c.config, sized.space)) / 2**20 <= 0.5 for c in found.evaluated)
    with pytest.raises(api.UserError, match=r"records no load time \(it was profiled before load times were recorded\)"):
        api.run_search(sized, lambda c: 1.0, latency_ms=1e5, load_ms=50.0)
    with pytest.raises(api.UserError, match=r"^run_search\(\) got size_m, which is no budget"):
        api.run_search(sized, lambda c: 1.0, latency_ms=1e5, size_m=1.0)
