"""What a LUT costs to build on host, and how repeatable it is.

For each space: networks exported, export seconds with a cold cache (a fresh cache folder) and a
warm one (the same folder again), measurement seconds, total. Then repeatability: profile `tiny`
twice in one run (warm cache) and report the per-entry relative difference (median and p90).

Run: .venv/bin/python benchmarks/lut_build.py [--spaces tiny xxs] [--cache DIR] [--quick]
A cold XXS export takes tens of minutes on 2 cores; `--cache` reuses an existing cache (then the
"cold" column measures whatever that cache lacks).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from orchestrator.export.cache import export_probes
from orchestrator.lut.profile import FULL, QUICK, Profiler
from orchestrator.measure.devices import get_device
from orchestrator.plan.builder import build_plan
from search.space import load_space


def build(space_name: str, settings, work: Path, tag: str) -> tuple[dict, float]:
    space = load_space(space_name)
    start = time.perf_counter()
    doc, _ = Profiler(
        get_device("host"), space, space.default_resolution, settings, work / f"run-{space_name}-{tag}",
        luts_root=work / "luts", log=lambda _: None, show_progress=False,
    ).run()
    return doc, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spaces", nargs="+", default=["tiny", "xxs"])
    parser.add_argument("--cache", type=Path, default=None, help="export cache to use (default: a fresh one)")
    parser.add_argument("--quick", action="store_true", help="quick measurement settings (the --quick preset's)")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="lut-build-"))
    os.environ["BENCH_CACHE"] = str(args.cache or work / "cache")
    console = Console(width=140)

    table = Table(title=f"LUT build cost on host ({'quick' if args.quick else 'full'} measurement settings)")
    for column in ("space", "networks", "entries", "export cold s", "export warm s", "measure s", "total s (cold)"):
        table.add_column(column, justify="right")
    docs = {}
    for name in args.spaces:
        space = load_space(name)
        plan = build_plan(space)
        start = time.perf_counter()
        export_probes(plan.probes, space.name, space.hash, "pte", workers=2, show_progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        export_probes(plan.probes, space.name, space.hash, "pte", workers=2, show_progress=False)
        warm = time.perf_counter() - start
        docs[name], profile_s = build(name, settings, work, "a")
        measure = profile_s - warm
        table.add_row(name, str(len(plan.probes)), str(len(plan.entries)), f"{cold:.0f}", f"{warm:.1f}", f"{measure:.0f}", f"{cold + measure:.0f}")
        console.print(f"{name}: done", style="dim")
    console.print(table)

    first = docs.get("tiny") or build("tiny", settings, work, "a")[0]
    second, _ = build("tiny", dataclasses.replace(settings, seed=1), work, "b")
    diffs = sorted(
        abs(second["entries"][k]["latency_ms"] - e["latency_ms"]) / abs(e["latency_ms"])
        for k, e in first["entries"].items()
        if e["latency_ms"] != 0
    )
    p90 = diffs[min(len(diffs) - 1, round(0.9 * (len(diffs) - 1)))]
    rep = Table(title="repeatability: tiny profiled twice (warm cache), per-entry |b - a| / |a|")
    for column in ("entries", "median", "p90", "max", "target median"):
        rep.add_column(column, justify="right")
    rep.add_row(str(len(diffs)), f"{statistics.median(diffs):.1%}", f"{p90:.1%}", f"{diffs[-1]:.1%}", "<= 5%")
    console.print(rep)
    console.print(f"work folder (runs, LUTs): {work}")


if __name__ == "__main__":
    main()
