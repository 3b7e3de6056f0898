"""`bench devices`: the device registry and the phones connected now."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from orchestrator.cli.common import DevicesFile, console, plain
from orchestrator.cli.devices_view import phones_table, registry_table
from orchestrator.measure.devices import load_devices

app = typer.Typer()


@app.command("devices")
def devices(
    devices_file: Optional[Path] = DevicesFile,
    connected: bool = typer.Option(True, "--connected/--no-connected", help="also look for phones on USB / $BENCH_ADB"),
    wide: bool = typer.Option(False, "--wide", help="also each device's runtime options and the phone models it matches"),
) -> None:
    """List the known devices (bundled registry plus your devices file) and the phones connected now."""
    known = load_devices(devices_file)
    console.print(registry_table(known, wide))
    if not connected:
        return
    from orchestrator.measure.connected import connected_phones

    phones, notes = connected_phones(known)
    console.print(phones_table(phones) if phones else "no phone connected")
    for note in notes:
        console.print(plain(note), style="dim", soft_wrap=True)
