"""benchmarks/memory.py's page: each goal's verdict and the repeat spread recomputed from the
validations and searches it stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import memory as bench

CONFIG = {"space": "tiny", "stem": {"width": 8}}


def figures(within: float, spearman: float) -> dict:
    return {"samples": 3, "within_5": within, "within_10": within, "mape": 0.02, "spearman": spearman, "kendall": spearman, "bias": -0.01, "rmse_mib": 0.1}


def validation(peaks: list[float], within: float, spearman: float) -> dict:
    return {
        "figures": figures(1.0, 1.0), "memory": {"method": "host: test", "load": figures(1.0, 1.0), "peak": figures(within, spearman)},
        "points": [{"config": {**CONFIG, "n": i}, "predicted_memory_mib": {"load_mib": 1.0, "peak_mib": p},
                    "measured_memory_mib": {"load_mib": 1.0, "peak_mib": p}} for i, p in enumerate(peaks)],
    }


def stored(work: Path, name: str, first: dict, second: dict) -> None:
    (work / "validations").mkdir(parents=True, exist_ok=True)
    ids = json.loads((work / "luts.json").read_text()) if (work / "luts.json").exists() else {}
    (work / "luts.json").write_text(json.dumps({**ids, name: "0123456789abcdef"}))
    for i, doc in ((1, first), (2, second)):
        (work / "validations" / f"{name}-{i}.json").write_text(json.dumps(doc))


def test_a_setup_meets_its_goal_only_with_both_figures_and_its_repeat_spread_is_each_model_s_two_measurements_apart(tmp_path: Path) -> None:
    stored(tmp_path, "tiny-float32", validation([10.0, 20.0], 1.0, 0.97), validation([10.5, 20.0], 1.0, 0.97))
    stored(tmp_path, "tiny-int8", validation([10.0, 20.0], 1.0, 0.80), validation([10.0, 20.0], 1.0, 0.80))
    doc = bench.collect(tmp_path)
    assert doc["setups"]["tiny-float32"]["repeat"]["peak"] == {"median": (0.5 / 10.25 + 0) / 2, "max": 0.5 / 10.25, "models": 2}
    lines = bench.verdicts(doc)
    assert "**met**" in next(line for line in lines if "tiny-float32" in line)
    assert "**missed**" in next(line for line in lines if "tiny-int8" in line)
    assert bench.why_missed(doc)[0].startswith("Why the peak misses (tiny-int8): always low.")  # its bias is below zero


def test_two_validations_of_other_subnets_are_refused(tmp_path: Path) -> None:
    second = validation([10.0, 20.0], 1.0, 0.97)
    second["points"][0]["config"] = {**CONFIG, "n": 99}
    stored(tmp_path, "tiny-float32", validation([10.0, 20.0], 1.0, 0.97), second)
    with pytest.raises(SystemExit, match="measured different subnets"):
        bench.collect(tmp_path)


def _searched(measured_mib: float, budget_mib: float) -> dict:
    memory = {"budget_mib": budget_mib, "predicted": {"peak_mib": 8.94}, "measured": {"peak_mib": measured_mib}}
    run = {"accuracy": 0.99, "test_accuracy": 0.97, "measured_ms_at_lut_speed": 0.442, "within_budget": True, "memory": memory, "config": CONFIG}
    return {"setups": {}, "search": {"budgets": {"latency_ms": 0.4428}, "runs": {"latency+tight-memory": run}}}


def test_a_search_measured_over_its_memory_budget_within_the_tolerance_says_by_how_much_and_the_tolerance() -> None:
    (line,) = bench.verdicts(_searched(9.48, 9.04))
    assert "measured 9.48 MiB (1.049x its budget); within every budget, each with the +5% a found model may measure over it: yes" in line
    assert "0.442 ms at the LUT's speed (0.998x its budget)" in line


def test_the_committed_memory_page_is_what_the_committed_figures_render() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs"
    assert (docs / "memory.md").read_text() == bench.page_text(json.loads((docs / "memory.json").read_text()))


def test_each_setup_s_line_holds_its_lut_s_latency_on_the_same_subnets_to_the_same_goal(tmp_path: Path) -> None:
    first = validation([10.0, 20.0], 1.0, 0.97)
    first["figures"] = figures(0.5, 0.63)
    stored(tmp_path, "xxs-float32", first, validation([10.0, 20.0], 1.0, 0.97))
    (line,) = bench.verdicts(bench.collect(tmp_path))
    assert line.endswith("Latency of the same subnets: 50% within ±10% (goal ≥ 95%), Spearman 0.630, MAPE 2.0%, bias -1.0%: **missed**.")


def test_a_setup_not_measured_again_keeps_its_earlier_figures_marked_as_such_and_a_new_one_replaces_its_own(tmp_path: Path) -> None:
    stored(tmp_path, "tiny-float32", validation([10.0, 20.0], 1.0, 0.97), validation([10.0, 20.0], 1.0, 0.97))
    earlier = bench.collect(tmp_path)
    earlier["setups"]["xxs-int8"] = {**earlier["setups"]["tiny-float32"], "space": "xxs", "lut": "fedcba9876543210"}
    earlier["setups"]["tiny-float32"]["lut"] = "an older one"
    doc = bench.collect(tmp_path, earlier)
    assert list(doc["setups"]) == ["tiny-float32", "xxs-int8"]
    assert doc["setups"]["tiny-float32"]["lut"] == "0123456789abcdef" and "earlier" not in doc["setups"]["tiny-float32"]
    assert doc["setups"]["xxs-int8"]["earlier"] is True
    old, new = (next(line for line in bench.verdicts(doc) if f"**{name}**" in line) for name in ("xxs-int8", "tiny-float32"))
    assert "Not re-measured in the latest run" in old and "Not re-measured" not in new


def test_a_working_set_model_that_misses_is_explained_by_its_error_per_stem_width_when_its_repeats_agree(tmp_path: Path) -> None:
    first = validation([9.0, 9.2, 9.4, 9.6], 1.0, 0.9)
    for i, point in enumerate(first["points"]):  # the 16-channel stems measured 0.3 MiB above their prediction
        point["config"] = {**CONFIG, "stem": {"width": 16 if i % 2 else 8}, "n": i}
        point["measured_memory_mib"] = {"load_mib": 1.0, "peak_mib": point["predicted_memory_mib"]["peak_mib"] + (0.3 if i % 2 else 0.0)}
    stored(tmp_path, "tiny-int8", first, first)
    doc = bench.collect(tmp_path)
    doc["setups"]["tiny-int8"]["peak_model"] = "largest"
    (line, _) = bench.why_largest_missed(doc)
    assert line.startswith("Why tiny-int8's peak misses: its two measurements of each subnet rank them alike (Spearman 1.000)")
    assert "2 with a stem 8 channels wide +0.00 MiB, 2 with a stem 16 channels wide -0.30 MiB" in line and "would rank at Spearman 1.000" in line


def test_a_bench_step_that_stops_ends_the_benchmark_in_one_sentence_saying_how_to_resume(monkeypatch, tmp_path):
    """A profile stopped by SIGTERM exits 143; the benchmark says so and how to go on, not a traceback."""
    import sys

    monkeypatch.setattr(bench, "BENCH", [sys.executable, "-c", "raise SystemExit(143)"])
    with pytest.raises(SystemExit) as stopped:
        bench.bench(tmp_path, "profile", "--device", "host-int8")
    assert str(stopped.value) == ("`bench profile` stopped with exit code 143 (its own message is above); run this benchmark command again "
                                  "with the same --work: a profile resumes where it stopped, a validation starts over")
