"""`bench lut fit` and the transfer with timed networks: LUTs from whole-network timings, the
FBNet space they are judged on, and HELP's public subset they are judged with."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from infra.errors import UserError
from orchestrator.lut.fit_table import fit_table, neighbour_drift
from orchestrator.lut.table_space import table_space
from orchestrator.lut.timings import TimingsError, read_timings
from search.space import SpaceError, load_space
from search.space.layerwise import LayerwiseError, load_layerwise

ROOT = Path(__file__).resolve().parents[1]
HELP = ROOT / "public_data" / "help_fbnet"
CSV = HELP / "fbnet_latency.csv"


def head(rows: int, tmp_path: Path, name: str = "head.csv") -> Path:
    """The first `rows` networks of HELP's subset, as a user's file would hold them."""
    lines = CSV.read_text().splitlines()
    path = tmp_path / name
    path.write_text("\n".join(lines[: rows + 1]) + "\n")
    return path


def test_fbnet_is_22_layers_of_9_blocks_with_hw_nas_bench_s_widths_and_strides():
    space = load_layerwise("fbnet")
    assert len(space.layers) == 22 and len(space.ops) == 9 and space.num_networks() == 9**22
    firsts = [layer for layer in space.layers if layer.in_width != layer.width]
    assert [(f.stage, f.in_width, f.width, f.stride, f.in_size) for f in firsts] == [
        ("stage2", 16, 24, 1, 32), ("stage3", 24, 32, 2, 32), ("stage4", 32, 64, 2, 16), ("stage5", 64, 112, 1, 8),
        ("stage6", 112, 184, 2, 8), ("stage7", 184, 352, 1, 4),
    ]


def test_a_skip_is_free_where_shapes_match_and_a_projection_where_they_do_not():
    space = load_layerwise("fbnet")
    skip = space.ops[-1]
    assert space.flops(space.layers[2], skip) == 0.0
    assert space.flops(space.layers[5], skip) == 16 * 16 * 24 * 32  # 24 -> 32 at stride 2: a 1x1 conv on the 16x16 output


def test_commands_that_build_networks_say_fbnet_is_fitted_not_profiled():
    with pytest.raises(SpaceError, match=r"layer-wise space of public timings.*bench lut fit --space fbnet"):
        load_space("fbnet")


def test_a_network_with_an_unknown_block_is_refused_naming_layer_and_blocks():
    with pytest.raises(LayerwiseError, match=r"layer L03 holds 'k7_e6', which is not a block of fbnet \(k3_e1, .*skip"):
        table_space("fbnet").parse(["k3_e1"] * 3 + ["k7_e6"] + ["skip"] * 18, "row 1")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("0,7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 5,nan", r"row 1: the latency 'latency_ms' is 'nan', not a finite number above 0"),
        ("0,7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 5,-3", r"row 1: the latency 'latency_ms' is '-3', not a finite number above 0"),
        ("0,7 8 1,12", r"row 1 has 3 blocks; a fbnet network has one per layer \(22\)"),
        ("0,7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 9,12", r"layer L21 holds 9, which is not a block"),
    ],
)
def test_a_bad_row_is_refused_naming_the_row_and_what_is_wrong(tmp_path, row, problem):
    path = tmp_path / "t.csv"
    path.write_text(f"order,ops,latency_ms\n{row}\n")
    with pytest.raises(UserError, match=problem):
        read_timings(path, table_space("fbnet"))


def test_a_file_without_the_latency_column_names_the_option_that_picks_it(tmp_path):
    with pytest.raises(TimingsError, match=r"has no field 'latency_ms' \(it has index, ops, pixel2.*--latency-column"):
        read_timings(head(3, tmp_path), table_space("fbnet"))


def test_a_network_named_twice_is_refused(tmp_path):
    path = tmp_path / "t.json"
    ops = "7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 5"
    path.write_text(json.dumps([{"network": "a", "ops": ops, "latency_ms": 3}, {"network": "a", "ops": ops, "latency_ms": 4}]))
    with pytest.raises(TimingsError, match=r"names network 'a' twice"):
        read_timings(path, table_space("fbnet"))


def test_the_order_comes_from_the_named_column(tmp_path):
    timings = read_timings(head(5, tmp_path), table_space("fbnet"), "pixel2", "index")
    assert timings.order.tolist() == [0, 1, 2, 3, 4] and timings.latency_ms.tolist() == [28, 28, 26, 27, 26]


def test_neighbour_drift_is_the_median_of_the_nearest_others_never_itself():
    order = np.arange(10.0)
    residual = np.array([0, 0, 0, 0, 0, 10, 1, 1, 1, 1.0])
    assert neighbour_drift(order, residual, np.array([5.0]), k=4)[0] == 0.5  # 3, 4, 6, 7: itself (10) left out
    assert neighbour_drift(order, residual, np.array([0.0]), k=2)[0] == 0.0  # at an end: its two nearest on one side


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Networks of fbnet timed on a made-up phone: a table that follows the arithmetic with a
    per-block twist, a drift that ramps within batches of 200 (as HELP's Essential PH-1 does), 1% noise."""
    space = table_space("fbnet")
    rng = np.random.default_rng(seed)
    flops = np.array([space.flops()[e.key] for e in space.entries])
    truth = 2e-7 * flops * rng.uniform(0.7, 1.3, len(flops)) + 0.05
    truth[0] = 8.0
    networks = [tuple(rng.integers(0, 9, 22)) for _ in range(n)]
    counts = space.counts(networks)
    order = np.arange(n, dtype=float)
    drift = np.exp(0.15 * ((order % 200) / 200 - 0.5))
    return counts, counts @ truth * drift * rng.lognormal(0, 0.01, n), order, counts @ truth


def test_the_fit_recovers_a_table_under_drift_and_takes_the_drift_out():
    counts, timed, order, quiet = _synthetic(1000, 0)
    prior = table_space("fbnet").prior()
    fit = fit_table(counts[:800], timed[:800], order[:800], prior)
    assert np.corrcoef(fit.drift, np.exp(0.15 * ((order[:800] % 200) / 200 - 0.5)))[0, 1] > 0.95
    assert fit.lag1_before > 0.5 and abs(fit.lag1_after) < 0.4 and fit.residual_sd < 0.02  # what is left is the 1% noise

    def within_2(f) -> float:  # on the other 200 networks, in the phone's median state
        ratio = f.predict(counts[800:]) / quiet[800:]
        return float(np.mean(np.abs(ratio / np.median(ratio) - 1) <= 0.02))

    assert within_2(fit) >= 0.95 and within_2(fit_table(counts[:800], timed[:800], None, prior)) < 0.85


@pytest.mark.slow
def test_bench_lut_fit_stores_validates_and_lists_a_fitted_lut(bench, tmp_path):
    timings = head(600, tmp_path)
    result = bench("lut", "fit", "--space", "fbnet", "--device", "samsung_a50", "--timings", str(timings),
                   "--latency-column", "samsung_a50", "--order-column", "index", "--platform", "android", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["networks"] == 480 and doc["held_out"] == 120 and doc["figures"]["samples"] == 120
    assert doc["drift"]["lag1_before"] > 0.5 and doc["figures"]["within_10"] > doc["raw_figures"]["within_10"]
    lut = json.loads(Path(doc["path"]).read_text())
    assert lut["method"] == "fitted" and lut["device"]["platform"] == "android" and lut["device"]["backend"] == "external"
    assert lut["device"]["facts"]["timings"]["sha256"] == hashlib.sha256(timings.read_bytes()).hexdigest()
    assert len(lut["entries"]) == 1 + 22 * 9 and lut["measurement"]["fit"]["margin"]["relative"] > 0
    listed = json.loads(bench("lut", "list", "--json").stdout)["luts"]
    mine = next(r for r in listed if r["id"] == doc["id"])
    assert mine["method"] == "fitted" and mine["validation"]["within_10"] == doc["figures"]["within_10"]
    shown = bench("lut", "show", doc["id"][:8])
    assert shown.exit_code == 0 and "fitted to 480 whole-network timings, 120 held out" in shown.stdout


def test_a_fit_says_which_figures_its_data_cannot_support(bench, tmp_path):
    result = bench("lut", "fit", "--space", "fbnet", "--device", "pixel2", "--timings", str(head(40, tmp_path)), "--latency-column", "pixel2", "--json")
    notes = json.loads(result.stdout)["notes"]
    assert any(n.startswith("32 networks cannot fix 199 entries one by one") for n in notes)
    assert any(n.startswith("the timings are rounded to 1 ms") for n in notes)
    assert any("no measurement order" in n for n in notes)


def test_fitting_a_space_that_does_not_exist_is_one_sentence(bench, tmp_path):
    result = bench("lut", "fit", "--space", "fbnet2", "--device", "x", "--timings", str(head(3, tmp_path)))
    assert result.exit_code == 2 and result.stderr.startswith("error: unknown search space 'fbnet2'; known spaces:") and "fbnet" in result.stderr


@pytest.mark.slow
def test_a_new_device_from_ten_timed_networks_by_transfer_from_a_fitted_lut(bench, tmp_path):
    fitted = json.loads(bench("lut", "fit", "--space", "fbnet", "--device", "samsung_a50", "--timings", str(head(1500, tmp_path)),
                              "--latency-column", "samsung_a50", "--order-column", "index", "--holdout", "0", "--json").stdout)
    lines = CSV.read_text().splitlines()
    target = tmp_path / "raspi4.csv"
    target.write_text("\n".join(lines[:1] + lines[2001:2401]) + "\n")
    result = bench("profile", "--device", "raspi4", "--from", fitted["id"][:8], "--timings", str(target), "--latency-column", "raspi4", "--networks", "10", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    lut = json.loads(Path(doc["path"]).read_text())
    assert lut["method"] == "transfer" and lut["measurement"]["transfer"]["source_method"] == "fitted" and doc["networks"] == 10
    assert doc["figures"]["samples"] == 390 and doc["figures"]["spearman"] > 0.85  # HELP's published figure from 10 samples: 0.887


def test_a_transfer_needs_its_source_lut(bench, tmp_path):
    result = bench("profile", "--device", "raspi4", "--timings", str(head(5, tmp_path)))
    assert result.exit_code == 2 and "--timings gives the networks a transfer fits, so it needs --from <LUT>" in result.stderr


def test_price_networks_prices_fbnet_networks_and_holds_budgets_with_the_margin(tmp_path):
    from orchestrator.lut.fitted import fit_lut
    from search.api import price_networks

    space = table_space("fbnet")
    fitted = fit_lut(space, read_timings(head(400, tmp_path), space, "pixel2", "index"), "pixel2", holdout=0, luts_root=tmp_path / "luts", log=lambda _m: None)
    networks = [["skip"] * 22, ["k5_e6"] * 22]
    ms = price_networks(str(fitted.path), networks)
    margin = fitted.lut.measurement["fit"]["margin"]["relative"]
    assert ms[0] < ms[1] and margin > 0
    assert price_networks(fitted.lut.doc, networks, budget_ms=float(ms[1]) * (1 + margin)).tolist() == [True, True]
    assert price_networks(fitted.lut.doc, networks, budget_ms=float(ms[1])).tolist() == [True, False]


@pytest.mark.slow
def test_a_tiny_space_lut_is_fitted_back_from_its_own_whole_network_predictions(tmp_path):
    """For an AutoViT space the same fit takes subnets' configs: timings that are a LUT's sums give back a LUT that predicts like it."""
    from orchestrator.lut.fitted import fit_lut
    from search.nas.lut import read_lut
    from search.nas.predictor import LatencyPredictor
    from search.space.sampling import random_config

    source = read_lut(ROOT / "luts" / "host" / "tiny" / "d7f47ca8390c6922.json")
    space_def = load_space("tiny")
    predictor = LatencyPredictor(source, space_def)
    rng = __import__("random").Random(0)
    configs = [random_config(space_def, rng, source.resolution) for _ in range(500)]
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps([{"config": c.to_dict(), "latency_ms": float(predictor.predict(c)), "order": i} for i, c in enumerate(configs)]))
    space = table_space("tiny", source.resolution)
    fitted = fit_lut(space, read_timings(path, space), "host-copy", luts_root=tmp_path / "luts", log=lambda _m: None)
    assert fitted.validation["figures"]["within_5"] == 1.0 and fitted.validation["figures"]["spearman"] > 0.99


def test_the_public_subset_is_the_one_its_provenance_names():
    provenance = json.loads((HELP / "PROVENANCE.json").read_text())
    assert provenance["repository"] == "https://github.com/HayeonLee/HELP" and len(provenance["commit"]) == 40
    assert hashlib.sha256(CSV.read_bytes()).hexdigest() == provenance["csv_sha256"]
    assert "MIT License" in (HELP / "LICENSE").read_text() and "HayeonLee" in (HELP / "LICENSE").read_text()
    assert len(CSV.read_text().splitlines()) == 5001


def test_the_real_phones_page_is_rendered_from_its_records():
    from benchmarks.real_phones_page import PAGE, RECORDS, render

    assert PAGE.read_text() == render(json.loads(RECORDS.read_text()))


def test_a_transfer_keeps_only_factors_its_check_accepts():
    """A fitted source's entries are not each a block's cost, so the transfer checks the space's
    fastest network stays above 0 ms: a fit the check refuses falls back towards the common factor."""
    from orchestrator.lut.transfer_fit import fit

    rng = np.random.default_rng(0)
    x = rng.uniform(1, 5, (12, 3))
    total = x.sum(axis=1)
    measured = total * (1 + 0.5 * (x[:, 0] / total)) * rng.lognormal(0, 0.01, 12)  # column 0 runs 1.5x slower: a finer fit wants it
    levels, weights = np.array([0, 0, 1]), np.eye(3)
    free = fit(x, total, measured, levels, weights)
    held = fit(x, total, measured, levels, weights, acceptable=lambda f0, u: bool(np.all(np.abs(u) < 1e-3)))
    assert np.max(np.abs(free.u)) > 0.05 and np.max(np.abs(held.u)) < 1e-3
