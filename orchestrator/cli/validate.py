"""`bench validate`: how well LUTs predict random subnets measured end to end on a device."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from orchestrator.cli.common import DevicesFile, console, errors, example, export_workers, logger, number
from orchestrator.measure.devices import get_device

app = typer.Typer()


@app.command("validate", epilog=example("bench validate --lut aa5a9101 --device host --samples 20"))
def validate(
    luts: list[str] = typer.Option(..., "--lut", help="LUT id or path; repeat it to compare LUTs on the same subnets"),
    device: str = typer.Option("host", "--device", help="device name from `bench devices`: where the subnets are timed"),
    samples: int = typer.Option(50, "--samples", callback=number(3, 10_000), help="random subnets, spread over the predicted-latency range"),
    seed: int = typer.Option(0, "--seed", callback=number(0), help="draws the random subnets: one seed, the same subnets"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
    workers: int = export_workers(),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """Measure random subnets end to end and report how well each LUT predicts them."""
    from orchestrator.cli.steps import bench_executable
    from orchestrator.cli.validate_view import validation_table
    from orchestrator.lut.validation import validate_luts
    from orchestrator.report.build import write_report

    try:
        report = validate_luts(luts, get_device(device, devices_file), samples, seed, workers, log=logger(errors if as_json else console))
    except KeyboardInterrupt:
        errors.print("interrupted: the validation did not finish; run the same command again (a LUT's record is written only once every subnet is measured)", soft_wrap=True)
        sys.exit(130)
    pages = [write_report([path], bench=bench_executable()) for path in report.lut_paths]
    if as_json:
        typer.echo(json.dumps({**report.to_json(), "reports": [str(p) for p in pages]}, indent=1))
        return
    from orchestrator.lut.fitness import verdict_line

    console.print(validation_table(report))
    for label, record in report.records.items():
        console.print(verdict_line(label.split()[1], record["figures"]), soft_wrap=True, highlight=False)
    console.print(f"scatter plot: {report.plot}; figures stored beside each LUT (<id>.validation.json)")
    for page in pages:
        console.print(f"report: {page}", highlight=False, soft_wrap=True)
