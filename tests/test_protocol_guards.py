"""The measurement protocol's guards against a phone's conditions (issue 84): noise met with more
sessions, a session that throttles the phone twice measured again shorter, and a phone that never
cools refused in one sentence. Their worth on simulated phones is benchmarks/phone_conditions.py's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fakes.adb_peer import AdbPeer
from fakes.phones.behaviour import read_behaviour, varied
from fakes.phones.simulation import PhoneSimulation
from fakes.phones.world import Network
from orchestrator.lut.profile import MAX_NOISE_PASSES, adaptive_round, noise, noise_passes
from orchestrator.lut.reference import round_anchored
from orchestrator.lut.sessions import Sessions
from orchestrator.lut.settings import QUICK, Guards
from orchestrator.measure.budget import TimeBudget
from orchestrator.measure.devices import get_device
from orchestrator.measure.runners.base import RunnerError, Throttled
from orchestrator.plan.builder import build_plan
from search.space import load_space
from search.space.sampling import min_config
from tests.run_docs import model_doc, result_doc
from tests.test_android_runner import measure, pixel7_runner
from tests.test_simulated_phones import Known


def result(samples: dict[str, list[float]], steady: list[int] | None = None) -> dict:
    return result_doc([model_doc(k, v, steady=steady) for k, v in samples.items()], steady)


def test_noise_is_the_median_over_networks_of_each_ones_robust_spread_over_its_steady_rounds() -> None:
    # MAD 1 of a median 10: 14.8%; MAD 0.1 of 10: 1.48%; a burst round left out of the steady ones is no noise
    noisy = result({"a": [9.0, 10.0, 11.0, 9.0, 11.0, 10.0], "b": [9.9, 10.0, 10.1, 9.9, 10.1, 10.0]})
    quiet = result({"c": [9.9, 10.0, 10.1, 9.9, 10.1, 40.0]}, steady=[0, 1, 2, 3, 4])
    assert noise([noisy, quiet]) == pytest.approx(1.4826 * 0.1 / 10)
    assert noise([noisy]) == pytest.approx((1.4826 * 1 / 10 + 1.4826 * 0.1 / 10) / 2)


@pytest.mark.parametrize(("cv", "passes"), [(0.005, 0), (0.04, 1), (0.12, MAX_NOISE_PASSES)])
def test_a_noisy_device_is_measured_in_more_passes_until_each_median_moves_a_percent_or_less(cv: float, passes: int) -> None:
    # a median of n rounds moves by 1.2533 cv / sqrt(n): 10 rounds in each of the preset's 2 passes
    rounds = [10.0 * (1 + cv / 1.4826 * s) for s in (-1, 0, 1, -1, 1, 0, 0, -1, 1, 0)]
    assert noise_passes([result({"a": rounds})], QUICK) == passes


def throttled(rounds: int, medians: dict[str, float]) -> Throttled:
    models = [{"id": k, "summary": {"median_ms": v}} for k, v in medians.items()]
    return Throttled("the phone throttled during the session twice", {"rounds": rounds, "models": models})


def test_a_throttled_session_says_how_many_rounds_it_measured_and_what_its_networks_cost() -> None:
    hot = throttled(25, {"a": 10.0, "anchor": 4.0})
    assert hot.rounds == 25 and hot.medians_ms == {"a": 10.0, "anchor": 4.0}
    assert Throttled("x", {"models": []}).rounds == 0


def sessions(tmp_path: Path, guards: Guards = Guards()) -> tuple[Sessions, list[str]]:
    said: list[str] = []
    settings = dataclasses.replace(QUICK, budget=TimeBudget(seconds=300.0, floor=5), guards=guards)
    return Sessions(get_device("host"), tmp_path, settings, said.append), said


def test_a_session_that_throttles_the_phone_twice_halves_every_later_sessions_time(tmp_path: Path) -> None:
    run, said = sessions(tmp_path)
    # 2000 rounds of 3 bursts of 14 ms: 84 s of rounds
    run._shorten("mbconv-layers", throttled(2000, {"a": 10.0, "anchor": 4.0}), ["a", "anchor"])
    assert (run.budget.seconds, run.budget.floor) == (pytest.approx(42.0), 5)
    assert said == ["session mbconv-layers: the phone throttled in it twice after 84 s of rounds; sessions now measure at most 42 s of rounds (at least 5), with a cool-down before each"]


def test_a_phone_that_throttles_whatever_the_session_is_refused_once_sessions_are_at_their_fewest_rounds(tmp_path: Path) -> None:
    run, said = sessions(tmp_path)
    hot = throttled(2000, {"a": 10.0, "anchor": 4.0})
    with pytest.raises(Throttled):
        for _ in range(20):  # a phone that throttles in every session, however short
            run._shorten("mbconv-layers", hot, ["a", "anchor"])
    assert run.budget.seconds == pytest.approx(0.042 * 5) and len(said) == 9  # 84 s halved to 0.21 s, the floor's 5 rounds


def test_with_the_thermal_guard_off_a_session_that_throttles_twice_is_refused(tmp_path: Path) -> None:
    run, _ = sessions(tmp_path, Guards(thermal_budget=False))
    hot = throttled(2000, {"a": 10.0, "anchor": 4.0})
    with pytest.raises(Throttled) as caught:
        run._shorten("mbconv-layers", hot, ["a", "anchor"])
    assert caught.value is hot and run.budget.seconds == 300.0


def test_a_session_at_its_fewest_rounds_that_still_throttles_is_refused(tmp_path: Path) -> None:
    run, _ = sessions(tmp_path)
    # a round of 3 bursts of 14 ms is 0.042 s; 5 rounds at the least
    with pytest.raises(Throttled):
        run._shorten("mbconv-layers", throttled(5, {"a": 10.0, "anchor": 4.0}), ["a", "anchor"])


def test_a_phone_that_never_cools_is_refused_in_one_sentence_and_never_measured(tmp_path: Path, phone_cache: Path) -> None:
    phone = read_behaviour("hard")
    never = varied({**phone, "conditions": {**phone["conditions"], "throttle": {**phone["conditions"]["throttle"], "cool_s": None}}}, only=("throttle",))
    sim = PhoneSimulation(never, Known({"net": Network(min_config(load_space("tiny"), 64))}))
    sim.conditions.advance(600.0, working=True)  # an afternoon's sustained work, as a game would do
    with AdbPeer(tmp_path / "phone") as peer:
        peer.phone.app_behaviour, peer.phone.simulation = "simulated phone", sim
        program = tmp_path / "net.pte"
        program.write_bytes(b"a program")
        runner = pixel7_runner(peer, tmp_path / "adbkey", heat_poll_s=0.0, heat_wait_s=0.5)
        runner.log = lambda line: None
        with pytest.raises(RunnerError) as caught:
            measure(runner, tmp_path / "run", {"net": program})
    assert str(caught.value) == (
        "the phone stays throttled (thermal status 4, battery 30 °C, where a session needs thermal status at most 1) after 0.5 s of waiting; "
        "let it cool out of the sun and away from other work, or raise AndroidSettings.heat_wait_s"
    )
    assert peer.phone.launches == [] and sim.sessions == 0


def test_an_adaptive_round_of_more_networks_than_the_plans_largest_session_is_split_into_sessions_no_larger() -> None:
    entries = build_plan(load_space("tiny"), 128).entries[:66]  # 76 networks: the hard phone's first adaptive round, nearly
    assert [(name, len(ids)) for name, ids in adaptive_round("adaptive-1", entries, phones=1, most=53)] == [("adaptive-1-1", 37), ("adaptive-1-2", 40)]
    assert [(name, len(ids)) for name, ids in adaptive_round("adaptive-1", entries, phones=1, most=80)] == [("adaptive-1", 76)]


def test_each_round_is_scaled_by_the_phones_speed_around_it_so_a_governor_step_within_a_session_cancels() -> None:
    anchor = [10.0, 10.0, 10.0, 16.0, 16.0, 16.0, 16.0, 16.0, 10.0, 10.0, 10.0]  # five rounds at the governor's slower step
    [scaled] = round_anchored([{"anchor": anchor, "net": [2 * a for a in anchor]}], "anchor")
    assert scaled["net"] == pytest.approx([20.0] * 11) and scaled["anchor"] == pytest.approx([10.0] * 11)


def test_one_slow_anchor_time_does_not_move_its_round() -> None:
    [scaled] = round_anchored([{"anchor": [10.0, 10.0, 10.0, 30.0, 10.0, 10.0, 10.0], "net": [20.0] * 7}], "anchor")
    assert scaled["net"] == pytest.approx([20.0] * 7)


def test_a_session_too_short_to_see_a_speed_in_is_left_as_measured() -> None:
    session = {"anchor": [10.0, 16.0, 10.0, 16.0], "net": [20.0, 32.0, 20.0, 32.0]}
    assert round_anchored([session], "anchor") == [session]
