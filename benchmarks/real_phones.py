"""How accurate is a LUT on a real phone? Measured on HELP's public FBNet timings
(public_data/help_fbnet/: 5,000 networks timed whole on a Pixel 2, Galaxy A50, Galaxy S7 and
Essential PH-1), through the product's own code (`bench lut fit`'s reader, fit and LUT writer, and
`bench profile --from --timings`'s transfer). Writes docs/real_phones.json; the page
(docs/real_phones.md) is rendered from it by `benchmarks/real_phones_page.py`.

Protocol (docs/real_phones.md says it in full):
- 1,000 networks drawn at random (seed 0) are held out; the other 4,000 are the pool.
- The judge: each held-out timing with the drift of its moment taken out, read from its 4 nearest
  networks in HELP's order (all 4,999 others) against a reference table fitted to the pool.
  Every fit, at every N, is judged against the same values.
- A fit from N networks takes N consecutive pool networks in measurement order (as a user times a
  run of N), from WINDOWS starting points; figures are anchored (one speed factor over the held-out
  set, as `bench validate` scales by the anchor) and given with and without the drift term.
- The cap: a table fitted to all 5,000 networks (the held-out ones included), judged the same way.
- Transfer: a phone's LUT fitted to its 4,000 pool networks, moved to HELP's meta-test devices
  (Raspberry Pi 4, Eyeriss, FPGA) with K of their networks chosen from 500 random pool networks
  (SEEDS draws), Spearman on the held-out 1,000 against HELP's published figure from 10 samples.
- Budget safety: budgets on a grid over the held-out predictions; a network is in band when its
  prediction (with the margin, where used) is in the last 5% under the budget; the share of those
  whose judged latency is over the budget, with and without the fit's calibrated margin.

Run: .venv/bin/python -m benchmarks.real_phones   (about 10 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from orchestrator.cli.entry import run_main
from orchestrator.lut.fit_table import fit_table, neighbour_drift
from orchestrator.lut.fitted import fit_lut
from orchestrator.lut.table_space import table_space
from orchestrator.lut.timings import read_timings
from orchestrator.lut.transfer_timed import transfer_from_timings
from search.nas.layerwise_predictor import LayerwisePredictor

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "public_data" / "help_fbnet" / "fbnet_latency.csv"
OUT = ROOT / "docs" / "real_phones.json"
PHONES = ("pixel2", "samsung_a50", "samsung_s7", "essential_ph_1")
TARGETS = {"raspi4": 0.887, "eyeriss": 0.943, "fpga": 0.892}  # HELP's README: Spearman from 10 samples, FBNet
SIZES = (10, 50, 200, 1000, 4000)
KS = (5, 10, 20)
HELD_OUT, WINDOWS, SEEDS, CANDIDATES = 1000, 3, 5, 500
BAND = 0.05


def judged(p: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """Anchored figures (one speed factor, the median ratio) and the bias before it."""
    scale = float(np.median(q / p))
    rel = p * scale / q - 1
    return {
        "within_5": float(np.mean(np.abs(rel) <= 0.05)), "within_10": float(np.mean(np.abs(rel) <= 0.10)),
        "spearman": float(stats.spearmanr(p, q).statistic), "mape": float(np.mean(np.abs(rel))), "bias": float(np.mean(p / q - 1)),
    }


def over_budget(p: np.ndarray, q: np.ndarray, margin: float) -> dict[str, float]:
    """In-band networks (prediction x (1 + margin) in the last BAND under the budget) that measure
    over it, pooled over 200 budgets spanning the predictions; judged in the LUT's own scale."""
    q = q / float(np.median(q / p))
    priced = p * (1 + margin)
    over = inband = 0
    for budget in np.linspace(np.quantile(priced, 0.05), np.quantile(priced, 0.95), 200):
        band = (priced <= budget) & (priced >= (1 - BAND) * budget)
        inband += int(band.sum())
        over += int(np.sum(q[band] > budget))
    return {"in_band": inband, "over": over / inband if inband else 0.0}


def phone(device: str, space: Any, held: np.ndarray, pool: np.ndarray, log: Any) -> dict[str, Any]:
    timings = read_timings(DATA, space, device, "index")
    counts, y, order = space.counts(timings.networks), timings.latency_ms, timings.order
    prior = space.prior()
    reference = fit_table(counts[pool], y[pool], order[pool], prior)
    residual = np.log(y) - np.log(reference.predict(counts))
    quiet = y[held] / np.exp(neighbour_drift(order, residual, order[held]))
    cap = fit_table(counts, y, order, prior)
    record: dict[str, Any] = {"device": device, "rounding_ms": 1.0, "median_ms": float(np.median(y)), "cap": judged(cap.predict(counts[held]), quiet),
                              "raw_vs_quiet": float(np.mean(np.abs(y[held] / quiet - 1) <= 0.10)), "sizes": []}
    for n in SIZES:
        starts = [0] if n >= len(pool) else [int(s) for s in np.linspace(0, len(pool) - n, WINDOWS)]
        for drift in (True, False):
            runs = []
            for start in starts:
                rows = pool[start : start + n]
                fit = fit_table(counts[rows], y[rows], order[rows] if drift else None, prior)
                runs.append(judged(fit.predict(counts[held]), quiet))
            record["sizes"].append({"n": n, "drift": drift, "windows": len(runs), "mean": {k: float(np.mean([r[k] for r in runs])) for k in runs[0]},
                                    "worst": {k: float(min(r[k] for r in runs)) if k != "mape" else float(max(r[k] for r in runs)) for k in runs[0]}})
        log(f"{device}: N={n} done")
    record["budget"] = []
    with tempfile.TemporaryDirectory() as store:
        for n in (1000, 4000):
            rows = pool[:n]
            fitted = fit_lut(space, timings.subset(rows), device, holdout=0, luts_root=Path(store), log=lambda _m: None)
            p = LayerwisePredictor(fitted.lut, space.space).predict(np.array(timings.networks)[held])
            m = fitted.lut.measurement["fit"]["margin"]["relative"]
            record["budget"].append({"n": n, "margin": m, "margin_cost": m / (1 + m), "without": over_budget(p, quiet, 0.0), "with": over_budget(p, quiet, m)})
    return record


def sources(space: Any, pool: np.ndarray) -> dict[str, dict[str, Any]]:
    """Each phone's LUT fitted to its 4,000 pool networks with the drift term: the transfers' sources."""
    out = {}
    with tempfile.TemporaryDirectory() as store:
        for device in PHONES:
            timings = read_timings(DATA, space, device, "index")
            out[device] = fit_lut(space, timings.subset(pool), device, holdout=0, luts_root=Path(store), log=lambda _m: None).lut.doc
    return out


def transfers(space: Any, fitted: dict[str, dict[str, Any]], held: np.ndarray, pool: np.ndarray, log: Any) -> list[dict[str, Any]]:
    from search.nas.lut import Lut

    out = []
    with tempfile.TemporaryDirectory() as store:
        for target, published in TARGETS.items():
            timings = read_timings(DATA, space, target)
            truth = timings.latency_ms[held]
            networks = np.array(timings.networks)
            for source_name, doc in fitted.items():
                source = Lut.of(doc)
                for k in KS:
                    rhos = []
                    for seed in range(SEEDS):
                        candidates = np.sort(np.random.default_rng(100 + seed).choice(pool, CANDIDATES, replace=False))
                        lut, _, _ = transfer_from_timings(source, space, timings.subset(candidates), target, k, luts_root=Path(store), log=lambda _m: None)
                        rhos.append(float(stats.spearmanr(LayerwisePredictor(lut, space.space).predict(networks[held]), truth).statistic))
                    out.append({"target": target, "source": source_name, "k": k, "published_k10": published, "spearman_mean": float(np.mean(rhos)),
                                "spearman_worst": float(min(rhos)), "seeds": SEEDS})
                log(f"transfer {source_name} -> {target} done")
            flops = np.array([sum(space.flops()[key] for key in space.keys(n)) for n in networks[held]])
            out.append({"target": target, "source": "flops", "k": 0, "published_k10": published, "spearman_mean": float(stats.spearmanr(flops, truth).statistic)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="LUTs fitted to HELP's real-phone timings: accuracy by N, drift, transfer, budget safety")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--part", choices=("all", "phones", "transfer"), default="all", help="run one part, keeping the other's records in --out")
    args = parser.parse_args()
    start = time.perf_counter()
    space = table_space("fbnet")
    perm = np.random.default_rng(0).permutation(5000)
    held, pool = np.sort(perm[:HELD_OUT]), np.sort(perm[HELD_OUT:])
    doc = json.loads(args.out.read_text()) if args.part != "all" and args.out.exists() else {}
    doc.update({"data": str(DATA.relative_to(ROOT)), "held_out": HELD_OUT})
    if args.part in ("all", "phones"):
        doc["phones"] = [phone(device, space, held, pool, print) for device in PHONES]
        doc["seconds_phones"] = time.perf_counter() - start
    if args.part in ("all", "transfer"):
        begun = time.perf_counter()
        doc["transfer"] = transfers(space, sources(space, pool), held, pool, print)
        doc["seconds_transfer"] = time.perf_counter() - begun
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    run_main(main)
