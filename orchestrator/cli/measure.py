"""`bench measure`: any model's end-to-end latency on a device, through its runner and the
request/result contract; with `--lut`, beside the LUT's anchor network as a search times its winner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from infra.errors import UserError
from orchestrator.cli.common import DevicesFile, OneBudgetEach, console, example, number
from orchestrator.measure.devices import get_device
from orchestrator.measure.memory import memory_text

app = typer.Typer()


@app.command("measure", cls=OneBudgetEach, epilog=example("bench measure best.pte --lut aa5a9101 --latency-ms 2.34", "a model against a budget searched on that LUT"))
def measure(
    model: str = typer.Argument(..., help="a .pte file, an .mlpackage, or timm:NAME (random weights)"),
    device: Optional[str] = typer.Option(None, "--device", help="device name from `bench devices` (default: the --lut's device, else host)"),
    lut: Optional[str] = typer.Option(
        None, "--lut", help="LUT id (or prefix) or path: time the model beside its anchor network on its device, and give its latency at the LUT's speed"
    ),
    latency_ms: Optional[float] = typer.Option(
        None, "--latency-ms", callback=number(0, 1e6, low_open=True), help="a budget in the --lut's milliseconds: the model's latency as a share of it"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the result document"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """End-to-end latency of one model through the device's runner and the request/result contract."""
    if lut is not None:
        _at_lut_speed(model, lut, device, latency_ms, as_json, devices_file)
        return
    if latency_ms is not None:
        raise UserError("--latency-ms is a budget in a LUT's milliseconds, which this machine's are not; give the LUT it was searched on with --lut")
    from orchestrator.measure.model import measure_model

    result = measure_model(model, get_device(device or "host", devices_file), devices_file=devices_file)
    if as_json:
        typer.echo(json.dumps(result, indent=1))
        return
    from search.nas.run_result import RunResult

    [measured] = RunResult.of(result).models.values()
    s = measured.summary
    console.print(
        f"{model} on {device or 'host'}: median [bold]{s['median_ms']:.3f} ms[/bold] (p90 {s['p90_ms']:.3f}, trimmed mean "
        f"{s['trimmed_mean_ms']:.3f}, {s['runs']} runs); load {measured.load_ms:.1f} ms, "
        f"first inference {measured.first_inference_ms:.2f} ms; {memory_text(None if measured.memory is None else dict(measured.memory))}"
    )


def _at_lut_speed(model: str, ref: str, device: str | None, latency_ms: float | None, as_json: bool, devices_file: Path | None) -> None:
    from orchestrator.cli.measure_view import at_lut_speed_lines
    from orchestrator.lut.store import load_lut
    from orchestrator.searchjob.at_lut_speed import measure_at_lut_speed

    timed = measure_at_lut_speed(model, load_lut(ref), device, latency_ms, devices_file)
    if as_json:
        typer.echo(json.dumps(timed.document(), indent=1))
        return
    for line in at_lut_speed_lines(model, timed):
        console.print(line, highlight=False, soft_wrap=True)
