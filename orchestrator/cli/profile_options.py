"""The options of `bench profile`, declared apart from the command so that its signature reads as what it takes."""

from __future__ import annotations

import typer

from orchestrator.cli.common import number
from orchestrator.lut.settings import DEFAULT_NETWORKS, MAX_NETWORKS

DEVICE = typer.Option("host", "--device", help="device name from `bench devices`")
SPACE = typer.Option(None, "--space", help="search space (default xxs; tiny with --quick)")
RESOLUTION = typer.Option(
    None, "--resolution", callback=number(1, 4096), help="input size (default: the space's; 128 with --quick)"
)
QUICK = typer.Option(
    False, "--quick", help="the quick preset: tiny space at 128 px, shorter measurement (129 s on a 2-core AMD EPYC VM: docs/figures.md)"
)
METHOD = typer.Option("removal", "--method", help="removal (blocks timed in the network) or isolated (blocks alone)")
SOURCE = typer.Option(
    None, "--from",
    help="transfer: a LUT of another device (id or path) to scale to this one from a few measured networks; a LUT of either "
    "precision, since the networks are exported as this device runs them (int8 for an -int8 device) and the LUT written "
    "prices this device's precision",
)
NETWORKS = typer.Option(
    DEFAULT_NETWORKS, "--networks", callback=number(1, MAX_NETWORKS), help="with --from: networks to measure (1: the source anchored)"
)
OUT = typer.Option(None, "--out", help="run directory (default: a new one under runs/, named for the method, device, space, resolution and time)")
RESUME = typer.Option(False, "--resume", help="continue an interrupted profile (the latest one unless --out)")
PHONES = typer.Option(
    None, "--phones", help="spread the sessions over several connected phones of the device's model: all, or serials separated by commas"
)
AS_JSON = typer.Option(
    False, "--json", help='print one JSON document {"lut", "path", "report", "verdict", "noise", "memory"} and nothing else (progress on stderr)'
)
TIMINGS = typer.Option(
    None, "--timings",
    help="with --from: networks timed on this device elsewhere (CSV or JSON, as `bench lut fit` reads them) instead of measuring here; "
    "--networks of them are chosen for the fit, the rest judge it",
)
LATENCY_COLUMN = typer.Option("latency_ms", "--latency-column", help="with --timings: the field holding each network's latency in ms")
