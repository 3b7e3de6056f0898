"""Validation figures and subnet selection, and the isolated-method plan compared against it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from orchestrator.lut.store import append_validation, latest_validation
from orchestrator.lut.validation import spread_subnets
from orchestrator.plan.builder import build_plan
from orchestrator.plan.networks import build_probe
from search.nas.agreement import figures
from search.nas.lut import LUTError
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from search.space.config import validate
from search.space.encoding import random_batch
from search.space.sampling import min_config
from tests.small_subnets import small_subnets
from tests.test_predictor import full_lut

pytestmark = pytest.mark.exports

TINY = load_space("tiny")


def test_figures_of_known_predictions() -> None:
    measured = np.array([10.0, 11.0, 12.0, 13.0])
    predicted = measured * np.array([1.04, 1.08, 0.90, 1.20])  # +4%, +8%, -10%, +20%
    f = figures(predicted, measured)
    assert (f["within_5"], f["within_10"]) == (0.25, 0.75)
    assert f["mape"] == pytest.approx((0.04 + 0.08 + 0.10 + 0.20) / 4)
    assert f["bias"] == pytest.approx((0.04 + 0.08 - 0.10 + 0.20) / 4)
    assert f["rmse_ms"] == pytest.approx(np.sqrt((0.4**2 + 0.88**2 + 1.2**2 + 2.6**2) / 4))
    assert f["samples"] == 4


def test_rank_figures_of_a_perfectly_ordered_prediction() -> None:
    f = figures(np.arange(1.0, 11.0) * 1.3, np.arange(1.0, 11.0))
    assert f["spearman"] == pytest.approx(1.0) and f["kendall"] == pytest.approx(1.0) and f["within_10"] == 0.0


def test_validation_subnets_are_valid_distinct_and_spread_over_the_range() -> None:
    predictor = LatencyPredictor(full_lut(), TINY)
    configs = spread_subnets(predictor, TINY, 12, seed=3)
    assert len({c.hash for c in configs}) == 12
    assert all(validate(c, TINY) and c.resolution == 64 for c in configs)
    predicted = predictor.predict_many(configs)
    assert list(predicted) == sorted(predicted)
    everything = predictor.predict_batch(random_batch(TINY, 2000, np.random.default_rng(0), 64))
    assert predicted[0] <= np.percentile(everything, 5) and predicted[-1] >= np.percentile(everything, 95)


def sidecar_record(lut_id: str, within_10: float = 0.9, predicted_ms: float = 10.0) -> dict:
    figures = {"samples": 1, "within_5": 1.0, "within_10": within_10, "mape": 0.01, "rmse_ms": 0.1, "spearman": 1.0, "kendall": 1.0, "bias": 0.0}
    return {
        "lut_id": lut_id, "device": "host", "seed": 0, "created_at": "2026-11-22T00:00:00+00:00", "figures": figures, "raw_figures": figures,
        "anchor": {"lut_reference_ms": 9.0, "session_ms": 9.0, "speed_factor": 1.0},
        "points": [{"config": min_config(TINY).to_dict(), "predicted_ms": predicted_ms, "raw_predicted_ms": 10.0, "measured_ms": 10.1}],
    }


LUT_ID = "0123456789abcdef"


def test_validation_runs_accumulate_beside_the_lut(tmp_path) -> None:
    lut_path = tmp_path / f"{LUT_ID}.json"
    append_validation(lut_path, sidecar_record(LUT_ID, 0.5))
    append_validation(lut_path, sidecar_record(LUT_ID, 0.9))
    assert latest_validation(lut_path, LUT_ID)["figures"]["within_10"] == 0.9
    assert len(json.loads((tmp_path / f"{LUT_ID}.validation.json").read_text())["runs"]) == 2
    assert latest_validation(tmp_path / "never.json", LUT_ID) is None


def test_a_sidecar_copied_from_another_lut_is_refused(tmp_path) -> None:
    append_validation(tmp_path / "fedcba9876543210.json", sidecar_record("fedcba9876543210"))
    (tmp_path / "fedcba9876543210.validation.json").rename(tmp_path / f"{LUT_ID}.validation.json")
    with pytest.raises(LUTError, match=rf"belongs to another LUT than {LUT_ID}; delete it and run `bench validate --lut {LUT_ID}` again$"):
        latest_validation(tmp_path / f"{LUT_ID}.json", LUT_ID)


def test_a_sidecar_with_a_prediction_of_zero_is_refused(tmp_path) -> None:
    doc = {"lut_id": LUT_ID, "runs": [sidecar_record(LUT_ID, predicted_ms=0.0)]}
    (tmp_path / f"{LUT_ID}.validation.json").write_text(json.dumps(doc))
    with pytest.raises(LUTError, match=r"is malformed at runs/0/points/0/predicted_ms \(0\.0 is less than or equal to the minimum of 0\)"):
        latest_validation(tmp_path / f"{LUT_ID}.json", LUT_ID)


def test_a_sidecar_whose_subnet_is_no_config_is_refused_naming_the_file(tmp_path) -> None:
    record = sidecar_record(LUT_ID)
    record["points"][0]["config"] = {**record["points"][0]["config"], "stem": {"width": 999}}
    path = tmp_path / f"{LUT_ID}.validation.json"
    path.write_text(json.dumps({"lut_id": LUT_ID, "runs": [record]}))
    with pytest.raises(LUTError) as refused:
        latest_validation(tmp_path / f"{LUT_ID}.json", LUT_ID)
    assert str(refused.value) == (
        f"the validation record {path} is malformed at runs/0/points/0/config (Conv: width=999 is not allowed; allowed values: 8, 16); "
        f"delete it and run `bench validate --lut {LUT_ID}` again"
    )


@pytest.mark.slow
def test_validations_appending_at_once_lose_no_run(tmp_path) -> None:
    import multiprocessing

    from tests.sidecar_appender import append_many

    lut_path = tmp_path / f"{LUT_ID}.json"
    context = multiprocessing.get_context("spawn")
    seeds = {w: [w * 100 + i for i in range(15)] for w in (1, 2)}
    workers = [context.Process(target=append_many, args=(str(lut_path), sidecar_record(LUT_ID), seeds[w])) for w in (1, 2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    seeds = sorted(r["seed"] for r in json.loads((tmp_path / f"{LUT_ID}.validation.json").read_text())["runs"])
    assert seeds == sorted(w * 100 + i for w in (1, 2) for i in range(15))


def test_isolated_plan_has_the_same_entries_each_measured_alone() -> None:
    removal, isolated = build_plan(TINY), build_plan(TINY, method="isolated")
    assert [e.key for e in isolated.entries] == [e.key for e in removal.entries]
    assert isolated.method == "isolated" and isolated.id != removal.id
    overhead = next(e for e in isolated.entries if e.kind == "overhead")
    assert overhead.variant == overhead.reference
    blocks = [e for e in isolated.entries if e.kind != "overhead"]
    assert all(e.variant is None and isolated.probes[e.reference].kind == "block" for e in blocks)


def test_isolated_transformer_layer_sees_its_stage_tokens() -> None:
    plan = build_plan(TINY, method="isolated")
    entry = next(e for e in plan.entries if e.key == "transformer/Transformer-2/layer/w32/h2/r2")
    spec = plan.probes[entry.reference]
    assert spec.input_shape == (4 * 2 * 2, 32)  # 64 px: Transformer-2 works on 4x4 maps, 2x2 patches
    out = build_probe(spec, TINY)(torch.randn(spec.input_shape))
    assert tuple(out.shape) == (16, 32)


@pytest.mark.slow
def test_validate_json_is_one_document_on_stdout_with_progress_on_stderr(bench_cli, tmp_path, monkeypatch) -> None:
    """Also: the subnets are timed beside the LUT's anchor network, and a LUT with no reference speed
    of its own gets both figures alike (a speed factor of 1)."""
    from orchestrator.lut.store import save_lut
    from tests.lut_factory import sized_lut

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_LUTS", str(tmp_path / "luts"))
    host = {"name": "host", "platform": "host", "backend": "pte", "runtime": {"threads": 1}, "description": "this CPU", "facts": {}}
    lut = sized_lut(TINY, device=host)
    path = save_lut(lut, tmp_path / "luts")
    monkeypatch.setattr("orchestrator.lut.validation.spread_subnets", lambda predictor, space, n, seed: small_subnets(space, n))
    result = bench_cli("validate", "--lut", lut["id"], "--samples", "3", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["samples"] == 3 and doc["method"] == "removal" and Path(doc["plot"]).is_file()
    assert doc["reports"] == [str(path.with_name(f"{lut['id']}.report.html"))] and lut["id"] in Path(doc["reports"][0]).read_text()
    assert "measuring 4 subnets end to end on host" in result.stderr
    record = latest_validation(path, lut["id"])
    assert record["figures"]["samples"] == 3 and len(record["points"]) == 3 and all(p["measured_ms"] > 0 for p in record["points"])
    assert record["anchor"]["session_ms"] > 0 and record["anchor"]["speed_factor"] == doc["speed_factor"] == 1.0  # sized_lut has no reference speed
    assert record["figures"] == record["raw_figures"] == doc["raw"]
    assert Path(doc["plot"]).read_bytes()[:4] == b"\x89PNG"
