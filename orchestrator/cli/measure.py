"""`bench measure`: any model's end-to-end latency on a device, through its runner and the
request/result contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from orchestrator.cli.common import DevicesFile, console
from orchestrator.measure.devices import get_device
from orchestrator.measure.memory import memory_text

app = typer.Typer()


@app.command("measure")
def measure(
    model: str = typer.Argument(..., help="a .pte file, an .mlpackage, or timm:NAME (random weights)"),
    device: str = typer.Option("host", "--device", help="device name from `bench devices`"),
    as_json: bool = typer.Option(False, "--json", help="print the result document"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """End-to-end latency of one model through the device's runner and the request/result contract."""
    from orchestrator.measure.model import measure_model

    result = measure_model(model, get_device(device, devices_file), devices_file=devices_file)
    if as_json:
        typer.echo(json.dumps(result, indent=1))
        return
    s, measured = result["summary"], result["models"][0]
    console.print(
        f"{model} on {device}: median [bold]{s['median_ms']:.3f} ms[/bold] (p90 {s['p90_ms']:.3f}, trimmed mean "
        f"{s['trimmed_mean_ms']:.3f}, {s['runs']} runs); load {measured['load_ms']:.1f} ms, "
        f"first inference {measured['first_inference_ms']:.2f} ms; {memory_text(measured.get('memory'))}"
    )
