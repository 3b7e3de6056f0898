"""The search-quality figures (benchmarks/search_quality_figures.py): the rules that turn recorded
runs into docs/search_quality.json and its page, on hand-built inputs whose answers are known."""

from __future__ import annotations

import pytest

from benchmarks.search_quality_figures import (
    REQUIRED,
    band_of,
    band_picks,
    document,
    flat,
    found_figures,
    goals,
    headroom,
    in_band,
    kendall,
    later_rise,
    learned,
    paired,
    pilot_for,
    quick_figures,
    ranking,
    rise_epoch,
    top_regret,
)
from benchmarks.search_quality_page import render


def found_entry(
    label: str, budget: float, found_ms: float, hand_ms: float, found_alone: tuple = (), hand_alone: tuple = (), *,
    first_ms: float | None = None, point_ms: float | None = None, within: bool = True, host_ms: float | None = None, slow: dict | None = None,
) -> dict:
    """One budget's entry as `found_vs_hand` gives it: the delivered model, the first choice and the
    point-only pick (the same model unless their latencies are given), and the hand-pick."""
    found = {"hash": "f" * 16, "alone": list(found_alone), "measured_ms": found_ms, "inherited": 0.8, "holdout": 0.82, **({"measured_ms_host": host_ms} if host_ms else {})}
    return {
        "label": label, "budget_ms": budget, "within": within, "delivered_rank": 0, "found": found,
        "first_choice": {**found, "hash": "1" * 16, "measured_ms": first_ms or found_ms, "holdout": 0.83},
        "point_only": {**found, "hash": "2" * 16, "measured_ms": point_ms or found_ms}, "candidates": [found],
        "slower_device": slow or {"slowdown": 1.3, "within": False, "delivered_rank": 0, "ratio": 1.3 * found_ms / budget},
        "hand": {"hash": "e" * 16, "alone": list(hand_alone), "measured_ms": hand_ms, "inherited": 0.79, "holdout": 0.8},
    }


def strategy_run(strategy: str, seed: int, test: float, held: float, budget: float = 0.4, **finish) -> dict:
    """A strategy run with the finish applied: by default its first choice delivered, within the budget."""
    return {"strategy": strategy, "seed": seed, "budget_ms": budget, "best_test": test, "best_holdout": held, "first_test": test,
            "first_holdout": held, "first_ratio": 0.98, "delivered": 0, "within": True, **finish}


def subnet(i: int, alone: list[float], inherited: float, band: str | None = None, role: str = "spread") -> dict:
    """A reference subnet whose proxies grow with `i`."""
    return {
        "hash": f"{i:016x}", "role": role, "config": {"i": i}, "predicted_ms": 0.1 * (i + 1), "params": 1000 * (i + 1),
        "flops": 1e6 * (10 - i), "band": band, "alone": alone, "converged": [True] * len(alone), "inherited": {"sandwich": inherited},
    }


def test_a_curve_is_flat_when_its_last_fifth_is_within_a_point_of_the_fifth_before():
    assert flat([0.5, 0.7, 0.8, 0.80, 0.805, 0.80, 0.81, 0.805, 0.81, 0.812]) is True
    assert flat([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]) is False
    assert flat([0.5, 0.6, 0.7, 0.8]) is None


def test_a_run_rises_at_the_first_epoch_whose_held_out_accuracy_reaches_three_times_chance():
    assert rise_epoch([0.1, 0.12, 0.31, 0.5, 0.6], chance=0.1) == 3
    assert rise_epoch([0.1, 0.29], chance=0.1) is None and rise_epoch([0.9], chance=0.25) == 1


def test_later_rise_counts_the_subnets_whose_later_rising_seed_ended_lower():
    """Seed 1 ends a point above seed 0 in every synthetic subnet: it rose later in one (ended
    higher), earlier in one (the later seed 0 ended lower), and at the same epoch in one (left out)."""
    subnets = [subnet(i, [0.6, 0.61], 0.5) for i in range(3)]
    for s, epochs in zip(subnets, ([20, 30], [30, 20], [25, 25])):
        s["rise_epoch"] = epochs
    assert later_rise(subnets) == {"left_chance": 3, "pairs": 2, "later_ended_lower": 1}


def test_a_run_learned_when_it_left_chance_within_the_first_half_of_its_epochs():
    assert learned([0.1, 0.4, 0.6, 0.7], chance=0.1)
    assert not learned([0.1, 0.1, 0.4, 0.7], chance=0.1)  # left at epoch 3 of 4
    assert not learned([0.1, 0.1, 0.12, 0.15], chance=0.1)  # never left


def test_the_figures_as_run_keep_the_run_that_did_not_learn_and_are_absent_when_every_run_learned():
    doc = synthetic_document()
    assert doc["figures"]["as_run"] is None
    subnets = doc["subnets"]
    for s in subnets:
        s["alone_as_run"] = list(s["alone"])
    subnets[4]["did_not_learn"], subnets[4]["alone_as_run"] = [{"seed": 1, "test": 0.12}], [subnets[4]["alone"][0], 0.12]
    meta = {k: doc[k] for k in ("date", "machine", "lut", "data_command", "recipe")}
    a = document(subnets, doc["variants"], "sandwich", doc["bands"], [], [], None, {**meta, "chance": 0.1})["figures"]["as_run"]
    assert a["did_not_learn"] == [{"hash": subnets[4]["hash"], "seed": 1, "test": 0.12}] and a["chance"] == 0.1
    assert a["ceiling"]["value"] == pytest.approx(0.2)  # seed 1 of the best subnet is now the worst: 4 of 10 pairs flip
    assert a["seed_sd_points"] > doc["figures"]["headroom"]["seed_sd_points"]


def test_kendall_gives_tau_b_and_a_bootstrap_interval_that_holds_it():
    tau = kendall([1, 2, 3, 4, 5], [1, 3, 2, 5, 4])
    assert tau["value"] == pytest.approx(0.6)  # 8 concordant, 2 discordant of 10 pairs
    assert tau["low"] <= 0.6 <= tau["high"] and tau["high"] == 1.0
    assert kendall([1, 2, 3, 4, 5], [1, 3, 2, 5, 4]) == tau  # seeded: the same interval every time


def test_kendall_of_a_perfect_order_is_one_at_every_resample():
    assert kendall([1, 2, 3, 4], [10, 20, 30, 40]) == {"value": 1.0, "low": 1.0, "high": 1.0, "subnets": 4}


def test_kendall_says_nothing_below_three_subnets_or_when_one_side_is_all_ties():
    assert kendall([1, 2], [2, 1]) is None
    assert kendall([0.5, 0.5, 0.5], [1, 2, 3]) is None


def test_the_ceiling_is_seed_zero_against_seed_one_alone():
    subnets = [subnet(0, [0.50, 0.52], 0.3), subnet(1, [0.60, 0.58], 0.2), subnet(2, [0.70, 0.71], 0.1), subnet(3, [0.65, 0.75], 0.4)]
    assert ranking(subnets, "sandwich", {})["ceiling"]["value"] == pytest.approx(kendall([0.50, 0.60, 0.70, 0.65], [0.52, 0.58, 0.71, 0.75])["value"])


def test_the_proxies_rank_subnets_by_more_is_better():
    subnets = [subnet(i, [0.5 + 0.1 * i], 0.5) for i in range(4)]  # latency and parameters grow with accuracy, FLOPs shrink
    proxies = ranking(subnets, "sandwich", {})["proxies"]
    assert [proxies[p]["value"] for p in ("predicted_ms", "params", "flops")] == [1.0, 1.0, -1.0]


def test_tau_within_a_band_uses_only_the_band_s_subnets():
    subnets = [subnet(i, [0.5 + 0.1 * i], [0.9, 0.1, 0.2, 0.3, 0.8][i], band="q35" if i else None) for i in range(5)]
    bands = ranking(subnets, "sandwich", {"q35": 0.3, "q70": 0.6})["bands"]
    assert bands["q35"]["value"] == 1.0 and bands["q70"] is None


def test_a_band_holds_the_subnets_predicted_within_five_percent_of_its_budget():
    assert in_band(0.95, 1.0) and in_band(1.05, 1.0) and not in_band(0.94, 1.0) and not in_band(1.06, 1.0)
    assert band_of(0.36, {"q35": 0.35, "q70": 0.45}) == "q35" and band_of(0.40, {"q35": 0.35, "q70": 0.45}) is None


def test_band_picks_spread_evenly_over_the_band_and_refuse_a_thin_one():
    predicted = [0.30, 0.96, 1.20, 1.00, 0.97, 1.04, 1.02, 0.5]
    assert band_picks(predicted, 1.0, 3) == [1, 3, 5]  # 0.96, 1.00 and 1.04 of the band's 0.96-1.04
    with pytest.raises(ValueError, match="only 5 subnets predicted within ±5% of 1.000 ms; 6 asked for"):
        band_picks(predicted, 1.0, 6)


def test_top5_regret_is_the_best_alone_minus_the_best_alone_among_the_supernet_s_top_five():
    inherited = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    alone = [0.70, 0.72, 0.71, 0.60, 0.65, 0.80, 0.50]  # the best (0.80) is 6th by the supernet
    assert top_regret(inherited, alone) == pytest.approx(8.0)
    assert top_regret(inherited, [0.9, 0.7, 0.7, 0.6, 0.6, 0.5, 0.5]) == 0.0


def test_paired_differences_give_the_mean_its_t_interval_and_the_wins_per_budget():
    runs = [
        {"strategy": s, "seed": seed, "budget_ms": 0.35, "best_test": acc}
        for seed, (c, e) in enumerate([(0.80, 0.78), (0.82, 0.79), (0.79, 0.80)])
        for s, acc in (("coarse-to-fine", c), ("evolution", e))
    ]
    [row] = paired(runs, "coarse-to-fine", "evolution")
    assert row["mean"] == pytest.approx(4 / 3) and row["half"] == pytest.approx(5.1711, abs=1e-3)  # t(0.975, 2) 4.303 × SD 2.082 / √3
    assert (row["seeds"], row["wins"], row["losses"], row["ties"]) == (3, 2, 1, 0)


def test_headroom_is_largest_minus_smallest_and_seed_sd_is_pooled_over_subnets():
    subnets = [subnet(0, [0.70, 0.72], 0.5, role="smallest"), subnet(1, [0.84, 0.80], 0.5, role="largest")]
    h = headroom(subnets)
    assert h["points"] == pytest.approx(11.0) and h["seed_sd_points"] == pytest.approx(100 * ((0.0002 + 0.0008) / 2) ** 0.5)


def test_supernet_goals_compare_tau_with_the_target_the_best_proxy_and_the_ceiling():
    tau = {"value": 0.62, "low": 0.4, "high": 0.8}
    figures = {"ranking": {"complete": True, "tau": tau, "ceiling": {"value": 0.8, "low": 0.6, "high": 0.9}, "proxies": {"params": {"value": 0.5, "low": 0, "high": 1}}}}
    met = {g["goal"]: g["met"] for g in goals(figures)}
    assert met["supernet τ ≥ 0.6"] is True and met["supernet τ ≥ best proxy + 0.15"] is False and met["supernet τ ≥ 0.8 × seed-to-seed ceiling"] is False
    assert next(g for g in goals(figures) if g["goal"] == "supernet τ ≥ best proxy + 0.15")["text"] == "supernet τ 0.62 against the best proxy (params) 0.50 + 0.15: missed"


def test_goals_not_yet_measured_are_said_so():
    assert {g["met"] for g in goals({})} == {None} and len(goals({})) == 12


def test_tau_over_an_incomplete_reference_is_given_but_not_judged():
    tau = {"value": 0.7, "low": 0.5, "high": 0.9}
    figures = {"ranking": {"complete": False, "subnets": 10, "tau": tau, "ceiling": None, "proxies": {"params": {"value": 0.2, "low": 0, "high": 0.4}}}}
    first = next(g for g in goals(figures) if g["goal"] == "supernet τ ≥ 0.6")
    assert (first["met"], first["partial"]) == (None, True)
    assert first["text"] == "supernet τ 0.70 [0.50, 0.90] against ≥ 0.6: not judged yet (the reference is incomplete: 10 subnets so far, not all with 2 seeds)"


def test_strategies_are_not_judged_before_ten_seeds_per_budget():
    runs = [strategy_run(s, seed, 0.8, 0.8) for s in ("random", "evolution", "coarse-to-fine") for seed in range(3)]
    by = {g["goal"]: g for g in document([], {}, "sandwich", {}, [], runs, None, {})["goals"]}
    assert by["coarse-to-fine ≥ evolution ≥ random"]["partial"] is True and "over 3 seeds" in by["coarse-to-fine ≥ evolution ≥ random"]["text"]


def test_the_strategies_table_sets_each_test_difference_beside_the_held_out_one_the_search_maximised():
    """Evolution ahead held out and behind on test: the search found the held-out split's noise."""
    runs = [
        strategy_run(name, seed, test + 0.01 * seed, held)
        for seed in range(2) for name, test, held in (("random", 0.80, 0.84), ("evolution", 0.79, 0.85), ("coarse-to-fine", 0.79, 0.85))
    ]
    doc = {**synthetic_document(), "strategy_runs": runs}
    doc["figures"] = document(doc["subnets"], {}, "sandwich", {}, [], runs, None, {})["figures"]
    assert "| 0.400 | evolution − random | 2 | -1.0 ± 0.0 | 0 / 2 / 0 | +1.0 ± 0.0 |" in render(doc)


def test_headroom_is_not_judged_until_both_ends_have_two_seeds():
    subnets = [subnet(0, [0.70], 0.5, role="smallest"), subnet(1, [0.84, 0.80], 0.5, role="largest")]
    by = {g["goal"]: g for g in document(subnets, {}, "sandwich", {}, [], [], None, {})["goals"]}
    assert by["headroom ≥ 10 points"]["text"] == "largest minus smallest alone 12.0 points: not judged yet (the ends have fewer than 2 seeds each so far)"


AT_HAND = "found ≥ hand-pick + 1 point at ≤ 1.05× its latency"
IN_BUDGET = "found models 0.90–1.05× their budgets, measured"


def test_found_misses_when_it_wins_with_a_model_slower_than_the_hand_pick_by_more_than_five_percent():
    entry = found_entry("hand", 0.6, 0.678, 0.62, (0.835, 0.829), (0.815, 0.811))
    by = {g["goal"]: g for g in document([], {}, "sandwich", {}, [entry], [], None, {})["goals"]}
    assert by[AT_HAND]["met"] is False
    assert "+1.9 points, the found model measuring 1.09× the hand-pick's latency" in by[AT_HAND]["text"]


def test_found_meets_its_goal_when_it_wins_by_a_point_at_most_five_percent_slower_than_the_hand_pick():
    entry = found_entry("hand", 0.6, 0.63, 0.62, (0.835, 0.829), (0.815, 0.811))
    by = {g["goal"]: g for g in document([], {}, "sandwich", {}, [entry], [], None, {})["goals"]}
    assert by[AT_HAND]["met"] is True


def test_found_misses_when_the_hand_pick_wins_and_its_ratio_is_outside_the_range():
    entry = found_entry("hand", 0.4, 0.34, 0.4, (0.80, 0.82), (0.81, 0.815))
    by = {g["goal"]: g for g in document([], {}, "sandwich", {}, [entry], [], None, {})["goals"]}
    assert by[AT_HAND]["text"] == "found minus hand-pick, both alone, -0.2 points, the found model measuring 0.85× the hand-pick's latency: missed"
    assert by[IN_BUDGET]["text"] == "delivered at 0.85× (hand; no slower subnet searched was more accurate held out): missed"


def test_a_budget_no_candidate_meets_is_said_so_and_the_device_slower_than_its_lut_never_delivers_over_as_within():
    slow = {"slowdown": 1.3, "within": False, "delivered_rank": 2, "ratio": 1.12}
    entry = found_entry("q35", 0.3, 0.33, 0.4, within=False, slow=slow)
    by = {g["goal"]: g for g in document([], {}, "sandwich", {}, [entry], [], None, {})["goals"]}
    assert by[IN_BUDGET]["text"] == "delivered at 1.10× (q35, none of its candidates within): missed"
    slower = by["on a device 30% slower than its LUT: within, or says none fits"]
    assert (slower["met"], slower["text"]) == (True, "with every timing ×1.3, q35: none fits (closest 1.12×): met")
    over = found_entry("q35", 0.3, 0.3, 0.4, slow={"slowdown": 1.3, "within": True, "delivered_rank": 1, "ratio": 1.2})
    assert next(g for g in document([], {}, "sandwich", {}, [over], [], None, {})["goals"] if g["goal"].startswith("on a device"))["met"] is False


def synthetic_document() -> dict:
    """Five subnets, 3 points apart alone (seeds 1 point apart), the supernet ordering them 0 3 1 4 2: τ = (7 - 3) / 10."""
    subnets = [subnet(i, [0.6 + 0.03 * i, 0.61 + 0.03 * i], 0.5 + 0.02 * ((i * 3) % 5), band="q35" if i % 2 else None) for i in range(5)]
    subnets[0]["role"], subnets[-1]["role"] = "smallest", "largest"
    variants = {"sandwich": {"variant": "sandwich", "flags": [], "calibration_images": 512, "epochs": 75, "seconds": 900.0, "checkpoint_sha256": "ab" * 32}}
    meta = {"date": "2026-12-01", "machine": "NVIDIA H100", "lut": "6cbb6555", "data_command": "bench data cluttered", "recipe": {"epochs": 80, "seeds": 2},
            "checkpoint_sha256": "ab" * 32, "checkpoint_epochs": 75}
    return document(subnets, variants, "sandwich", {"q35": 0.3}, [], [], None, meta)


def test_the_found_section_gives_each_found_model_s_margin_over_the_hand_pick_and_its_latency_against_the_hand_pick_s():
    doc = synthetic_document()
    entries = [found_entry("hand", 0.6, 0.66, 0.6, (0.84, 0.82), (0.81, 0.81)), found_entry("q35", 0.35, 0.45, 0.6, (0.80, 0.80), (0.81, 0.81))]
    doc["found_vs_hand"], doc["figures"]["found"] = entries, found_figures(entries)
    assert "Each found model against the hand-pick, both trained alone: hand +2.0 points at 1.10× its measured latency; q35 -1.0 points at 0.75× its measured latency." in render(doc)


def test_the_document_holds_every_key_the_issue_asks_for():
    doc = synthetic_document()
    assert set(REQUIRED) <= set(doc) and doc["checkpoint_sha256"] == "ab" * 32
    assert {"config", "predicted_ms", "params", "flops", "band", "alone", "inherited"} <= set(doc["subnets"][0])
    assert doc["figures"]["ranking"]["tau"]["value"] == pytest.approx(0.4) and doc["figures"]["ablation"][0]["epochs"] == 75


def test_the_page_opens_with_a_verdict_naming_each_goal_its_figure_and_met_or_missed():
    page = render(synthetic_document())
    verdict = page.split("\n\n")[1] + "\n" + page.split("\n\n")[2]
    assert verdict.startswith(
        "**Verdict** (the sandwich supernet, checkpoint `abababababab`, 75 epochs; LUT 6cbb6555): 2 of 12 goals met, 3 missed, 7 not judged or not measured yet."
    )
    assert "\n- supernet τ ≥ 0.6: supernet τ 0.40 [" in verdict and "against ≥ 0.6: missed" in verdict
    assert "\n- headroom ≥ 10 points: largest minus smallest alone 12.0 points: met" in verdict
    assert "\n- seed SD ≤ 1 point: one seed's SD 0.71 points (pooled over 5 subnets): met" in verdict
    assert "| within band q35" not in page and "| supernet within band q35 (0.300 ms ± 5%) |" in page


def test_the_reference_table_gives_each_seed_s_rise_epoch_and_says_whether_the_later_one_ended_lower():
    doc = synthetic_document()
    for s in doc["subnets"]:
        s["rise_epoch"] = [40, 30]
    doc["figures"]["later_rise"] = later_rise(doc["subnets"])
    page = render(doc)
    assert "| 60.0%, 61.0% | yes, yes | 40, 30 | " in page
    assert "the first epoch whose held-out accuracy reached 3 times chance" in page
    assert "Of 5 subnets whose two seeds rose at different epochs, the later seed ended lower in 5." in page


def test_the_page_names_each_run_that_did_not_learn_and_gives_the_figures_as_run():
    doc = synthetic_document()
    doc["subnets"][4]["did_not_learn"] = [{"seed": 1, "test": 0.12, "rise_epoch": None, "epochs": 80}]
    doc["figures"]["as_run"] = {
        "chance": 0.1, "left_chance": 3, "did_not_learn": [{"hash": doc["subnets"][4]["hash"], "seed": 1, "test": 0.12, "rise_epoch": None, "epochs": 80}],
        "seed_sd_points": 17.0, "tau": {"value": 0.2, "low": 0.0, "high": 0.5, "subnets": 5}, "ceiling": {"value": 0.4, "low": 0.1, "high": 0.9, "subnets": 5},
    }
    page = render(doc)
    assert (
        "1 of the reference's 11 stand-alone runs did not learn (held-out accuracy still below 3 times chance, 30.0%, after half their epochs): "
        "`00000000` seed 1 (12.0%, never left chance)." in page
    )
    assert "| supernet, against seeds 0 and 1 as they came out | 5 | 0.20 [0.00, 0.50] |" in page and "(one seed's SD 17.00 points then)" in page
    assert "| 72.0%, 73.0%; seed 1 12.0%, did not learn |" in page


def test_each_ranking_row_names_how_many_subnets_its_tau_is_over():
    page = render(synthetic_document())
    assert "| supernet (inherited accuracy) | 5 | 0.40 [" in page
    assert "| supernet within band q35 (0.300 ms ± 5%) | - | - |" in page  # 2 subnets: no τ


def test_the_ablation_names_each_variant_s_flags_and_says_fixed_shortcuts_rank_another_architecture():
    doc = synthetic_document()
    assert "lack the skip" not in render(doc) and "| sandwich (`abababababab`) | none | 75 |" in render(doc)
    for s in doc["subnets"]:
        s["inherited"]["fixed-shortcuts"] = s["inherited"]["sandwich"]
    fixed = {**doc["variants"]["sandwich"], "variant": "fixed-shortcuts", "flags": ["--fixed-shortcuts"]}
    meta = {k: doc[k] for k in ("date", "machine", "lut", "data_command", "recipe", "checkpoint_sha256")}
    doc = document(doc["subnets"], {**doc["variants"], "fixed-shortcuts": fixed}, "sandwich", doc["bands"], [], [], None, meta)
    page = render(doc)
    assert "| fixed-shortcuts (`abababababab`) | `--fixed-shortcuts` | 75 |" in page
    assert "so that variant ranks subnets that lack the skip the reference's subnets, trained alone, take" in page


def pilots() -> dict:
    """Two pilots of one task (60 and 120 epochs) and one of another."""
    def pilot(command: str, epochs: int, headroom: float) -> dict:
        ends = {"predicted_ms": 0.2, "params": 80_000, "test": [0.6, 0.62], "mean": 0.61, "seed_sd_points": 1.4, "converged": [False, True], "epochs": [epochs] * 2, "seconds": [500, 520]}
        return {"subnets": {"smallest": ends, "largest": ends}, "data_command": command, "lut": "6cbb6555", "headroom_points": headroom,
                "largest": 0.8, "seed_sd_points_max": 1.4, "all_converged": False}
    return {"date": "2026-11-25", "machine": "2 cores", "goals": {"headroom_points": 10.0, "seed_sd_points": 1.0, "largest_max": 0.95, "flat_points": 1.0},
            "pilots": {"a-e60": pilot("bench data cluttered", 60, 26.0), "a-e120": pilot("bench data cluttered", 120, 11.6), "b": pilot("bench data pairs", 200, 0.0)}}


def test_the_pilot_of_the_benchmarks_task_that_trained_longest_goes_into_the_document():
    assert pilot_for(pilots(), "bench data cluttered")["name"] == "a-e120"
    assert pilot_for(pilots(), "bench data digits") is None and pilot_for(None, "bench data cluttered") is None


def test_the_pilot_at_the_references_length_goes_in_though_a_longer_one_exists():
    chosen = pilot_for(pilots(), "bench data cluttered", epochs=60)
    assert chosen["name"] == "a-e60"
    assert [(q["name"], q["epochs"], q["seeds"]) for q in chosen["others"]] == [("a-e120", 120, 2)]


def test_the_verdict_names_the_goals_not_measured_yet_once_each_and_what_the_pilot_found():
    doc = synthetic_document()
    doc["pilot"] = pilot_for(pilots(), "bench data cluttered")
    page = render(doc)
    verdict = page[page.index("**Verdict**"):page.index("\n## ")]
    assert sum(line.endswith(": not measured yet") for line in verdict.splitlines()) == 7
    assert verdict.split("\n\nMeasured")[0].rstrip().endswith(
        "The task's pilot (a-e120: the ends trained alone, 120 epochs): headroom 11.6 points (goal ≥ 10: **met**), "
        "one seed's SD up to 1.40 points (goal ≤ 1: **missed**), every curve flat over its last 20%: **missed**."
    )


def test_the_page_gives_the_pilots_of_the_task_at_other_lengths_beside_its_own():
    doc = synthetic_document()
    doc["pilot"] = pilot_for(pilots(), "bench data cluttered")
    assert "Pilots of the same task at other lengths: a-e60, 60 epochs: headroom 26.0 points, seed SD 1.40 points." in render(doc)


def test_a_pilot_of_one_seed_says_so():
    doc, p = synthetic_document(), pilots()
    p["pilots"]["a-e400"] = {**p["pilots"]["a-e120"], "subnets": {k: {**s, "test": [0.7], "epochs": [400]} for k, s in p["pilots"]["a-e120"]["subnets"].items()},
                             "headroom_points": 9.0, "seed_sd_points_max": None}
    doc["pilot"] = pilot_for(p, "bench data cluttered", epochs=120)
    assert "a-e400, 400 epochs, one seed: headroom 9.0 points, seed SD -." in render(doc)


def test_the_verdict_gives_figures_not_judged_yet_apart_from_goals_not_measured():
    doc = synthetic_document()
    doc["subnets"][2]["alone"] = doc["subnets"][2]["alone"][:1]
    doc = document(doc["subnets"], doc["variants"], "sandwich", doc["bands"], [], [], None, {k: doc[k] for k in ("date", "machine", "lut", "data_command", "recipe")})
    page = render(doc)
    assert "1 of 12 goals met, 11 not judged or not measured yet." in page
    assert "- supernet τ ≥ 0.6: supernet τ 0.40 [" in page and ": not judged yet (the reference is incomplete" in page
    assert "**Preliminary:** the reference is not complete (4 of its 5 subnets" in page


def test_a_found_model_over_its_budget_is_given_with_what_the_lut_s_validation_says():
    entry = found_entry("q35", 0.35, 0.5, 0.5)
    meta = {"lut_validation": {"samples": 30, "within_10": 0.27, "within_5": 0.1, "mape": 0.21, "bias": -0.21, "spearman": 0.78}}
    by = {g["goal"]: g for g in document([], {}, "sandwich", {}, [entry], [], None, meta)["goals"]}
    assert by[IN_BUDGET]["text"] == "delivered at 1.43× (q35) (the LUT's own validation: 27% of subnets within ±10%, bias -21%): missed"
    assert by["LUT validation ≥ 95% within ±10% (unseen subnets)"]["text"] == "27% of 30 within ±10%, 10% within ±5%, Spearman 0.780, bias -21.0%: missed"


def test_a_found_model_timed_on_a_faster_machine_says_how_far_its_timing_was_scaled():
    entry = found_entry("q35", 0.35, 0.5, 0.5, host_ms=0.125)
    by = {g["goal"]: g for g in document([], {}, "sandwich", {}, [entry], [], None, {})["goals"]}
    assert by[IN_BUDGET]["text"] == "delivered at 1.43× (q35); timed here, then scaled 4.00× to the LUT's speed by its anchor network: missed"


def test_the_search_split_s_error_is_given_at_the_found_models_accuracy_beside_each_band_s_spread():
    entry = found_entry("q35", 0.3, 0.3, 0.4)
    meta = {"selection": {"name": "the search split", "images": 2000}, "band_spread": {"q35": {"budget_ms": 0.3, "holdout": [0.80, 0.81, 0.82, 0.83]}}}
    doc = document([], {}, "sandwich", {}, [entry], [], None, meta)
    by = {g["goal"]: g for g in doc["goals"]}
    assert by["search split ≥ 2,000 images, standard error ≤ 0.9 points"]["text"] == (
        "2000 images, standard error 0.86 points at 82%; random subnets inside the bands spread q35 SD 1.3 (range 3.0) points: met"
    )


def test_the_finish_figures_count_first_choices_over_budget_and_the_accuracy_given_up_to_stay_within():
    runs = [
        strategy_run("coarse-to-fine", 0, 0.80, 0.82),
        strategy_run("coarse-to-fine", 1, 0.79, 0.81, first_test=0.81, first_holdout=0.83, first_ratio=1.2, delivered=2),
        strategy_run("coarse-to-fine", 2, 0.78, 0.80, first_test=0.81, first_holdout=0.82, first_ratio=1.3, delivered=1, within=False),
    ]
    f = document([], {}, "sandwich", {}, [], runs, None, {})["figures"]["finish"]
    assert (f["searches"], f["first_over"], f["moved"], f["none_fit"]) == (3, 2, 2, 1)
    assert f["given_up_holdout_points"]["mean"] == pytest.approx(2.0) and f["given_up_test_points"]["mean"] == pytest.approx(2.5)


def test_the_quick_paths_figures_are_read_from_either_version_of_its_search_result():
    first = {"test": {"value": 0.975}, "measured_ms": 0.934, "measured_ms_at_lut_speed": 0.891, "budget": {"latency_ms": 0.885}}
    second = {
        "version": 2, "model": {"test": {"value": 0.97}},
        "devices": {"host": {"constraints": {"latency": {"budget": 0.885, "measured": 0.9, "ratio": 0.9 / 0.885}}}},
    }
    assert quick_figures({"result": first}) == pytest.approx({"test": 0.975, "ratio": 0.891 / 0.885})
    assert quick_figures({"result": second}) == pytest.approx({"test": 0.97, "ratio": 0.9 / 0.885})
