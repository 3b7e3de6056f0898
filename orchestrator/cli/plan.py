"""`bench plan`: what a profile measures, entry by entry, and the networks that measure it."""

from __future__ import annotations

import json
from typing import Optional

import typer

from orchestrator.cli.common import console, number
from orchestrator.cli.plan_view import plan_document, plan_table
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
