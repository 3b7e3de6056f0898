"""`bench plan` and `bench export`: what a profile measures, and its networks exported into the cache."""

from __future__ import annotations

import json
import time
from typing import Optional

import typer

from orchestrator.cli.common import console, number
from orchestrator.cli.plan_view import plan_document, plan_table
from orchestrator.export.backends import BACKENDS
from search.space import load_space

app = typer.Typer()


@app.command("plan")
def plan(
    space: str = typer.Option("xxs", "--space", help="search space"),
    resolution: Optional[int] = typer.Option(None, "--resolution", callback=number(1, 4096), help="input resolution (default: the space's)"),
    as_json: bool = typer.Option(False, "--json", help="print entries and networks as JSON"),
) -> None:
    """Print the LUT plan: every entry, its reference network and the variant without the block."""
    from orchestrator.plan.builder import build_plan

    p = build_plan(load_space(space), resolution)
    if as_json:
        typer.echo(json.dumps(plan_document(p, space), indent=1))
        return
    console.print(plan_table(p, space))
    console.print(
        f"[bold]{len(p.entries)}[/bold] entries, [bold]{len(p.probes)}[/bold] networks to export "
        "(network ids are 8-character prefixes; --json gives them whole with their configs)"
    )


@app.command("export")
def export(
    space: str = typer.Option("xxs", "--space"),
    backend: str = typer.Option("pte", "--backend", help=f"one of {', '.join(BACKENDS)}: a device's backend, as `bench devices` lists it"),
    resolution: Optional[int] = typer.Option(None, "--resolution", callback=number(1, 4096)),
    workers: int = typer.Option(2, "--workers", callback=number(1, 64), help="export processes in parallel"),
) -> None:
    """Export every network of the plan into the content-addressed cache."""
    from orchestrator.export.backends import get_backend
    from orchestrator.export.cache import cache_root, export_probes
    from orchestrator.plan.builder import build_plan

    get_backend(backend)
    s = load_space(space)
    p = build_plan(s, resolution)
    start = time.perf_counter()
    done = export_probes(p.probes, s.name, s.hash, backend, workers)
    fresh = sum(not d.cached for d in done.values())
    console.print(f"{len(done)} networks in {cache_root()} ({fresh} exported now, {len(done) - fresh} cached) in {time.perf_counter() - start:.0f} s")
