"""`bench devices` (the device registry and the phones connected now) and `bench doctor` (is a device
ready to measure on, and if not, what to do)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional

import typer

from orchestrator.cli.common import DevicesFile, console, plain
from orchestrator.cli.devices_view import doctor_table, phones_table, registry_table
from orchestrator.measure.devices import get_device, load_devices

app = typer.Typer()


@app.command("devices")
def devices(
    devices_file: Optional[Path] = DevicesFile,
    connected: bool = typer.Option(True, "--connected/--no-connected", help="also look for phones on USB / $BENCH_ADB"),
) -> None:
    """List the known devices (bundled registry plus your devices file) and the phones connected now."""
    known = load_devices(devices_file)
    console.print(registry_table(known))
    if not connected:
        return
    from orchestrator.measure.connected import connected_phones

    phones, notes = connected_phones(known)
    console.print(phones_table(phones) if phones else "no phone connected")
    for note in notes:
        console.print(plain(note), style="dim", soft_wrap=True)


@app.command("doctor")
def doctor(
    device: str = typer.Option("host", "--device", help="device name from `bench devices`"),
    as_json: bool = typer.Option(False, "--json", help="print the checks as JSON"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """Walk every step between you and a measurement on a device; exit 0 only when it is ready."""
    from orchestrator.measure.platforms import runner_for
    from orchestrator.measure.runners.base import Check, RunnerError

    d = get_device(device, devices_file)
    try:
        checks = runner_for(d).diagnose()
    except RunnerError as exc:  # the runner itself cannot be made here (e.g. the iOS extra is missing)
        checks = [Check(f"{d.platform} runner available", False, "", str(exc))]
    ready = all(c.passed for c in checks)
    if as_json:
        typer.echo(json.dumps({"device": d.name, "ready": ready, "checks": [dataclasses.asdict(c) for c in checks]}, indent=1))
    else:
        console.print(doctor_table(d.name, checks))
        console.print(plain(f"{d.name} is ready to measure on" if ready else f"{d.name} is not ready: fix the first failed step and run `bench doctor --device {d.name}` again"))
    if not ready:
        raise typer.Exit(1)
