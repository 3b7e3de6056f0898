"""What a LUT costs to build on host, how repeatable it is, and whether its intervals say so.

For each space: networks exported, export seconds with a cold cache (a fresh cache folder) and a
warm one (the same folder again), measurement seconds, total. Then repeatability: profile
`--repeat-space` (XXS) twice (warm cache, seeds 0 and 1) and report the per-entry relative
difference and, what matters to a search, the difference in predicted latency of 1,000 random
subnets between the two LUTs. And coverage: the share of entries whose value in profile B lies
inside profile A's 95% interval (and the reverse), for the LUTs' intervals and for the method
LUTs used before they recorded theirs (a bootstrap over rounds, recomputed from the same runs'
first-pass sessions: one session per entry, as those profiles measured).

Run: .venv/bin/python -m benchmarks.lut_build [--spaces tiny xxs] [--repeat-space xxs] [--cache DIR] [--quick] [--layer-copies N]
(`--spaces` with no value skips the cost table.)
A cold XXS export takes tens of minutes on 2 cores; `--cache` reuses an existing cache (then the
"cold" column measures whatever that cache lacks).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from infra.strict_json import load_json
from orchestrator.cli.entry import run_main
from orchestrator.export.probes import export_probes
from orchestrator.lut.attribution import entry_sessions, normalised, rounds_interval
from orchestrator.lut.runs import ProfileRequest, profile_lut
from orchestrator.lut.settings import FULL, QUICK
from orchestrator.plan.builder import build_plan
from orchestrator.plan.spec import PLAN_VERSION, lut_plan_version
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from search.space.encoding import random_batch


def build(space_name: str, settings, work: Path, tag: str, resolution: int | None = None, plan_version: int = PLAN_VERSION) -> tuple[dict, float]:
    """A host profile of the space at `resolution` (default: the space's) with `settings`."""
    request = ProfileRequest(
        "host", space=space_name, resolution=resolution, settings=settings, out=work / f"run-{space_name}-{tag}", luts_root=work / "luts",
        plan_version=plan_version,
    )
    start = time.perf_counter()
    doc, _ = profile_lut(request, log=lambda _: None, show_progress=False)
    return doc, time.perf_counter() - start


def _quantiles(values: np.ndarray) -> tuple[str, ...]:
    return tuple(f"{q:.1%}" for q in np.quantile(values, [0.5, 0.9, 0.95, 1.0]))


def repeatability(a: dict, b: dict, space, subnets: int = 1000) -> Table:
    """Two profiles of one device: per-entry |b - a| / |a| (all entries, and apart the noise-floor
    ones whose interval is wider than the entry), then what the search sees, the |Δ| of predicted
    latency over random subnets; raw, and with each LUT at its own anchor's speed (as validation
    and a search budget in units of the anchor would see them)."""
    speed = a["measurement"]["context_latency_ms"] / b["measurement"]["context_latency_ms"]
    table = Table(title=f"repeatability: {space.name} profiled twice, LUTs {a['id'][:8]} and {b['id'][:8]} (anchor speed ratio {1 / speed:.3f})")
    for column in ("what", "count", "median", "p90", "p95", "max", "goal"):
        table.add_column(column, justify="right")
    keys = [k for k, e in a["entries"].items() if e["latency_ms"] != 0]
    for label, scale in (("raw", 1.0), ("anchored", speed)):
        rel = {k: abs(b["entries"][k]["latency_ms"] * scale - a["entries"][k]["latency_ms"]) / abs(a["entries"][k]["latency_ms"]) for k in keys}
        wide = [k for k in keys if a["entries"][k]["wide"] or b["entries"][k]["wide"]]
        table.add_row(f"entries, {label}", str(len(keys)), *_quantiles(np.array(list(rel.values()))), "median <= 5%")
        if wide:
            table.add_row(f"  noise-floor entries, {label}", str(len(wide)), *_quantiles(np.array([rel[k] for k in wide])), "")
        batch = random_batch(space, subnets, np.random.default_rng(0), a["resolution"])
        pa, pb = LatencyPredictor(a, space).predict_batch(batch), LatencyPredictor(b, space).predict_batch(batch) * scale
        table.add_row(f"predicted latency of random subnets, {label}", str(subnets), *_quantiles(np.abs(pb - pa) / pa), "median <= 2%, p95 <= 5%")
    return table


def rounds_bootstrap(run_dir: Path, plan, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Entry (point, low, high) as LUTs computed them before they recorded an interval method: the
    median of the pooled rounds of the first-pass sessions and a 2,000-fold bootstrap over those
    rounds."""
    first_pass = [d for d in sorted((run_dir / "sessions").iterdir()) if "-pass" not in d.name and not d.name.startswith("adaptive")]
    samples = [{m["id"]: m["samples_ms"] for m in load_json(d / "result.json", "session result", "")["models"]} for d in first_pass]
    scaled, rng = normalised(samples, plan.anchor), np.random.default_rng(seed)
    return {entry.key: rounds_interval(np.concatenate(entry_sessions(entry, scaled).deltas), rng) for entry in plan.entries}


def coverage(a: dict[str, tuple[float, float, float]], b: dict[str, tuple[float, float, float]]) -> tuple[float, float, float]:
    """Share of entries whose value in b lies in a's interval, the reverse, and the median interval
    width relative to the entry."""
    def inside(values: dict, intervals: dict) -> float:
        return float(np.mean([intervals[k][1] <= values[k][0] <= intervals[k][2] for k in a]))

    width = np.median([(a[k][2] - a[k][1]) / max(abs(a[k][0]), 1e-9) for k in a])
    return inside(b, a), inside(a, b), float(width)


def entry_intervals(doc: dict) -> dict[str, tuple[float, float, float]]:
    """Each entry's (latency, interval low, interval high) as the LUT wrote them, for `coverage`."""
    return {k: (e["latency_ms"], *e["ci_ms"]) for k, e in doc.entries.items()}


def coverage_table(a: dict, b: dict, space, work: Path) -> Table:
    """Coverage of a repeat by each method's 95% intervals, on the same two runs."""
    plan = build_plan(space, a["resolution"], version=lut_plan_version(a["measurement"]))
    as_written = {"a": entry_intervals(a), "b": entry_intervals(b)}
    before = {tag: rounds_bootstrap(work / f"run-{space.name}-{tag}", plan) for tag in ("a", "b")}
    table = Table(title=f"coverage: {space.name} profiled twice; share of entries whose value in one profile lies in the other's 95% interval")
    for column in ("intervals", "B in A", "A in B", "median width / entry", "goal"):
        table.add_column(column, justify="right")
    rows = (("bootstrap over rounds (before; first-pass sessions)", before), (f"as written: {a['measurement'].get('interval', {}).get('method', 'rounds')}", as_written))
    for label, values in rows:
        b_in_a, a_in_b, width = coverage(values["a"], values["b"])
        table.add_row(label, f"{b_in_a:.0%}", f"{a_in_b:.0%}", f"{width:.0%}", ">= 90%")
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spaces", nargs="*", default=["tiny", "xxs"], help="spaces whose build cost to measure (none: skip)")
    parser.add_argument("--repeat-space", default="xxs", help="the space profiled twice for repeatability")
    parser.add_argument("--repeat-resolution", type=int, default=None, help="its resolution (default: the space's)")
    parser.add_argument("--cache", type=Path, default=None, help="export cache to use (default: a fresh one)")
    parser.add_argument("--quick", action="store_true", help="quick measurement settings (the --quick preset's)")
    parser.add_argument("--adaptive", type=int, default=None, help="adaptive re-measurement sessions (default: the settings')")
    parser.add_argument("--plan-version", type=int, default=PLAN_VERSION, help="the plan measured with (1: one copy per layer removal pair, 2: two, both in the smallest context; 3: two in the widest)")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    if args.adaptive is not None:
        settings = dataclasses.replace(settings, adaptive_sessions=args.adaptive)
    work = Path(tempfile.mkdtemp(prefix="lut-build-"))
    os.environ["BENCH_CACHE"] = str(args.cache or work / "cache")
    console = Console(width=140)

    table = Table(title=f"LUT build cost on host ({'quick' if args.quick else 'full'} measurement settings)")
    for column in ("space", "networks", "entries", "export cold s", "export warm s", "measure s", "total s (cold)"):
        table.add_column(column, justify="right")
    docs = {}
    for name in args.spaces:
        space = load_space(name)
        plan = build_plan(space, version=args.plan_version)
        start = time.perf_counter()
        export_probes(plan.probes, space.name, space.hash, "pte", workers=2, show_progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        export_probes(plan.probes, space.name, space.hash, "pte", workers=2, show_progress=False)
        warm = time.perf_counter() - start
        docs[name], profile_s = build(name, settings, work, "a", plan_version=args.plan_version)
        measure = profile_s - warm
        table.add_row(name, str(len(plan.probes)), str(len(plan.entries)), f"{cold:.0f}", f"{warm:.1f}", f"{measure:.0f}", f"{cold + measure:.0f}")
        console.print(f"{name}: done", style="dim")
    if args.spaces:
        console.print(table)

    first = None if args.repeat_resolution else docs.get(args.repeat_space)
    if first is None:
        first, seconds = build(args.repeat_space, settings, work, "a", args.repeat_resolution, args.plan_version)
        console.print(f"{args.repeat_space} profile a: {seconds:.0f} s")
    second, seconds = build(args.repeat_space, dataclasses.replace(settings, seed=1), work, "b", args.repeat_resolution, args.plan_version)
    console.print(f"{args.repeat_space} profile b: {seconds:.0f} s")
    console.print(repeatability(first, second, load_space(args.repeat_space)))
    console.print(coverage_table(first, second, load_space(args.repeat_space), work))
    console.print(f"work folder (runs, LUTs): {work}")


if __name__ == "__main__":
    run_main(main)
