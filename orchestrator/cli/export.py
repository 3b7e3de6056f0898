"""`bench export`: a plan's networks exported into the content-addressed cache."""

from __future__ import annotations

import sys
import time
from typing import Optional

import typer

from orchestrator.cli.common import console, errors, export_workers, number
from orchestrator.export.backends import BACKENDS
from search.space import load_space

app = typer.Typer()


@app.command("export")
def export(
    space: str = typer.Option("xxs", "--space", help="search space whose LUT plan to export (`bench space list`)"),
    backend: str = typer.Option("pte", "--backend", help=f"one of {', '.join(BACKENDS)}: a device's backend, as `bench devices` lists it"),
    resolution: Optional[int] = typer.Option(None, "--resolution", callback=number(1, 4096), help="input size (default: the space's)"),
    workers: int = export_workers(),
) -> None:
    """Export every network of the plan into the content-addressed cache."""
    from orchestrator.export.backends import get_backend
    from orchestrator.export.cache import cache_root
    from orchestrator.export.probes import export_probes
    from orchestrator.plan.builder import build_plan

    get_backend(backend)
    s = load_space(space)
    p = build_plan(s, resolution)
    start = time.perf_counter()
    try:
        done = export_probes(p.probes, s.name, s.hash, backend, workers)
    except KeyboardInterrupt:
        errors.print(f"interrupted: the networks exported so far are kept in {cache_root()}; run the same command again to export the rest", soft_wrap=True)
        sys.exit(130)
    fresh = sum(not d.cached for d in done.values())
    console.print(f"{len(done)} networks in {cache_root()} ({fresh} exported now, {len(done) - fresh} cached) in {time.perf_counter() - start:.0f} s")
