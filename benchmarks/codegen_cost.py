"""What deferring graph modules' code generation saves an export, and that the programs stay the same.

For networks of a space's quick plan (the probes a `bench profile --quick` exports, spread over
their sizes), each backend exports each network twice in this process, one thread: with the
export's deferred code generation (`orchestrator.export.deferred_codegen`, the product's) and with
torch's eager one, in alternating order, each timed in CPU seconds, and their programs compared
byte for byte. An int8 export quantizes for itself each time (the quantizer's memo is emptied).
Run it on a quiet machine:
  .venv/bin/python -m benchmarks.codegen_cost [--networks 20] [--backends pte pte-int8]
writes docs/codegen_cost.json (`--out`) and prints the table.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from infra.files import write_json_atomic
from orchestrator.cli.entry import run_main
from orchestrator.export import deferred_codegen as deferral
from orchestrator.export.backends import get_backend
from orchestrator.export.probes import lowering_cost
from orchestrator.measure.cpu import cpu_model
from orchestrator.plan.builder import build_plan
from orchestrator.plan.networks import build_probe
from orchestrator.plan.spec import ProbeSpec
from search.space import SearchSpace, load_space
from search.supernet import quantize

ROOT = Path(__file__).resolve().parents[1]
EAGER_VERSION = "eager"  # what `torch_version` reports to turn the deferral off: no torch is called that


def spread(probes: list[ProbeSpec], count: int) -> list[ProbeSpec]:
    """`count` networks evenly spaced over the plan's networks ordered by size, smallest and largest included."""
    ordered = sorted(probes, key=lambda p: (lowering_cost(p), p.id))
    if count >= len(ordered):
        return ordered
    return [ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)] if count > 1 else ordered[-1:]


def export_once(spec: ProbeSpec, space: SearchSpace, backend: str, deferred: bool, folder: Path) -> tuple[float, str]:
    """CPU seconds of one export of `spec` by `backend`, and its program's digest."""
    model = build_probe(spec, space)
    example = torch.randn(spec.input_shape, generator=torch.Generator().manual_seed(0))
    quantize._RECENT.clear()
    stock_version = deferral.torch_version
    if not deferred:
        deferral.torch_version = lambda: EAGER_VERSION
    try:
        path = folder / f"{spec.id}-{backend}-{deferred}"
        start = time.process_time()
        get_backend(backend).export(model, example, path)
        seconds = time.process_time() - start
    finally:
        deferral.torch_version = stock_version
    return seconds, hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="tiny")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--networks", type=int, default=20, help="networks of the plan, spread over its sizes")
    parser.add_argument("--backends", nargs="+", default=["pte", "pte-int8"])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "codegen_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    deferral._say_stock = lambda installed: None  # the eager half is asked for, not a wrong torch
    space = load_space(args.space)
    networks = spread(list(build_plan(space, args.resolution).probes.values()), args.networks)
    rows: dict[str, list[dict[str, Any]]] = {}
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            export_once(networks[0], space, backend, True, Path(tmp))  # the process's first export pays its imports and pattern traces
            rows[backend] = []
            for i, spec in enumerate(networks):
                order = (True, False) if i % 2 == 0 else (False, True)
                runs = {deferred: export_once(spec, space, backend, deferred, Path(tmp)) for deferred in order}
                rows[backend].append({
                    "network": spec.id, "size": lowering_cost(spec), "deferred_cpu_s": runs[True][0], "eager_cpu_s": runs[False][0],
                    "same_program": runs[True][1] == runs[False][1],
                })
                console.print(f"{backend} {i + 1}/{len(networks)} {spec.id}: deferred {runs[True][0]:.2f} s, eager {runs[False][0]:.2f} s")
    summary = {
        backend: {
            "networks": len(r), "same_program": sum(x["same_program"] for x in r),
            "deferred_cpu_s": sum(x["deferred_cpu_s"] for x in r), "eager_cpu_s": sum(x["eager_cpu_s"] for x in r),
            "deferred_over_eager": sum(x["deferred_cpu_s"] for x in r) / sum(x["eager_cpu_s"] for x in r),
            "median_network_ratio": statistics.median(x["deferred_cpu_s"] / x["eager_cpu_s"] for x in r),
        }
        for backend, r in rows.items()
    }
    doc = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": cpu_model(),
        "space": args.space, "resolution": args.resolution, "torch": torch.__version__, "summary": summary, "rows": rows,
    }
    write_json_atomic(args.out, doc)
    table = Table(title=f"Deferred code generation: {args.networks} networks of the {args.space} quick plan at {args.resolution} px, CPU seconds")
    for column in ("backend", "same program", "eager", "deferred", "deferred / eager", "median per network"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for backend, s in summary.items():
        table.add_row(
            backend, f"{s['same_program']}/{s['networks']}", f"{s['eager_cpu_s']:.1f}", f"{s['deferred_cpu_s']:.1f}",
            f"{s['deferred_over_eager']:.3f}", f"{s['median_network_ratio']:.3f}",
        )
    Console().print(table)


if __name__ == "__main__":
    run_main(main)
