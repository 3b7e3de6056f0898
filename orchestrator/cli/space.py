"""`bench space list|show`: the search spaces."""

from __future__ import annotations

import json

import typer

from orchestrator.cli.common import console
from orchestrator.cli.space_view import space_document, spaces_table, stages_table
from search.space import load_space, space_names

space_app = typer.Typer(help="Inspect the search spaces.", no_args_is_help=True)


@space_app.command("list")
def space_list() -> None:
    """List the search spaces with their size and parameter range."""
    console.print(spaces_table([space_document(load_space(n)) for n in space_names()]))


@space_app.command("show")
def space_show(
    name: str = typer.Argument(..., help="space name: xxs, xs, s or tiny"),
    as_json: bool = typer.Option(False, "--json", help="print a machine-readable document"),
) -> None:
    """Show the choices per stage and the number of subnets of one space."""
    doc = space_document(load_space(name))
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    console.print(stages_table(doc))
    console.print(
        f"resolution {doc['resolution']['choices']} (default {doc['resolution']['default']}), "
        f"transformer stages {doc['num_transformer_stages']}, norm {doc['norm']}, head dim {doc['head_dim']}"
    )
    console.print(
        f"[bold]{doc['num_subnets']:,}[/bold] subnets; parameters "
        f"{doc['params']['min'] / 1e6:.2f}M to {doc['params']['max'] / 1e6:.2f}M"
    )
