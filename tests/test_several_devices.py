"""benchmarks/several_devices.py's page: every verdict recomputed from the runs it stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import several_devices as sd

DEVICES = list(sd.LUTS)


def store(work: Path, seed: int, ratios: dict[str, dict[str, float]], accuracy: dict[str, float], images: int | None = None) -> None:
    """One run: each model's measured share of each device's budget (budgets of 1 ms) and its
    accuracy (on `images` held-out and test images, where given)."""
    base = work / "q35" / f"seed{seed}"
    (base / "cross").mkdir(parents=True)
    (base / "budgets.json").write_text(json.dumps({d: 1.0 for d in DEVICES}))
    for name in [*DEVICES, sd.JOINT]:
        (base / name).mkdir()
        counted = {"total": images} if images else {}
        result = {"config_hash": name, "model": {"holdout": {"value": accuracy[name], **counted}, "test": {"value": accuracy[name] - 0.01, **counted}},
                  "binding": {"device": "host-portable" if name == sd.JOINT else name, "constraint": "latency"}, "within_budget": True}
        (base / name / "result.json").write_text(json.dumps(result))
    for d in DEVICES:
        (base / "cross" / d).mkdir()
        (base / "cross" / d / "timings.json").write_text(json.dumps({n: {"measured_ms": r[d], "at_lut_ms": r[d]} for n, r in ratios.items()}))


def test_the_verdicts_are_recomputed_from_the_stored_runs(tmp_path):
    fits = {d: 0.9 for d in DEVICES}
    ratios = {"host": {**fits, "host-portable": 1.2}, "host-int8": fits, "host-2t": fits, "host-portable": {**fits, "host": 1.1}, sd.JOINT: fits}
    store(tmp_path, 0, ratios, {"host": 0.90, "host-int8": 0.80, "host-2t": 0.85, "host-portable": 0.70, sd.JOINT: 0.82})
    store(tmp_path, 1, {**ratios, sd.JOINT: {**fits, "host": 1.06}}, {"host": 0.90, "host-int8": 0.80, "host-2t": 0.85, "host-portable": 0.70, sd.JOINT: 0.84})
    doc = sd.collect(tmp_path)
    v = sd.verdicts(doc)
    assert v["joint_within_every_budget"] == {"share": 0.5, "runs": 2}
    assert v["per_device_models_on_other_devices"]["max_ratio"] == 1.2 and v["per_device_models_on_other_devices"]["pairs"] == 24
    assert v["joint_minus_best_fitting_per_device_holdout_points"]["min"] == pytest.approx(-3.0)  # host-2t fits every device at 85%, the joint model 82%
    assert v["price_of_one_model_points"]["holdout"]["n"] == 8 and v["binding_device"] == {"q35": ["host-portable", "host-portable"]}
    page = sd.page(doc, v)
    assert "**missed** in 50% of 2 runs (goal 100%)" in page and "reached up to 1.20x those devices' budgets" in page


def test_two_models_on_a_thousand_images_at_a_quarter_right_move_apart_by_up_to_3_8_points_by_sampling_alone():
    assert sd.sampling_band(0.25, 1000) == pytest.approx(3.7955, abs=1e-3)
    assert sd.sampling_band(0.25, 4000) == pytest.approx(3.7955 / 2, abs=1e-3)


def test_the_page_reads_the_joint_model_s_gap_against_the_band_two_models_move_apart_by_sampling_alone(tmp_path):
    fits = {d: 0.9 for d in DEVICES}
    ratios = {name: fits for name in [*DEVICES, sd.JOINT]}
    store(tmp_path, 0, ratios, {"host": 0.255, "host-int8": 0.25, "host-2t": 0.25, "host-portable": 0.245, sd.JOINT: 0.25}, images=1000)
    doc = sd.collect(tmp_path)
    v = sd.verdicts(doc)
    assert v["accuracy_spread"]["holdout"]["noise_points"] == pytest.approx(sd.sampling_band(0.25, 1000))
    page = sd.page(doc, v)
    assert "its largest gap, 0.5 points, lies inside the ±3.8-point band two models move apart by sampling alone" in page
    assert "Two models scored on the same 1,000 held-out images differ by up to ±3.8 points (38 images) by sampling alone" in page
    assert "every model lies within that band of every other, so the searches choose among ties" in page
