"""`bench doctor`: is a device ready to measure on, and if not, what to do."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional

import typer

from orchestrator.cli.common import DevicesFile, console, plain
from orchestrator.cli.doctor_view import doctor_table
from orchestrator.cli.steps import bench_executable
from orchestrator.measure.devices import get_device

app = typer.Typer()


@app.command("doctor")
def doctor(
    device: str = typer.Option("host", "--device", help="device name from `bench devices`"),
    as_json: bool = typer.Option(False, "--json", help="print the checks as JSON"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """Walk every step between you and a measurement on a device; exit 0 only when it is ready."""
    from orchestrator.export.backends import get_backend
    from orchestrator.measure.platforms import PLATFORMS, runner_for
    from orchestrator.measure.runners.base import Check, RunnerError

    d = get_device(device, devices_file)
    try:
        checks = runner_for(d).diagnose()
    except RunnerError as exc:  # the runner itself cannot be made here (e.g. the iOS extra is missing)
        checks = [Check(f"{d.platform} runner available", False, "", str(exc))]
    if get_backend(d.backend).quantizer is not None and (platform := PLATFORMS[d.platform]).int8 is not None:  # the backend declares it quantizes
        checks.append(platform.int8(checks))
    ready = all(c.passed for c in checks)
    if as_json:
        typer.echo(json.dumps({"device": d.name, "ready": ready, "checks": [dataclasses.asdict(c) for c in checks]}, indent=1))
    else:
        console.print(doctor_table(d.name, checks))
        console.print(plain(f"{d.name} is ready to measure on" if ready else f"{d.name} is not ready: fix the first failed step and run `{bench_executable()} doctor --device {d.name}` again"))
    if not ready:
        raise typer.Exit(1)
