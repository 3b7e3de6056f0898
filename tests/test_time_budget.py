"""Slow models are measured in fewer rounds, within a time budget and never below its floor; fast
ones keep the full counts; the bar's time left follows the sessions' estimates
(orchestrator/measure/budget.py). A fake runner answers with latencies the test sets, so nothing
here depends on how fast this machine is."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.lut.sessions import Sessions, budgeted
from orchestrator.lut.settings import FULL
from orchestrator.measure.budget import TimeBudget, Timetable
from orchestrator.measure.contract import read_json
from orchestrator.measure.devices import get_device
from orchestrator.measure.runners.base import Check, Runner
from orchestrator.measure.session import run_session
from orchestrator.measure.timing import TimingPlan
from tests.run_docs import model_doc, result_doc

FULL_TIMING = TimingPlan(burst=3)  # the full preset's: 10 warm-up rounds and >= 0.5 s, 50 rounds and >= 1 s


class SteadyRunner(Runner):
    """Answers every request at once, every model at its latency in `ms` every round; keeps the
    (warm-up runs, runs) of each request it was sent."""

    platform = "host"

    def __init__(self, ms: dict[str, float]) -> None:
        self.ms, self.sent = ms, []

    def diagnose(self) -> list[Check]:
        return []

    def run(self, run_dir: Path) -> dict[str, Any]:
        request = read_json(run_dir / "request.json", "request")
        self.sent.append((request["warmup"]["runs"], request["measure"]["runs"]))
        rounds = request["measure"]["runs"]
        models = [
            {"id": m["id"], "load_ms": 1.0, "first_inference_ms": self.ms[m["id"]], "samples_ms": [self.ms[m["id"]]] * rounds, "summary": {}}
            for m in request["models"]
        ]
        return {"run_id": request["run_id"], "status": "ok", "device": {}, "runtime": {"version": "fake"}, "rounds": rounds, "models": models}


def model_files(tmp_path: Path, ids: list[str]) -> dict[str, tuple[Path, list[int]]]:
    for mid in ids:
        (tmp_path / f"{mid}.pte").write_bytes(b"program")
    return {mid: (tmp_path / f"{mid}.pte", [1, 3, 8, 8]) for mid in ids}


def test_a_slow_session_measures_the_rounds_the_budget_holds_and_warms_up_in_proportion() -> None:
    # a round of 5 s: 50 rounds would take 250 s, 30 fit in 150 s
    assert TimeBudget(seconds=150, floor=10).fit(FULL_TIMING, round_s=5.0) == TimingPlan(warmup_runs=6, runs=30, burst=3)


def test_a_fast_session_keeps_fifty_runs_and_its_second() -> None:
    # 14 networks of 1 ms in bursts of 3: 42 ms a round
    assert TimeBudget().fit(FULL_TIMING, round_s=0.042) == FULL_TIMING


def test_a_session_too_slow_for_its_floor_within_the_budget_still_measures_the_floor() -> None:
    # 14 networks of 546 ms (XXS at 256 px on portable kernels) in bursts of 3: 23 s a round, 6 in 150 s
    assert TimeBudget(seconds=150, floor=10).fit(FULL_TIMING, round_s=22.9) == TimingPlan(warmup_runs=2, runs=10, burst=3)


def test_the_floor_asks_no_more_rounds_than_the_plan_itself() -> None:
    few = TimingPlan(warmup_runs=2, runs=5)
    assert TimeBudget(seconds=1, floor=10).fit(few, round_s=10.0) == TimingPlan(warmup_runs=2, runs=5)


def test_a_session_of_models_of_unknown_cost_times_a_pilot_round_then_sends_the_counts_that_fit(tmp_path: Path) -> None:
    runner = SteadyRunner({"a": 1000.0, "b": 1000.0})  # 6 s a round in bursts of 3: 25 rounds in 150 s
    result = run_session(get_device("host"), tmp_path / "run", model_files(tmp_path, ["a", "b"]), FULL_TIMING, runner=runner, budget=TimeBudget())
    assert runner.sent == [(0, 1), (5, 25)]
    assert result["rounds"] == 25


def test_a_session_whose_models_cost_is_known_needs_no_pilot(tmp_path: Path) -> None:
    runner = SteadyRunner({"a": 1000.0, "b": 1000.0})
    run_session(
        get_device("host"), tmp_path / "run", model_files(tmp_path, ["a", "b"]), FULL_TIMING, runner=runner, budget=TimeBudget(),
        latency_ms={"a": 1000.0, "b": 1000.0},
    )
    assert runner.sent == [(5, 25)]


def measured_sessions(tmp_path: Path, ms: dict[str, float]) -> list[tuple[int, int]]:
    """The requests a profile's two sessions (networks a and b, then c and d, each with the anchor a) send."""
    sessions = Sessions(get_device("host"), tmp_path, FULL, lambda _: None, show_progress=False)
    sessions.runner = runner = SteadyRunner(ms)
    files = model_files(tmp_path, list(ms))
    artifacts = {mid: SimpleNamespace(path=path) for mid, (path, _) in files.items()}
    probes = {mid: SimpleNamespace(input_shape=shape) for mid, (_, shape) in files.items()}
    sessions.measure_all([("first", ["a", "b"]), ("second", ["c", "d"])], probes, "a", artifacts)
    return runner.sent


def test_a_fast_device_pays_one_pilot_before_its_first_session_only(tmp_path: Path) -> None:
    assert measured_sessions(tmp_path, {"a": 1.0, "b": 0.9, "c": 0.8, "d": 0.9}) == [(0, 1), (10, 50), (10, 50)]


def test_a_slow_device_pays_a_pilot_before_each_session_with_networks_new_to_it(tmp_path: Path) -> None:
    # the second session's c and d are slower than any measured before: at the anchor's speed its rounds would not fit
    assert measured_sessions(tmp_path, {"a": 2000.0, "b": 1000.0, "c": 3000.0, "d": 3000.0}) == [(0, 1), (4, 16), (0, 1), (2, 10)]


def test_a_lut_names_the_sessions_the_budget_cut_and_their_rounds() -> None:
    results = [result_doc([model_doc("a", [1.0] * 50)], run_id="run/fixed-parts"), result_doc([model_doc("b", [1.0] * 12)], run_id="run/stage3-layers")]
    assert budgeted(results, FULL) == {"budgeted_sessions": {"stage3-layers": 12}}


def test_time_left_counts_the_running_session_down_and_the_waiting_ones_whole() -> None:
    timetable = Timetable(["first", "second"])
    timetable.expect("first", 120.0)
    timetable.expect("second", 60.0)
    timetable.start("first", now=1000.0)
    assert timetable.left_s(now=1030.0) == 150.0


def test_sessions_to_come_are_expected_to_overrun_their_estimate_as_finished_ones_did() -> None:
    timetable = Timetable(["first", "second"])
    timetable.expect("first", 100.0)
    timetable.expect("second", 60.0)
    timetable.start("first", now=0.0)
    timetable.finish("first", now=120.0)  # loading and a pilot took 20 s beyond its rounds
    assert timetable.left_s(now=120.0) == 80.0


def test_time_left_is_unknown_while_a_session_has_no_estimate() -> None:
    timetable = Timetable(["first", "second"])
    timetable.expect("first", 100.0)
    assert timetable.left_s(now=0.0) is None


def test_sessions_on_a_shelf_of_phones_share_the_time_left() -> None:
    timetable = Timetable(["first", "second"], workers=2)
    timetable.expect("first", 100.0)
    timetable.expect("second", 100.0)
    assert timetable.left_s(now=0.0) == 100.0


def test_a_budget_needs_time_and_a_round() -> None:
    with pytest.raises(ValueError, match="floor of at least one round"):
        TimeBudget(seconds=150, floor=0)
