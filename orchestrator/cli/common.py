"""What every command module shares: the two consoles (stdout for results, stderr for progress,
logs and errors, so `--json` output stays one document), the `--devices-file` option, and option
defaults read from the settings types that own them."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)

DevicesFile = typer.Option(None, "--devices-file", help="JSON file of your own devices (see orchestrator/measure/devices.json)")


def defaults(settings_type: type) -> dict[str, Any]:
    """The default of every field of a settings dataclass that has one, so a command's options
    cannot drift from the settings they build."""
    return {f.name: f.default for f in fields(settings_type) if f.default is not MISSING}
