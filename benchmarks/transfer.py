"""Transfer: how well a LUT fitted from a few networks on a new device predicts it, against the
source LUT anchored only and the device's own full profile.

For each target device: a full profile of the target (the reference), transfer LUTs from the
source with 1 network (= the source anchored only), 3, 5 and 10, then the same unseen subnets
timed end to end on the target in one interleaved session with the source's anchor beside them.
Every LUT is judged on those measurements, anchored as `bench validate` does; a second timing of
the same subnets, judged against the first, is the ceiling any LUT can reach on this device (its
measurement noise). The subnets are
drawn once from the source LUT's space (spread over its predicted range, seed --seed) and are the
same for every target; none is one of the transfer networks.

Run on a quiet machine (anything else on the CPU shows up as error):
    .venv/bin/python -m benchmarks.transfer [--source LUT] [--targets host-2t host-portable] [--samples 50]
Without --source, the source device (--source-device, default host) is profiled first.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from orchestrator.cli.entry import run_main
from orchestrator.lut.runs import ProfileRequest, profile_lut, transfer_lut
from orchestrator.lut.settings import FULL, end_to_end_timing
from orchestrator.lut.store import append_validation, resolve_lut
from orchestrator.lut.validation import measure_subnets, spread_subnets, validation_record
from orchestrator.measure.devices import get_device
from orchestrator.measure.session import new_run_dir
from search.nas.agreement import figures
from search.nas.lut import Lut, read_lut
from search.nas.predictor import LatencyPredictor, parts
from search.space import load_space
from search.space.config import SubnetConfig

NETWORKS = (1, 3, 5, 10)
REPO_LUTS = Path(__file__).resolve().parent.parent / "luts"


def device_seconds(run_dir: Path) -> float:
    """Time the device spent in this run's sessions (runner start to result), from the results."""
    total = 0.0
    for result in run_dir.glob("sessions/*/result.json"):
        doc = json.loads(result.read_text())
        total += (datetime.fromisoformat(doc["finished_at"]) - datetime.fromisoformat(doc["started_at"])).total_seconds()
    return total


def error_by_kind(transfer: Lut, full: Lut, configs: list[SubnetConfig], measured_ms: np.ndarray, space) -> Table:
    """Where the transfer LUT differs from the full profile, kind by kind: its fitted factor, the
    median ratio of its entries to the full profile's, and the mean over the subnets of the kind's
    share of the difference in predicted latency (as a fraction of the measured latency). Both LUTs
    are put at the full profile's anchor speed first, as validation would."""
    factors = transfer.measurement["transfer"]["factors"]
    speed = full.measurement["context_latency_ms"] / transfer.measurement["context_latency_ms"]
    scaled = {k: e["latency_ms"] * speed for k, e in transfer.entries.items()}
    table = Table(title=f"10-network transfer {transfer.short} against the full profile {full.short}, by kind")
    for column in ("kind", "factor", "± sd", "median entry ratio transfer/full", "mean |Δ prediction| / measured"):
        table.add_column(column, justify="right")
    for kind, f in factors.items():
        if f["level"] != "kind":
            continue
        keys = [k for k, e in transfer.entries.items() if e["kind"] == kind]
        ratios = [scaled[k] / full.entries[k]["latency_ms"] for k in keys if full.entries[k]["latency_ms"] > 0]
        delta = np.array([
            sum(scaled[p.key] - full.entries[p.key]["latency_ms"] for p in parts(c, space)
                if transfer.entries[p.key]["kind"] == kind)
            for c in configs
        ])
        table.add_row(kind, f"{f['factor']:.3f}", "-" if f["sd"] is None else f"{f['sd']:.3f}",
                      f"{np.median(ratios):.3f}" if ratios else "-", f"{np.mean(np.abs(delta) / measured_ms):.1%}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default=None, help="source LUT id or path (default: profile --source-device now)")
    parser.add_argument("--source-device", default="host")
    parser.add_argument("--space", default="tiny")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--targets", nargs="+", default=["host-2t", "host-portable"])
    parser.add_argument("--full", nargs="*", default=[], help="TARGET=LUT: reuse a target's full profile")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026, help="of the unseen subnets (transfer networks use seed 0)")
    parser.add_argument("--work", type=Path, default=None, help="folder for runs and LUTs (default: a new temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="transfer-"))
    luts = work / "luts"
    os.environ["BENCH_LUTS"] = str(luts)
    console = Console(width=150)
    quiet = lambda _: None  # noqa: E731

    space = load_space(args.space)
    if args.source:
        source_path = resolve_lut(args.source, REPO_LUTS)
        source = read_lut(source_path)
    else:
        request = ProfileRequest(args.source_device, space=space.name, resolution=args.resolution, settings=FULL, out=work / "source", resume=True,
                                 luts_root=luts)
        source, source_path = profile_lut(request, log=quiet, show_progress=False)
    console.print(f"source LUT {source.id} ({source.device.name}, {source.space_name} {source.resolution} px)")
    configs = spread_subnets(LatencyPredictor(source, space), space, args.samples, args.seed)
    anchor = SubnetConfig.from_dict(source.context)
    full_given = dict(item.split("=", 1) for item in args.full)

    for target in args.targets:
        device = get_device(target)
        rows: list[tuple[str, dict, int, float, Path]] = []
        if target in full_given:
            path = resolve_lut(full_given[target], REPO_LUTS)
            full = read_lut(path)
            rows.append(("full profile (given)", full, full.measurement["networks"], float("nan"), path))
        else:
            run = work / f"full-{target}"
            request = ProfileRequest(device, space=space.name, resolution=source.resolution, settings=FULL, out=run, resume=True, luts_root=luts)
            full, path = profile_lut(request, log=quiet, show_progress=False)
            rows.append(("full profile", full, full.measurement["networks"], device_seconds(run), path))
        for n in NETWORKS:
            run = work / f"transfer-{target}-{n}"
            request = ProfileRequest(device, source=str(source_path), networks=n, settings=FULL, out=run, resume=True, luts_root=luts)
            doc, path = transfer_lut(request, log=quiet, show_progress=False)
            label = "source anchored only" if n == 1 else f"transfer, {n} networks"
            rows.append((label, doc, n, device_seconds(run), path))
        transfer_networks = {json.dumps(n["config"], sort_keys=True) for _, d, *_ in rows if d["method"] == "transfer"
                             for n in d["measurement"]["transfer"]["networks"]}
        unseen = [c for c in configs if json.dumps(c.to_dict(), sort_keys=True) not in transfer_networks]
        start = time.perf_counter()
        timing = end_to_end_timing(source)
        measured = measure_subnets(unseen, anchor, space, device, new_run_dir(f"validate-{target}", work), timing, log=quiet)
        again = measure_subnets(unseen, anchor, space, device, new_run_dir(f"validate-{target}-again", work), timing, log=quiet)
        table = Table(title=f"{target}: {len(unseen)} unseen subnets ({space.name}, {source.resolution} px), source {source.device.name} "
                            f"LUT {source.short}; subnets timed in {time.perf_counter() - start:.0f} s")
        for column in ("LUT", "id", "within ±5%", "within ±10%", "MAPE", "Spearman", "Kendall", "bias", "networks", "device s"):
            table.add_column(column, justify="right")
        for label, doc, networks, seconds, path in rows:
            record = validation_record(doc, LatencyPredictor(doc, space), measured, device, args.seed)
            append_validation(path, record)
            f = record["figures"]
            table.add_row(label, doc.short, f"{f['within_5']:.0%}", f"{f['within_10']:.0%}", f"{f['mape']:.1%}", f"{f['spearman']:.3f}",
                          f"{f['kendall']:.3f}", f"{f['bias']:+.1%}", str(networks), f"{seconds:.0f}")
        f = figures(again.measured_ms * measured.anchor_ms / again.anchor_ms, measured.measured_ms)
        table.add_row("the subnets timed again", "-", f"{f['within_5']:.0%}", f"{f['within_10']:.0%}", f"{f['mape']:.1%}", f"{f['spearman']:.3f}",
                      f"{f['kendall']:.3f}", f"{f['bias']:+.1%}", "-", "-")
        console.print(table)
        ten = next(doc for label, doc, *_ in rows if label == "transfer, 10 networks")
        console.print(error_by_kind(ten, full, unseen, measured.measured_ms, space))
    console.print(f"work folder (runs, LUTs with their validation): {work}")


if __name__ == "__main__":
    run_main(main)
