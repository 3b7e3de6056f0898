"""docs/phone_conditions.md says what docs/phone_conditions.jsonl holds (benchmarks/phone_conditions_page.py),
and judges the issue's goals on the worst seed."""

from __future__ import annotations

from benchmarks.phone_conditions_page import PAGE, RECORDS, read, render, verdicts

ALL = ["drift", "dvfs", "interference", "noise", "throttle"]


def record(phone: str, within_10: float, spearman: float, seed: int = 0, **extra) -> dict:
    return {
        "phone": phone, "seed": seed, "conditions": ALL, "settings": "quick", "off": None, "protocol": "toolkit", "within_5": within_10,
        "within_10": within_10, "spearman": spearman, "mape": 0.02, "bias": 0.0, "phone_s": 3600.0, **extra,
    }


def test_the_committed_page_is_what_the_committed_records_render() -> None:
    assert PAGE.read_text() == render(read(RECORDS))


def test_a_phone_meets_the_goal_only_when_its_worst_seed_does() -> None:
    said = verdicts([record("hard", 1.0, 0.99), record("hard", 0.93, 0.99, seed=1)])
    assert said == ["- hard, every condition on, 2 seeds: worst seed 93% within ±10% and Spearman 0.990 (goal ≥ 95% and ≥ 0.95): **missed**"]


def test_a_refused_profile_is_said_as_refused_never_averaged_in() -> None:
    refused = {k: v for k, v in record("hard", 0, 0, seed=1).items() if k not in ("within_10", "spearman")} | {"refused": "the phone stays throttled"}
    said = verdicts([record("hard", 1.0, 0.99), refused])
    assert said == ["- hard, every condition on: **refused** in 1 of 2 seeds (the phone stays throttled)"]


def test_searches_are_judged_on_the_delivered_models_quiet_truth_within_the_budget_and_five_percent() -> None:
    searches = [{"share": 0.5, "budget_ms": 10.0, "predicted_ms": 9.5, "true_ms": t, "over": t / 10, "over_at_lut_speed": t / 10} for t in (9.0, 10.4, 10.6)]
    said = verdicts([record("pixel-like", 1.0, 0.99, searches=searches)])
    assert said[-1] == "- searches: 2 of 3 delivered models within their budget +5% by their quiet truth (67%; goal ≥ 95%): **missed**"
