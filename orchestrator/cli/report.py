"""`bench report LUT [LUT2]`: one self-contained HTML page of a LUT (or two, compared)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from orchestrator.cli.common import console, example, plain

app = typer.Typer()


@app.command("report", epilog=example("bench report d7f47ca8 0fd6177a --out host-1t-vs-2t.html"))
def report(
    refs: list[str] = typer.Argument(..., metavar="LUT", help="LUT id (or prefix) or path; give a second LUT to compare the two"),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file (default: <id>.report.html beside the first LUT)"),
    as_json: bool = typer.Option(False, "--json", help='print one JSON document {"report": PATH, "luts": IDS} and nothing else'),
) -> None:
    """Write one HTML page (no network, no other file) with the LUT's provenance, entries, per-stage
    breakdown, validation runs and, given two LUTs, their differences; print its path."""
    from orchestrator.cli.steps import bench_executable
    from orchestrator.lut.store import resolve_lut
    from orchestrator.report.build import check_count, write_report
    from search.nas.lut import read_lut

    check_count(refs)
    paths = [resolve_lut(ref) for ref in refs]
    path = write_report(paths, out, bench_executable())
    if as_json:
        typer.echo(json.dumps({"report": str(path), "luts": [read_lut(p).id for p in paths]}))
        return
    console.print(plain(f"wrote {path}"), soft_wrap=True, highlight=False)
