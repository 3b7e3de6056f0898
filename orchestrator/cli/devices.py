"""`bench devices`: the device registry and the phones connected now."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import typer

from orchestrator.cli.common import DevicesFile, console, plain
from orchestrator.cli.devices_view import phones_table, registry_table
from orchestrator.measure.devices import Device, load_devices

app = typer.Typer()


@app.command("devices")
def devices(
    devices_file: Optional[Path] = DevicesFile,
    connected: bool = typer.Option(True, "--connected/--no-connected", help="also look for phones on USB / $BENCH_ADB"),
    wide: bool = typer.Option(False, "--wide", help="also each device's runtime options and the phone models it matches"),
    as_json: bool = typer.Option(
        False, "--json", help='print one JSON document {"devices", "connected", "notes"} and nothing else ("connected": null with --no-connected)'
    ),
) -> None:
    """List the known devices (bundled registry plus your devices file) and the phones connected now."""
    known = load_devices(devices_file)
    if as_json:
        typer.echo(json.dumps(_as_json(known, connected), indent=1))
        return
    console.print(registry_table(known, wide))
    if not connected:
        return
    from orchestrator.measure.connected import connected_phones

    phones, notes = connected_phones(known)
    console.print(phones_table(phones) if phones else "no phone connected")
    for note in notes:
        console.print(plain(note), style="dim", soft_wrap=True)


def _as_json(known: dict[str, Device], connected: bool) -> dict[str, Any]:
    """The registry entries whole (what a devices file holds) and, unless --no-connected, the phones
    found with the entries each matches and the notes on why others were not looked for."""
    devices = [asdict(d) for d in known.values()]
    if not connected:
        return {"devices": devices, "connected": None, "notes": []}
    from orchestrator.measure.connected import connected_phones

    phones, notes = connected_phones(known)
    return {"devices": devices, "connected": [asdict(p) for p in phones], "notes": list(notes)}
