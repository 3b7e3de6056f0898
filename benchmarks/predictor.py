"""Predictor throughput, and how well removal and isolated LUTs predict the same measured subnets.

Run: .venv/bin/python -m benchmarks.predictor --lut REMOVAL_ID --lut ISOLATED_ID [--samples 50] [--seed 0]
With no --lut it prints the throughput only (on the first committed LUT of host/xxs).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from orchestrator.cli.entry import run_main
from orchestrator.lut.settings import end_to_end_timing
from orchestrator.lut.store import list_luts, luts_dir, resolve_lut
from orchestrator.lut.validation import measure_subnets, spread_subnets, validation_record
from orchestrator.measure.devices import get_device
from search.nas.lut import read_lut
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from search.space.config import SubnetConfig
from search.space.encoding import random_batch
from search.space.sampling import random_config


def throughput(predictor: LatencyPredictor, console: Console) -> None:
    space = predictor.space
    rng = np.random.default_rng(0)
    batch = random_batch(space, 200_000, rng, predictor.resolution)
    start = time.perf_counter()
    predictor.predict_batch(batch)
    batched = len(batch) / (time.perf_counter() - start)
    start = time.perf_counter()
    predictor.interval_batch(batch)  # what the budget check prices every candidate with
    with_interval = len(batch) / (time.perf_counter() - start)
    configs = [random_config(space, random.Random(i), predictor.resolution) for i in range(5_000)]
    start = time.perf_counter()
    predictor.predict_many(configs)
    from_objects = len(configs) / (time.perf_counter() - start)
    start = time.perf_counter()
    for c in configs[:2_000]:
        predictor.predict(c)
    scalar = 2_000 / (time.perf_counter() - start)
    table = Table(title=f"predictor throughput ({space.name}, target >= 100,000 configs/s)")
    for column in ("path", "configs/s"):
        table.add_column(column, justify="right")
    table.add_row("predict_batch (encoded arrays, 200k)", f"{batched:,.0f}")
    table.add_row("interval_batch (prediction and its interval, 200k)", f"{with_interval:,.0f}")
    table.add_row("predict_many (SubnetConfig objects, encode + predict)", f"{from_objects:,.0f}")
    table.add_row("predict (one config at a time, validated)", f"{scalar:,.0f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lut", action="append", default=[])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console(width=140)
    refs = args.lut or [next(r["id"] for r in list_luts().rows if r["device"] == "host" and r["space"] == "xxs")]
    docs = [read_lut(resolve_lut(ref)) for ref in refs]
    space = load_space(docs[0]["space"]["name"])
    predictors = [LatencyPredictor(doc, space) for doc in docs]
    throughput(predictors[0], console)
    if not args.lut:
        return
    device = get_device(docs[0]["device"]["name"])
    configs = spread_subnets(predictors[0], space, args.samples, args.seed)
    anchor = SubnetConfig.from_dict(docs[0]["context"])
    run = measure_subnets(configs, anchor, space, device, Path("runs") / f"bench-predictor-s{args.seed}-n{args.samples}", end_to_end_timing(docs[0]), log=console.print)
    table = Table(title=f"validation on {device.name}: {args.samples} random subnets, one interleaved session ({luts_dir()})")
    for column in ("method", "LUT", "figures", "within ±5%", "within ±10%", "MAPE", "RMSE ms", "Spearman ρ", "Kendall τ", "bias"):
        table.add_column(column, justify="right")
    for doc, predictor in zip(docs, predictors):
        record = validation_record(doc, predictor, run, device, args.seed)
        for kind, f in ((f"anchored x{record['anchor']['speed_factor']:.3f}", record["figures"]), ("raw", record["raw_figures"])):
            table.add_row(doc.method, doc.id, kind, f"{f['within_5']:.0%}", f"{f['within_10']:.0%}", f"{f['mape']:.1%}",
                          f"{f['rmse_ms']:.3f}", f"{f['spearman']:.3f}", f"{f['kendall']:.3f}", f"{f['bias']:+.1%}")
    console.print(table)
    console.print(f"measured {run.measured_ms.min():.2f}-{run.measured_ms.max():.2f} ms")


if __name__ == "__main__":
    run_main(main)
