"""Every registered budget, tested over the registry as timm tests every model over
`list_models()`: a new constraint is tested here by registering it, with no edit to this file.
Each gets its CLI option and API argument, its price (point and batch alike), its refusal naming
its option, its finish line against its budget, its words in a resume's comparison, and its
validation where it validates."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from search.nas.budget import BudgetError, one_device
from search.nas.constraints import CONSTRAINTS, Limit, Observed, Subject
from search.nas.lut import Lut
from search.nas.run_result import ModelRun, RunResult
from search.space import load_space
from search.space.encoding import decode, random_batch
from search.space.sampling import min_config
from tests.lut_factory import sized_lut, with_load, with_memory, with_size
from tests.run_docs import model_doc, result_doc

TINY = load_space("tiny")
EVERY = pytest.mark.parametrize("name", list(CONSTRAINTS), ids=list(CONSTRAINTS))
LUT = Lut.of(with_load(with_size(with_memory(sized_lut(TINY), TINY), TINY), TINY))
RUN = ModelRun("model", 12.0, 3.0, (1.0,), {"median_ms": 1.0}, {"load_bytes": 2 << 20, "peak_bytes": 3 << 20, "method": "a test's"})


def test_the_registry_is_in_its_declared_order_latency_first():
    assert list(CONSTRAINTS)[0] == "latency"
    assert [c.order for c in CONSTRAINTS.values()] == sorted(c.order for c in CONSTRAINTS.values())


@EVERY
def test_a_constraint_is_an_option_of_bench_search_and_an_argument_of_the_api(name):
    from orchestrator.cli.search import search_cmd as search_command
    from search.api import shared_limits

    c = CONSTRAINTS[name]
    options = {opt for p in inspect.signature(search_command).parameters.values() if hasattr(p.default, "param_decls") for opt in p.default.param_decls}
    assert c.option in options
    if not c.per_device:
        assert shared_limits({c.argument: 2.5}) == {name: (2.5, c.argument)}


@EVERY
def test_a_constraint_prices_a_subnet_alike_one_at_a_time_and_in_a_batch(name):
    pricer = one_device(LUT, TINY, {"latency": 1e5, **({name: CONSTRAINTS[name].bounds[1]} if name != "latency" else {})})
    batch = random_batch(TINY, 20, np.random.default_rng(0), 64)
    price = pricer.only.prices[name]
    points = [price.point(decode(batch, i, TINY)) for i in range(20)]
    assert np.all(np.array(points) > 0) and price.point_batch(batch) == pytest.approx(points)


@EVERY
def test_a_budget_no_subnet_meets_is_refused_naming_its_option(name):
    c = CONSTRAINTS[name]
    least = one_device(LUT, TINY, {"latency": 1e5}).only.prices[name].point(min_config(TINY, 64)) if name != "latency" else None
    tight = (least if least is not None else one_device(LUT, TINY, {"latency": 1e5}).only.point("latency", min_config(TINY, 64))) * 0.5
    with pytest.raises(BudgetError, match=re.escape(c.option)):
        one_device(LUT, TINY, {"latency": 1e5, name: tight} if name != "latency" else {"latency": tight}).check_reachable()


@EVERY
def test_a_constraint_s_finish_line_says_its_figure_against_its_budget(name):
    c = CONSTRAINTS[name]
    line = c.finish_line("host", 2.0, (1.9, 2.1), Observed(RUN, 1.0, 1 << 20), Limit(c, 1000.0, c.option), None)
    assert line is not None and "host" in line and f"1000 {c.unit}" in line or name == "latency"  # latency's line states its interval and share instead


@EVERY
def test_a_resume_names_a_changed_budget_in_its_constraint_s_words(name):
    from orchestrator.searchjob.resume import budgets_words

    c = CONSTRAINTS[name]
    record = {"devices": [{"lut": "a" * 16, name: 3.0}]} if c.per_device else {"devices": [], "shared": {name: 3.0}}
    assert f"{c.noun} 3 {c.unit}" in budgets_words(record)


@EVERY
def test_a_validation_records_a_measured_constraint_against_its_prediction(name):
    c = CONSTRAINTS[name]
    configs = [decode(random_batch(TINY, 6, np.random.default_rng(1), 64), i, TINY) for i in range(6)]
    observed = [Observed(RUN, 1.0, 1 << 20) for _ in configs]
    part = c.validation(Subject(LUT, TINY, TINY), configs, observed)
    if part is None:  # latency's figures are the record's own; parameters are not measured
        assert name in ("latency", "params")
        return
    assert len(part["points"]) == len(configs) and "skipped" not in part["record"]
    assert c.validation_figures({name: part["record"]}) and all(isinstance(v, dict) for v in c.validation_figures({name: part["record"]}).values())


def test_load_time_is_read_from_the_run_as_load_plus_first_inference():
    assert CONSTRAINTS["load"].of(Observed(RUN, 2.0, None)) == 15.0  # 12 ms to load, 3 ms to the first result; no speed scaling


def test_the_load_finish_line_says_a_warm_reopen_beside_the_first_load_where_the_runner_measured_one():
    warm = ModelRun("model", 12.0, 3.0, (1.0,), {"median_ms": 1.0}, None, 4.5)
    line = CONSTRAINTS["load"].finish_line("host", 14.0, (14.0, 14.0), Observed(warm, 1.0, None), None, None)
    assert line == "load time on host: 15 ms measured (reopened warm: 4.5 ms to load), 14 ms predicted"
    assert CONSTRAINTS["load"].finish_line("host", 14.0, (14.0, 14.0), Observed(RUN, 1.0, None), None, None) == "load time on host: 15 ms measured, 14 ms predicted"


def test_a_run_without_a_warm_load_reads_as_none_as_results_of_runners_before_it():
    doc = result_doc([model_doc("a")])
    older = result_doc([model_doc("a", warm_load_ms=None)])
    assert RunResult.of(doc).models["a"].warm_load_ms == 0.5
    assert RunResult.of(older).models["a"].warm_load_ms is None


def test_a_lut_without_load_times_cannot_price_a_load_budget_and_says_how_to_get_one():
    from search.nas.lut import LUTError

    with pytest.raises(LUTError, match=r"records no load time \(it was profiled before load times were recorded\); profile the device with `bench profile"):
        one_device(Lut.of(sized_lut(TINY)), TINY, {"latency": 1e5, "load": 100.0})


@pytest.mark.slow
def test_a_constraint_registered_from_a_test_module_is_priced_held_written_resumed_and_refused(tiny_checkpoint, tmp_path, monkeypatch):
    """docs/architecture.md's constraint exercise, performed: a budget of a kind the toolkit has
    never seen (energy, priced here from the parameter count) registered from this test module
    alone is an argument of the search, holds every subnet it evaluates, is written into the run's
    inputs, refuses a resume with another value in its own words, and is refused where no subnet
    meets it, naming its argument."""
    import json

    from autovit_bench import Supernet, search
    from infra.errors import UserError
    from orchestrator.searchjob.resume import INPUTS_FILE, check_resume
    from search.api import SearchSettings
    from tests.test_constraints import Energy

    monkeypatch.setitem(CONSTRAINTS, "energy", Energy())
    supernet = Supernet.load(tiny_checkpoint, "cpu")
    lut = tmp_path / "tiny-64.json"
    lut.write_text(json.dumps(sized_lut(TINY, device={"name": "host", "platform": "host", "backend": "pte", "runtime": {"threads": 1}, "description": "", "facts": {}})))
    energy = one_device(Lut.of(json.loads(lut.read_text())), TINY, {"latency": 1e5}).only.point("params", min_config(TINY, 64)) * 3
    settings = SearchSettings(population=4, generations=2, parents=2)
    found = search(supernet, lut, 1e5, settings=settings, energy_mj=energy, out=tmp_path / "run", log=lambda _m: None)
    priced = one_device(Lut.of(json.loads(lut.read_text())), TINY, {"latency": 1e5, "energy": energy}).only.prices["energy"]
    assert found.evaluated and all(priced.point(c.config) <= energy for c in found.evaluated)
    written = json.loads((tmp_path / "run" / INPUTS_FILE).read_text())["resumes_with"]
    assert written["budgets"]["shared"] == {"energy": pytest.approx(energy)}
    changed = {**written, "budgets": {**written["budgets"], "shared": {"energy": energy * 2}}}
    with pytest.raises(UserError, match=rf"energy {energy:g} mJ \(--energy-mj\) then, .*energy {energy * 2:g} mJ \(--energy-mj\) now"):
        check_resume(tmp_path / "run", changed)
    with pytest.raises(BudgetError, match=r"raise energy_mj to at least"):
        search(supernet, lut, 1e5, settings=settings, energy_mj=energy / 10, log=lambda _m: None)
