"""The constraint seam: a budget of a new kind is one registration (`search.nas.constraints`), and
every door, the pricer, the finish and result.json take it up; and the budgets now registered
(latency, peak memory, parameters, program size) behave as the user asks of each."""

from __future__ import annotations

import random
import re
from typing import Any

import numpy as np
import pytest

from infra.errors import UserError
from search.nas.budget import BudgetError, Pricer, one_device
from search.nas.constraints import CONSTRAINTS, Constraint, Limit, Observed, Price, Subject, get_constraint, shared_constraints
from search.nas.lut import Lut, LUTError
from search.nas.run_result import ModelRun
from search.nas.strategies import Search, SearchSettings
from search.space import load_space
from search.space.encoding import random_batch
from search.space.sampling import max_config, min_config
from tests.lut_factory import restamped, sized_lut, with_memory, with_size

TINY = load_space("tiny")


def lut(**extra: Any) -> Lut:
    return Lut.of(with_size(with_memory(sized_lut(TINY, **extra), TINY), TINY))


def middle(doc: Lut) -> float:
    held = one_device(doc, TINY, {"latency": 1e5}).only
    return (held.point("latency", min_config(TINY, 64)) + held.point("latency", max_config(TINY, 64))) / 2


class Energy(Constraint):
    """A constraint a phone might impose next: millijoules per inference, from the parameter count."""

    name, noun, unit, option, argument, help = "energy", "energy", "mJ", "--energy-mj", "energy_mj", "energy per inference in mJ"
    measured = False

    def price(self, subject: Subject) -> Price:
        from search.nas.constraints.params import ParamsPrice

        class EnergyPrice(ParamsPrice):
            def excess(self, config, limit, slack=0.0):  # noqa: ANN001, ANN202 - the parameters' check, in millijoules
                return None if self.point(config) <= limit else f"predicted at {self.point(config):.3g} mJ, over the {limit:g} mJ budget"

        return EnergyPrice(self, subject)

    def of(self, observed: Observed) -> float | None:
        return None


@pytest.fixture
def energy(monkeypatch):
    monkeypatch.setitem(CONSTRAINTS, "energy", Energy())
    return CONSTRAINTS["energy"]


def test_a_registered_constraint_is_an_option_of_bench_search_and_an_argument_of_the_api(energy):
    import inspect

    from orchestrator.cli.search_options import shared_budget_options
    from search.api import shared_limits

    def command(shared: dict | None = None) -> dict | None:
        return shared

    wrapped = shared_budget_options(command)
    assert "energy_mj" in inspect.signature(wrapped).parameters
    others = {c.argument: None for c in shared_constraints() if c is not energy}  # every other registered budget's, unset
    assert wrapped(**others, energy_mj=3.0)["energy"] == 3.0
    assert shared_limits({"energy_mj": np.float32(2.5)}) == {"energy": (2.5, "energy_mj")}


def test_a_registered_constraint_is_held_by_the_pricer_and_named_in_its_refusal(energy):
    doc = lut()
    budget = one_device(doc, TINY, {"latency": 1e5}).only.point("params", min_config(TINY, 64)) * 0.5
    with pytest.raises(BudgetError, match=rf"^no subnet meets {budget:g}M parameters: the smallest subnet has .*; raise --energy-mj to at least"):
        one_device(doc, TINY, {"latency": 1e5, "energy": budget}).check_reachable()


def test_every_budget_of_a_kind_is_checked_as_one_number_for_cli_and_api():
    latency = get_constraint("latency")
    assert latency.check(np.float32(0.5), "latency_ms") == pytest.approx(0.5) and type(latency.check(np.int64(2), "x")) is float
    for bad, says in ((1e7, "must be above 0 ms and at most 1e\\+06, not 1e\\+07"), (True, "not True"), (float("inf"), "not inf"), ("1", "not '1'")):
        with pytest.raises(UserError, match=f"^latency_ms {says}" if "above" in says else f"^latency_ms must be a finite number.*{says}"):
            latency.check(bad, "latency_ms")


def test_a_budget_given_with_budget_is_named_so_in_its_refusal():
    """`--budget LUT=MS` alone was told to raise --latency-ms, which the user never typed."""
    doc = lut()
    held = one_device(doc, TINY, {"latency": 1e5}).only
    named = Limit(get_constraint("latency"), held.point("latency", min_config(TINY, 64)) * 0.1, "--budget d7f47ca8=MS")
    from search.nas.budget import held as priced

    pricer = Pricer([priced(doc, {"latency": named}, TINY, TINY)], TINY)
    with pytest.raises(BudgetError) as refused:
        pricer.check_reachable()
    assert "raise --budget d7f47ca8=MS to at least " in str(refused.value) and "--latency-ms" not in str(refused.value)


def test_when_the_budgets_admit_a_subnet_but_the_first_generation_drew_none_the_refusal_names_coarse_samples(monkeypatch):
    """It named a budget at or below the one given ("raise the budget to at least 0.545" of 0.55)."""
    doc = lut()
    pricer = one_device(doc, TINY, {"latency": middle(doc), "memory": 1e5})
    monkeypatch.setattr(pricer, "random_feasible", lambda *args: [])
    monkeypatch.setattr("search.nas.strategies.coarse_to_fine.coarse_phase", lambda *args: ([], _report()))
    with pytest.raises(BudgetError) as refused:
        Search(SearchSettings(population=4, generations=1, parents=2, coarse_samples=10), pricer, lambda c: 0.5).run()
    message = str(refused.value)
    assert re.search(r"they admit few subnets \(\d+ of the [\d,]+ drawn to check them; alone, .* admits [\d.]+%", message), message
    assert message.endswith("raise --coarse-samples (the subnets the coarse phase draws), or a budget that binds")
    assert "at least" not in message


def _report() -> Any:
    from search.nas.strategies.coarse import CoarseReport

    return CoarseReport(10, 0, 0, 0.01)


def test_a_lut_whose_memory_entries_add_up_to_nothing_is_refused_for_memory():
    """A hand-edited LUT of negative memory entries, its id recomputed, passed any --memory-mb."""
    doc = with_memory(sized_lut(TINY), TINY)
    entries = {k: {**e, "memory": {"load_bytes": -2**20, "peak_bytes": -2**20}} if e["kind"] == "mbconv_layer" else e for k, e in doc["entries"].items()}
    with pytest.raises(LUTError, match=r"predicts as little as -[\d.]+ MiB of load memory for subnets of space 'tiny' .* cannot be zero or negative"):
        one_device(Lut.of(restamped({**doc, "entries": entries})), TINY, {"latency": 1e5, "memory": 10})


def test_the_lut_format_refuses_an_entry_that_frees_more_memory_than_a_block_can_hold():
    doc = with_memory(sized_lut(TINY), TINY)
    doc["entries"]["overhead"]["memory"]["peak_bytes"] = -2**30
    with pytest.raises(LUTError, match=r"malformed at entries/overhead/memory/peak_bytes: -1073741824 is less than the minimum of -268435456"):
        restamped(doc)


def test_program_size_is_the_sum_of_the_lut_s_entries_and_refused_where_a_lut_records_none():
    doc = lut()
    held = one_device(doc, TINY, {"latency": 1e5, "size": 100}).only
    config = max_config(TINY, 64)
    from search.nas.predictor import parts

    assert held.point("size", config) == pytest.approx(sum(doc.entries[p.key]["size_bytes"] for p in parts(config, TINY)) / 2**20)
    batch = random_batch(TINY, 50, np.random.default_rng(0), 64)
    from search.space.encoding import decode

    assert held.prices["size"].point_batch(batch) == pytest.approx([held.point("size", decode(batch, i, TINY)) for i in range(50)])
    with pytest.raises(LUTError, match=r"records no program size \(it was profiled before program sizes were recorded\); profile the device with `bench profile --device host-cpu`"):
        one_device(Lut.of(sized_lut(TINY)), TINY, {"latency": 1e5, "size": 100})


def test_a_program_s_measured_size_is_its_file_s_bytes_or_its_package_s(tmp_path):
    from search.nas.constraints.size import program_bytes

    (tmp_path / "a.pte").write_bytes(b"x" * 2**20)
    package = tmp_path / "b.mlpackage"
    (package / "Data").mkdir(parents=True)
    (package / "Data" / "weight.bin").write_bytes(b"x" * 2**19)
    (package / "Manifest.json").write_bytes(b"x" * 2**19)
    assert program_bytes(tmp_path / "a.pte") == program_bytes(package) == 2**20
    assert get_constraint("size").of(Observed(ModelRun.timed(1.0), None, program_bytes(package))) == 1.0


def test_a_size_budget_no_program_fits_names_the_smallest_and_a_budget_that_passes():
    doc = lut()
    with pytest.raises(BudgetError) as refused:
        one_device(doc, TINY, {"latency": 1e5, "size": 0.01}).check_reachable()
    named = float(re.search(r"raise --size-mb to at least ([0-9.]+)$", str(refused.value)).group(1))
    assert str(refused.value).startswith("no subnet fits in 0.01 MiB of program size: the least program size LUT ")
    one_device(doc, TINY, {"latency": 1e5, "size": named}).check_reachable()


def hostile_sizes(doc: dict) -> Lut:
    """`doc` with every entry's program at the most a LUT may record (16 GiB): the least program of
    the space is then larger than any --size-mb."""
    return Lut.of(restamped({**doc, "entries": {key: {**e, "size_bytes": 2**34} for key, e in doc["entries"].items()}}))


def test_a_lut_whose_least_program_no_size_budget_can_hold_says_so_instead_of_naming_a_budget_the_option_refuses():
    """It advised "raise --size-mb to at least 197000", which --size-mb (at most 1e5) refuses."""
    doc = hostile_sizes(with_size(with_memory(sized_lut(TINY), TINY), TINY))
    with pytest.raises(BudgetError) as refused:
        one_device(doc, TINY, {"latency": 1e5, "size": 1e5}).check_reachable()
    assert str(refused.value) == (
        f"no subnet fits in 100000 MiB of program size: the least program size LUT {doc.short} predicts for a subnet is 1.97e+05 MiB, "
        f"above the most --size-mb takes (100000 MiB), so no budget can be met with this LUT; rebuild it with `bench profile`"
    )


def test_a_lut_whose_fastest_subnet_no_latency_budget_can_hold_says_so_instead_of_naming_a_budget_the_option_refuses():
    doc = Lut.of(sized_lut(TINY, per_mparam_ms=1e8))
    with pytest.raises(BudgetError) as refused:
        one_device(doc, TINY, {"latency": 1e6}).check_reachable()
    assert re.fullmatch(
        rf"no subnet meets 1e\+06 ms: the fastest subnet is predicted at \S+ ms by LUT {doc.short}; the least budget that every check admits a "
        r"subnet at is \S+ ms, above the most --latency-ms takes \(1e\+06 ms\), so no budget can be met with this LUT; rebuild it with `bench profile`",
        str(refused.value),
    ), str(refused.value)


def test_the_joint_search_holds_a_shared_budget_on_every_device():
    a, b = lut(), Lut.of(with_size(with_memory(sized_lut(TINY, per_mparam_ms=5.0, device={**sized_lut(TINY)["device"], "name": "other"}), TINY), TINY, 1.0))
    pa, pb = one_device(a, TINY, {"latency": 1e5, "size": 0.3}), one_device(b, TINY, {"latency": 1e5, "size": 0.3})
    both = Pricer([pa.only, pb.only], TINY)
    rng = random.Random(0)
    for config in both.random_feasible(rng, 20, set()):
        assert pa.only.point("size", config) <= 0.3 and pb.only.point("size", config) <= 0.3


def test_a_validation_holds_the_lut_s_program_sizes_against_the_exported_programs_bytes():
    doc = lut()
    configs = [min_config(TINY, 64), max_config(TINY, 64), *one_device(doc, TINY, {"latency": 1e5}).random_feasible(random.Random(1), 3, set())]
    size = get_constraint("size")
    price = one_device(doc, TINY, {"latency": 1e5, "size": 100}).only.prices["size"]
    observed = [Observed(ModelRun.timed(1.0), None, int(price.point(c) * 2**20 * 1.02)) for c in configs]
    part = size.validation(Subject(doc, TINY, TINY), configs, observed)
    record = part["record"]
    assert record["within_10"] == 1.0 and record["bias"] == pytest.approx(-0.02 / 1.02, abs=1e-4) and record["samples"] == 5
    assert part["points"][1]["measured_size_mib"] == pytest.approx(part["points"][1]["predicted_size_mib"] * 1.02, rel=1e-6)
    assert size.validation_figures({"size": record}) == {"": record}
    without = size.validation(Subject(Lut.of(sized_lut(TINY)), TINY, TINY), configs, observed)
    assert without["record"]["skipped"].endswith("profile the device with `bench profile --device host-cpu` for a LUT that does")
