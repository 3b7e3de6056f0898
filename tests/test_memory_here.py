"""A memory budget held on a host LUT profiled on another CPU is priced at this machine's memory: the
LUT's anchor network measured here, over what the LUT predicts for it (issue 83, finding 4: a search
held to a 9.1 MiB RAM budget by an Intel Xeon's LUTs on an AMD EPYC delivered a model measured at
9.63 MiB, and exited 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.errors import UserError
from orchestrator.measure.cpu import cpu_model
from orchestrator.measure.devices import get_device
from orchestrator.searchjob.delivery import time_models
from orchestrator.searchjob.job import SearchInputs, SearchJob
from orchestrator.searchjob.memory_here import measure_memory_here, saved_memory_here
from orchestrator.searchjob.resume import INPUTS_FILE
from orchestrator.searchjob.targets import Asked
from search.nas.budget import held
from search.nas.constraints import Limit, get_constraint
from search.nas.lut import Lut
from search.nas.memory import MIB, MemoryPredictor, Reanchored
from search.nas.strategies import SearchSettings
from search.space import load_space
from search.space.config import SubnetConfig
from search.space.sampling import max_config, min_config
from search.training import distributed
from tests.lut_factory import restamped, sized_lut, with_memory

pytestmark = pytest.mark.exports

TINY = load_space("tiny")
ELSEWHERE = "Intel(R) Xeon(R) Processor @ 2.50GHz (the LUT's)"
OTHER_CPU = {"name": "host", "platform": "host", "backend": "pte", "runtime": {"threads": 1}, "description": "a machine", "facts": {"cpu_model": ELSEWHERE}}


def lut_of_another_cpu(tmp_path: Path, bytes_per_param: float = 4.0, runtime_mib: float = 3.2) -> Path:
    """A made-up LUT of another CPU whose memory is of a host's size: the runtime's load (`runtime_mib`,
    on its overhead entry) beside the weights' (`bytes_per_param`)."""
    doc = with_memory(sized_lut(TINY, device=OTHER_CPU), TINY, bytes_per_param=bytes_per_param)
    overhead = next(e for e in doc["entries"].values() if e["kind"] == "overhead")
    overhead["memory"] = {k: v + runtime_mib * MIB for k, v in overhead["memory"].items()}
    path = tmp_path / "tiny-elsewhere.json"
    path.write_text(json.dumps(restamped(doc)))
    return path


def job_on(lut: Path, checkpoint: Path, out: Path, logged: list[str], memory_mb: float | None = 500.0) -> SearchJob:
    latency = MemoryPredictor(Lut.of(json.loads(lut.read_text())), TINY)  # any budget the largest subnet meets
    budget = 1e3 * (1 + latency.predict(max_config(TINY, 64)).peak_bytes / MIB)
    asked = Asked.of([(lut, {"latency": (budget, "--latency-ms")})], {"memory": (memory_mb, "--memory-mb")})
    return SearchJob(SearchInputs(checkpoint, asked, out), SearchSettings(population=4, generations=1, parents=2), None, logged.append,
                     distributed.init(prefer_gpu=False))


def host() -> object:
    return get_device("host")


@pytest.mark.slow
def test_a_memory_budget_on_a_host_lut_of_another_cpu_is_priced_at_its_anchor_networks_memory_measured_here(tiny_checkpoint, tmp_path, shared_export_cache):
    logged: list[str] = []
    job = job_on(lut_of_another_cpu(tmp_path), tiny_checkpoint, tmp_path / "s", logged)
    lut = job.targets["host"].lut
    raw = job.targets["host"].held.point("memory", min_config(TINY, 64))
    job.price_memory_here({"host": host}, resume=False)
    again = time_models({}, lut.resolution, lut, TINY, get_device("host"), tmp_path / "again").anchor_memory
    predicted = MemoryPredictor(lut, TINY).predict(SubnetConfig.from_dict(lut.context))
    recorded = job.provenance()["devices"]["host"]["budgets"]["memory"]["reanchored"]
    assert recorded["peak"] == pytest.approx(again["peak_bytes"] / predicted.peak_bytes, rel=0.02)  # a network's memory repeats to the page
    assert recorded["load"] == pytest.approx(again["load_bytes"] / predicted.load_bytes, rel=0.02) and recorded["cpu"] == cpu_model()
    assert job.pricer.held[0].point("memory", min_config(TINY, 64)) == pytest.approx(raw * recorded["peak"])
    assert any(line.startswith(f"LUT {lut.short}'s anchor network here: peak ") and f"(x{recorded['peak']:.3f})" in line for line in logged)


def test_without_measuring_a_memory_budget_on_another_cpus_lut_is_said_to_be_priced_at_its_figures(tmp_path):
    logged: list[str] = []
    lut = Lut.of(json.loads(lut_of_another_cpu(tmp_path).read_text()))
    target = type("Target", (), {"lut": lut, "name": "host"})()
    assert measure_memory_here(target, TINY, None, tmp_path / "run", logged.append) is None
    assert logged == [f"note: peak memory on host is priced at LUT {lut.short}'s figures, which are another CPU's ({ELSEWHERE}), and may be "
                      "off here by a tenth or more: not measured (--no-measure)"]


@pytest.mark.slow
def test_an_anchor_measured_at_many_times_its_predicted_memory_is_refused_naming_how_to_get_this_machines_own(tmp_path, shared_export_cache):
    lut = Lut.of(json.loads(lut_of_another_cpu(tmp_path, bytes_per_param=0.01, runtime_mib=0.0).read_text()))  # a LUT whose memory is no host's
    target = type("Target", (), {"lut": lut, "name": "host"})()
    with pytest.raises(UserError, match=rf"LUT {lut.short}'s anchor network measured here at .* what the LUT predicts for it: its memory is not this "
                                        r"machine's kind of figure; profile this machine \(`bench profile --device host`\)"):
        measure_memory_here(target, TINY, host, tmp_path / "run", lambda line: None)


def priced(here: Reanchored | None):
    lut = Lut.of(with_memory(sized_lut(TINY, device=OTHER_CPU), TINY))
    memory = get_constraint("memory")
    return held(lut, {"memory": Limit(memory, 9.1, "--memory-mb")}, TINY, TINY, here).prices["memory"]


def test_a_reanchored_memory_price_scales_the_peak_its_interval_and_the_load_and_says_so():
    plain, here = priced(None), priced(Reanchored(load=0.9, peak=1.2, cpu="AMD EPYC"))
    config = max_config(TINY, 64)
    assert here.point(config) == pytest.approx(1.2 * plain.point(config))
    assert here.interval(config) == pytest.approx(tuple(1.2 * x for x in plain.interval(config)))
    assert here.details(config)["load_predicted"] == pytest.approx(0.9 * plain.details(config)["load_predicted"])
    limit = Limit(get_constraint("memory"), 9.1, "--memory-mb")
    assert "on this machine" in here.describe(limit) and "x1.200" in here.describe(limit) and "this machine" not in plain.describe(limit)
    assert here.record(limit) == {"reanchored": {"load": 0.9, "peak": 1.2, "cpu": "AMD EPYC"}} and plain.record(limit) == {}


@pytest.mark.slow
def test_a_resumed_search_prices_memory_as_the_search_it_continues_recorded(tiny_checkpoint, tmp_path):
    logged: list[str] = []
    job = job_on(lut_of_another_cpu(tmp_path), tiny_checkpoint, tmp_path / "s", logged)
    recorded = {"load": 0.95, "peak": 1.07, "cpu": "AMD EPYC"}
    job.inputs.out.mkdir()
    provenance = job.provenance()
    provenance["devices"]["host"]["budgets"]["memory"]["reanchored"] = recorded
    (job.inputs.out / INPUTS_FILE).write_text(json.dumps(provenance))
    assert saved_memory_here(job.inputs.out, job.targets["host"]) == Reanchored(**recorded)
    raw = job.targets["host"].held.point("memory", min_config(TINY, 64))
    job.price_memory_here({"host": host}, resume=True)
    assert job.pricer.held[0].point("memory", min_config(TINY, 64)) == pytest.approx(1.07 * raw) and logged == []  # read back, not measured


@pytest.mark.slow
@pytest.mark.parametrize("forged", [{"load": 1.0, "peak": 40.0, "cpu": "x"}, {"load": "1", "peak": 1.0, "cpu": "x"}, {"load": 1.0, "peak": 1.0}])
def test_a_recorded_reanchoring_that_is_none_is_refused_naming_the_file(tiny_checkpoint, tmp_path, forged):
    job = job_on(lut_of_another_cpu(tmp_path), tiny_checkpoint, tmp_path / "s", [])
    job.inputs.out.mkdir()
    provenance = job.provenance()
    provenance["devices"]["host"]["budgets"]["memory"]["reanchored"] = forged
    (job.inputs.out / INPUTS_FILE).write_text(json.dumps(provenance))
    with pytest.raises(UserError, match=rf"{job.inputs.out / INPUTS_FILE} holds a memory re-anchoring that is none .*; start the search again in another --out"):
        saved_memory_here(job.inputs.out, job.targets["host"])


@pytest.mark.slow
def test_a_lut_of_this_machines_cpu_is_not_reanchored(tiny_checkpoint, tmp_path):
    path = tmp_path / "here.json"
    path.write_text(json.dumps(with_memory(sized_lut(TINY, device={**OTHER_CPU, "facts": {"cpu_model": cpu_model()}}), TINY)))
    logged: list[str] = []
    job = job_on(path, tiny_checkpoint, tmp_path / "s", logged)
    job.price_memory_here({"host": host}, resume=False)
    assert logged == [] and "reanchored" not in job.provenance()["devices"]["host"]["budgets"]["memory"]
