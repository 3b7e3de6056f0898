"""Do cheaper int8 calibrations give the program the default recipe gives (issue 74)?

A LUT needs the program's operators, layouts and kernels, not its accuracy. For random subnets of a
space, each is quantized (PT2E, XNNPACKQuantizer, per-channel) by the recipe every int8 LUT was
profiled with until now (ExecuTorch's HistogramObserver on 4 fixed random inputs: the reference)
and by cheaper ones, lowered to XNNPACK, and compared:

- structure (deterministic): `orchestrator.export.structure.program_structure` of each program, equal
  or not to the reference's (the same delegate calls, XNNPACK nodes, values, shapes, datatypes and
  quantization kinds; scales and zero points apart), with where the first difference lies;
- export cost: seconds per export (wall and CPU), by recipe;
- latency (`--measure`): the reference program, the timing recipe's (the product's: min-max
  observers, 1 input) and a second copy of the reference, all of them timed interleaved in one
  session on `--device` with the product's session code; the copy against the reference is what
  noise alone gives, the timing recipe against the reference is to stay within it.

The exports run `--workers` at a time, one thread each. Run the latency part on a quiet machine:
  .venv/bin/python -m benchmarks.int8_recipes --subnets 20 --measure
writes docs/int8_recipes.json (`--out`) and prints the tables (`--json`: the document alone).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from infra.files import write_json_atomic
from orchestrator.cli.entry import run_main

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "histogram, 4 inputs"
TIMING = "min-max, 1 input"  # the product's timing recipe (`to_int8_pte` without calibration images)
RECIPES = {REFERENCE: ("histogram", 4), TIMING: ("min-max", 1), "min-max, 4 inputs": ("min-max", 4), "histogram, 1 input": ("histogram", 1)}


def _first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """The path of the first place two structures differ, for the report."""
    if type(a) is not type(b):
        return where or "/"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{where}/{k}"
            if (found := _first_difference(a[k], b[k], f"{where}/{k}")) is not None:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where} (length {len(a)} against {len(b)})"
        return next((f for i, (x, y) in enumerate(zip(a, b)) if (f := _first_difference(x, y, f"{where}[{i}]")) is not None), None)
    return None if a == b else where


_WARM: list[bool] = []  # whether this worker has exported once


def export_subnet(space_name: str, config_json: str, index: int, folder: str, recipes: list[str]) -> dict[str, Any]:
    """In a worker: one subnet exported by every recipe; its structures compared with the reference's,
    the reference's and the timing recipe's programs written to `folder` for timing."""
    import torch

    from orchestrator.export.executorch import INT8_FLOW, _to_xnnpack_pte, to_int8_pte
    from orchestrator.export.structure import node_count, program_structure
    from search.space import load_space
    from search.space.config import SubnetConfig
    from search.supernet.deploy import deploy_form
    from search.supernet.quantize import fixed_inputs, quantized_program, xnnpack_quantizer
    from search.supernet.static import StaticSubnet

    torch.set_num_threads(1)
    space = load_space(space_name)
    config = SubnetConfig.from_json(config_json)
    torch.manual_seed(index)
    model = deploy_form(StaticSubnet(config, space).eval())
    example = torch.randn(1, 3, config.resolution, config.resolution)
    if not _WARM:  # a worker's first export pays its one-time costs (pattern tracing, first traces) outside the figures
        to_int8_pte(model, example)
        _WARM.append(True)
    out: dict[str, Any] = {"config": config.to_dict(), "hash": config.hash, "recipes": {}}
    reference = None
    for name in recipes:
        observer, inputs = RECIPES[name]
        wall, cpu = time.perf_counter(), time.process_time()
        if name == TIMING:
            program, report = to_int8_pte(model, example)
        else:
            quantizer = xnnpack_quantizer(for_timing=observer == "min-max")
            program, report = _to_xnnpack_pte(quantized_program(model, example, quantizer, fixed_inputs(example, inputs)), 0.0, INT8_FLOW)
        seconds = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
        structure = program_structure(program)
        reference = reference or structure
        out["recipes"][name] = {
            **seconds, "same_structure": structure == reference, "first_difference": _first_difference(reference, structure),
            "partitions": report.partitions, "xnnpack_nodes": node_count(structure), "bytes": len(program),
        }
        if name in (REFERENCE, TIMING):
            Path(folder, f"{index:02d}-{name.split(',')[0]}.pte").write_bytes(program)
    return out


def time_programs(results: list[dict[str, Any]], folder: Path, device_name: str) -> dict[str, Any]:
    """The reference, timing-recipe and second-reference programs of every subnet in one interleaved session."""
    from orchestrator.lut.settings import BURST
    from orchestrator.measure.devices import get_device
    from orchestrator.measure.session import new_run_dir, run_session
    from orchestrator.measure.timing import TimingPlan

    models = {}
    for i, r in enumerate(results):
        shape = [1, 3, r["config"]["resolution"], r["config"]["resolution"]]
        reference, timing = folder / f"{i:02d}-histogram.pte", folder / f"{i:02d}-min-max.pte"
        again = folder / f"{i:02d}-histogram-again.pte"
        shutil.copyfile(reference, again)  # a program of its own, loaded apart: the noise yardstick
        models.update({f"reference-{i}": (reference, shape), f"timing-{i}": (timing, shape), f"again-{i}": (again, shape)})
    result = run_session(get_device(device_name), new_run_dir("int8-recipes", folder), models, TimingPlan(burst=BURST))
    median = {m["id"]: m["summary"]["median_ms"] for m in result["models"]}
    per_subnet = [
        {"reference_ms": median[f"reference-{i}"], "timing_ms": median[f"timing-{i}"], "again_ms": median[f"again-{i}"]} for i in range(len(results))
    ]
    timing = np.array([p["timing_ms"] / p["reference_ms"] for p in per_subnet])
    again = np.array([p["again_ms"] / p["reference_ms"] for p in per_subnet])
    return {"device": device_name, "per_subnet": per_subnet, "timing_over_reference": _ratios(timing), "again_over_reference": _ratios(again)}


def _ratios(ratios: np.ndarray) -> dict[str, float]:
    """The ratios' median with a bootstrap 95% interval (seed 0), their spread and how many lie within ±2% and ±5%."""
    rng = np.random.default_rng(0)
    medians = np.median(rng.choice(ratios, (2000, len(ratios))), axis=1)
    deviation = np.abs(ratios - 1)
    return {
        "median": float(np.median(ratios)), "ci95": [float(np.quantile(medians, 0.025)), float(np.quantile(medians, 0.975))],
        "min": float(ratios.min()), "max": float(ratios.max()), "median_abs_deviation": float(np.median(deviation)),
        "within_2pct": float(np.mean(deviation <= 0.02)), "within_5pct": float(np.mean(deviation <= 0.05)),
    }


def summary(results: list[dict[str, Any]], recipes: list[str]) -> dict[str, Any]:
    by_recipe = {}
    for name in recipes:
        rows = [r["recipes"][name] for r in results]
        by_recipe[name] = {
            "same_structure": sum(r["same_structure"] for r in rows), "subnets": len(rows),
            "median_wall_s": statistics.median(r["wall_s"] for r in rows), "median_cpu_s": statistics.median(r["cpu_s"] for r in rows),
            "differences": sorted({r["first_difference"] for r in rows if r["first_difference"]}),
        }
    return by_recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="tiny")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--subnets", type=int, default=20, help="random subnets of the space compared")
    parser.add_argument("--seed", type=int, default=74)
    parser.add_argument("--workers", type=int, default=2, help="export processes at once")
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES)[1:], default=list(RECIPES)[1:], help="compared with the reference")
    parser.add_argument("--measure", action="store_true", help="also time the programs (a quiet machine only)")
    parser.add_argument("--device", default="host-int8", help="where --measure times them")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "int8_recipes.json", help="the raw document ('-': none)")
    parser.add_argument("--json", action="store_true", help="print the document alone")
    args = parser.parse_args()
    console = Console(width=150, stderr=args.json)

    from search.space import load_space
    from search.space.sampling import random_config

    space = load_space(args.space)
    rng = random.Random(args.seed)
    configs = [random_config(space, rng, args.resolution) for _ in range(args.subnets)]
    folder = Path(tempfile.mkdtemp(prefix="int8-recipes-"))
    recipes = [REFERENCE, *dict.fromkeys(args.recipes)]
    if args.measure and TIMING not in recipes:
        parser.error(f"--measure times the timing recipe ({TIMING!r}); keep it in --recipes")
    console.print(f"exporting {len(configs)} random {space.name} subnets at {args.resolution} px by {len(recipes)} recipes, {args.workers} at a time")
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        n = len(configs)
        results = list(pool.map(export_subnet, [space.name] * n, [c.to_json() for c in configs], range(n), [str(folder)] * n, [recipes] * n))
    doc: dict[str, Any] = {
        "space": space.name, "resolution": args.resolution, "seed": args.seed, "reference": REFERENCE, "timing_recipe": TIMING,
        "export_minutes": (time.perf_counter() - start) / 60, "recipes": summary(results, recipes), "subnets": results,
    }
    if args.measure:
        console.print(f"timing {3 * len(results)} programs interleaved in one session on {args.device}")
        doc["latency"] = time_programs(results, folder, args.device)
    if str(args.out) != "-":
        write_json_atomic(args.out, doc)
    if args.json:
        print(json.dumps(doc, indent=1))
        return
    table = Table(title=f"{len(results)} random {space.name} subnets at {args.resolution} px, against {REFERENCE} (the profiles' recipe until now)")
    for column in ("recipe", "same structure", "export, median wall (s)", "median CPU (s)", "first difference"):
        table.add_column(column, justify="right")
    for name, s in doc["recipes"].items():
        table.add_row(name, f"{s['same_structure']} of {s['subnets']}", f"{s['median_wall_s']:.1f}", f"{s['median_cpu_s']:.1f}", "; ".join(s["differences"]) or "-")
    console.print(table)
    if "latency" in doc:
        for label, key in (("timing recipe / reference", "timing_over_reference"), ("reference again / reference (noise)", "again_over_reference")):
            r = doc["latency"][key]
            console.print(f"{label}: median {r['median']:.3f} (95% {r['ci95'][0]:.3f}-{r['ci95'][1]:.3f}), {r['min']:.3f}-{r['max']:.3f}, "
                          f"{r['within_2pct']:.0%} within ±2%, {r['within_5pct']:.0%} within ±5%")


if __name__ == "__main__":
    run_main(main)
