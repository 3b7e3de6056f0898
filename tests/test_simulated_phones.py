"""Simulated phones (`fakes/phones`): a behaviour file read and checked, the world's quiet truth,
each condition behaving as its file says (in the phone's own time, seeded), and a session answered
as the app answers it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fakes.phones.behaviour import SHIPPED, read_behaviour, varied
from fakes.phones.catalogue import Catalogue
from fakes.phones.conditions import Conditions
from fakes.phones.simulation import PhoneSimulation
from fakes.phones.timed import HostTimed
from fakes.phones.world import FLOOR_MS, Network, World
from infra.errors import UserError
from orchestrator.export.cache import fingerprint
from orchestrator.measure.contract import check_result, make_request, validate
from orchestrator.measure.timing import TimingPlan
from search.api import load_lut
from search.nas.predictor import parts
from search.space import load_space
from search.space.sampling import max_config, min_config

TINY = load_space("tiny")


PHONE_FILES = sorted(p for p in (Path(__file__).resolve().parents[1] / "fakes" / "phones").glob("*.json") if p.name != "phone.v1.json")


@pytest.mark.parametrize("path", PHONE_FILES, ids=lambda p: p.stem)
def test_every_phone_file_reads_against_its_schema_and_cites_a_source_for_each_condition(path):
    doc = read_behaviour(path)
    assert doc["name"] == path.stem and doc["world"]["source"]
    assert all(len(condition["source"]) > 40 for condition in doc["conditions"].values())


def test_the_shipped_phones_are_files_of_their_names():
    assert set(SHIPPED) <= {p.stem for p in PHONE_FILES}


def test_a_phone_file_that_breaks_its_schema_is_refused_naming_where(tmp_path):
    doc = read_behaviour("pixel-like")
    doc["conditions"]["drift"]["sd"] = -0.1
    (tmp_path / "phone.json").write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"the phone file .*phone.json breaks its schema at conditions/drift"):
        read_behaviour(tmp_path / "phone.json")


def test_the_quiet_truth_is_the_lut_entries_scaled_by_kind_times_their_interactions_and_the_phone_speed():
    doc = read_behaviour("pixel-like")
    world = World(doc["world"])
    lut = load_lut("1ab8c104")
    config = max_config(TINY, 128)
    kinds = [lut["entries"][p.key]["kind"] for p in parts(config, TINY)]
    expected = 0.0
    for i, p in enumerate(parts(config, TINY)):
        ms = max(lut["entries"][p.key]["latency_ms"], FLOOR_MS) * doc["world"]["kind_scale"][kinds[i]] * doc["world"]["speed"]
        for rule in doc["world"]["interactions"]:
            if i and kinds[i] == rule["part"] and kinds[i - 1] == rule["after"]:
                ms *= rule["factor"]
        expected += ms
    assert world.quiet_ms("pte-int8", Network(config)) == pytest.approx(expected)
    assert world.quiet_ms("pte-int8", Network(config, head=False)) < expected


def test_a_program_of_a_space_the_phone_has_no_lut_for_is_named():
    world = World(read_behaviour("pixel-like")["world"])
    with pytest.raises(LookupError, match="prices no pte-int8 program of tiny at 64 px"):
        world.quiet_ms("pte-int8", Network(min_config(TINY, 64)))


def conditions(only: str, **changed: float) -> Conditions:
    doc = read_behaviour("pixel-like")["conditions"]
    return Conditions({only: {**doc[only], **changed}}, np.random.default_rng(7))


def test_drift_has_the_files_spread_and_forgets_over_its_timescale():
    c = conditions("drift", sd=0.1, timescale_s=20.0)
    steps = []
    for _ in range(20_000):
        c.advance(5.0, working=True)
        steps.append(math.log(c.factor()))
    x = np.array(steps)
    assert x.std() == pytest.approx(0.1, rel=0.1)
    assert np.corrcoef(x[:-1], x[1:])[0, 1] == pytest.approx(math.exp(-5 / 20), abs=0.03)


def test_sustained_work_throttles_to_the_files_slowdown_and_rest_brings_the_phone_back():
    c = conditions("throttle", max_slowdown=2.0, heat_s=120.0, cool_s=60.0, onset=0.4)
    assert (c.factor(), c.android_status(), c.ios_state()) == (1.0, 0, "nominal")
    for _ in range(50):
        c.advance(1.0, working=True)
    assert 1.0 < c.factor() < 1.15 and c.android_status() == 1 and c.ios_state() == "fair"  # under a minute in: warm
    for _ in range(150):
        c.advance(1.0, working=True)
    assert c.factor() == pytest.approx(2.0) and c.android_status() == 4 and c.ios_state() == "critical"  # 1.6 heat_s: full throttle
    c.advance(300.0, working=False)
    assert (c.factor(), c.android_status(), c.ios_state()) == (1.0, 0, "nominal")


def test_a_phone_that_never_cools_stays_throttled_at_rest():
    c = conditions("throttle", cool_s=None)
    for _ in range(400):
        c.advance(1.0, working=True)
    c.advance(3600.0, working=False)
    assert c.factor() == pytest.approx(2.0)


def test_each_runs_jitter_has_the_cores_coefficient_of_variation_and_a_mean_of_one():
    c = conditions("noise", cv=0.12)
    x = np.array([c.jitter() for _ in range(40_000)])
    assert x.mean() == pytest.approx(1.0, abs=0.005) and x.std() / x.mean() == pytest.approx(0.12, rel=0.05)


def test_bursts_of_other_work_take_the_share_of_time_their_rate_and_length_give():
    c = conditions("interference", rate_per_min=2.0, duration_s=3.0, slowdown=1.6)
    slowed = []
    for _ in range(100_000):
        c.advance(0.1, working=True)
        slowed.append(c.factor() > 1.0)
    assert np.mean(slowed) == pytest.approx(1 - math.exp(-2.0 / 60 * 3.0), abs=0.02)  # a Poisson process's coverage


def test_governor_steps_hold_the_files_levels():
    c = conditions("dvfs", levels=[1.0, 1.25, 1.6], dwell_s=2.0)
    seen = set()
    for _ in range(2_000):
        c.advance(0.5, working=True)
        seen.add(round(c.factor(), 6))
    assert seen == {1.0, 1.25, 1.6}


class Known(Catalogue):
    """Programs named for the networks they stand for: the export cache's part is test_a_catalogue_..."""

    def __init__(self, networks: dict[str, Network]) -> None:
        super().__init__()
        self.networks = networks

    def network(self, program: Path) -> Network:
        return self.networks[program.stem]


def session(tmp_path: Path, sim: PhoneSimulation, networks: dict[str, Network], plan: TimingPlan, backend: str = "pte") -> dict:
    run = tmp_path / f"run-{sim.sessions}"
    (run / "models").mkdir(parents=True)
    for name in networks:
        (run / "models" / f"{name}.pte").write_bytes(b"\0" * 100_000)
    request = make_request(run.name, backend, [{"id": n, "file": f"models/{n}.pte", "input_shape": [1, 3, 128, 128]} for n in networks], 1, None, plan)
    (run / "request.json").write_text(json.dumps(request))
    result = validate(sim.run(run), "result", "the simulated phone's result")
    return check_result(result, request, "the simulated phone") if result["status"] == "ok" else result


def test_a_phone_holding_still_answers_each_model_with_its_quiet_truth_in_every_round(tmp_path):
    networks = {"small": Network(min_config(TINY, 128)), "large": Network(max_config(TINY, 128))}
    sim = PhoneSimulation(varied(read_behaviour("pixel-like"), only=()), Known(networks))
    result = session(tmp_path, sim, networks, TimingPlan(warmup_runs=2, warmup_s=0.0, runs=5, min_s=0.0, burst=3))
    for model in result["models"]:
        assert model["samples_ms"] == pytest.approx([sim.quiet_ms(networks[model["id"]])] * 5)
    assert result["rounds"] == 5 and result["device"] == {"platform": "android", "model": "Pixel 7 (simulated)", "os": "Android 14 (simulated)", "cores": 8}


def test_a_session_lasts_its_seconds_in_the_phones_time_and_one_seed_gives_one_history(tmp_path):
    networks = {"large": Network(max_config(TINY, 128))}
    plan = TimingPlan(warmup_runs=1, warmup_s=0.0, runs=3, min_s=1.0)
    runs = []
    for attempt in range(2):
        sim = PhoneSimulation(read_behaviour("hard"), Known(networks))
        runs.append(session(tmp_path / str(attempt), sim, networks, plan)["models"][0]["samples_ms"])
    quiet = sim.quiet_ms(networks["large"])
    assert runs[0] == runs[1] and sum(runs[0]) >= 1000.0 - quiet * 2 and len(runs[0]) > 3


def test_a_program_the_phone_cannot_price_is_an_error_result_as_a_model_that_will_not_load(tmp_path):
    sim = PhoneSimulation(read_behaviour("pixel-like"), Catalogue(tmp_path / "empty-cache"))
    result = session(tmp_path, sim, {"mine": Network(None)}, TimingPlan(runs=1))
    assert result["status"] == "error" and "is no program the toolkit's export cache holds" in result["error"]


def test_a_catalogue_finds_a_program_by_the_export_records_sha256(tmp_path):
    program = tmp_path / "cache" / "exports" / "pte-int8" / "ab" / "abc.pte"
    program.parent.mkdir(parents=True)
    program.write_bytes(b"a program")
    config = max_config(TINY, 128)
    probe = {"kind": "net", "resolution": 128, "config": config.to_json(), "head": False}
    program.with_suffix(".json").write_text(json.dumps({"probe": probe, **fingerprint(program)}))
    pushed = tmp_path / "phone" / "net.pte"
    pushed.parent.mkdir()
    pushed.write_bytes(b"a program")
    assert Catalogue(tmp_path / "cache").network(pushed) == Network(config, head=False, backend=None)


@pytest.mark.slow
def test_a_timed_phone_prices_each_program_by_its_real_time_here_once_times_the_phones_speed(tmp_path, tiny_min_pte):
    phone = varied(read_behaviour("pixel-like"), only=())
    sim = PhoneSimulation(phone, Known({"net": Network(min_config(TINY, 64))}), truth="timed")
    answers = []
    for attempt in range(2):
        run = tmp_path / f"run-{attempt}"
        (run / "models").mkdir(parents=True)
        (run / "models" / "net.pte").write_bytes(tiny_min_pte.read_bytes())
        plan = TimingPlan(warmup_runs=1, warmup_s=0.0, runs=3, min_s=0.0)
        request = make_request(run.name, "pte", [{"id": "net", "file": "models/net.pte", "input_shape": [1, 3, 64, 64]}], 1, None, plan)
        (run / "request.json").write_text(json.dumps(request))
        answers.append(check_result(validate(sim.run(run), "result", "the timed phone"), request, "the timed phone")["models"][0]["samples_ms"])
    [host_ms] = sim.timed.host_ms.values()  # timed once, for both sessions
    assert host_ms > 0 and answers[0] == answers[1] == pytest.approx([host_ms * phone["world"]["speed"]] * 3)


def test_the_timed_truth_refuses_a_program_this_machine_cannot_run(tmp_path):
    package = tmp_path / "net.mlpackage"
    package.mkdir()
    with pytest.raises(LookupError, match=r"^net\.mlpackage is no ExecuTorch program: the timed truth runs programs on this machine, which runs \.pte files only$"):
        HostTimed(1.0).quiet_ms(package, [1, 3, 64, 64])
