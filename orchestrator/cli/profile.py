"""`bench profile`: a device's LUT, profiled (plan, export, measure, attribute) or, with --from,
transferred from another device's LUT; the run itself is `orchestrator.lut.runs`'."""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from orchestrator.cli.common import DevicesFile, console, errors, example, export_workers, logger, number
from orchestrator.lut.settings import DEFAULT_NETWORKS, MAX_NETWORKS
from orchestrator.measure.devices import Device
from orchestrator.measure.shelf import ShelfPhone

app = typer.Typer()


@app.command("profile", epilog=example("bench profile --device host --quick", "about 3 minutes"))
def profile(
    device: str = typer.Option("host", "--device", help="device name from `bench devices`"),
    space: Optional[str] = typer.Option(None, "--space", help="search space (default xxs; tiny with --quick)"),
    resolution: Optional[int] = typer.Option(
        None, "--resolution", callback=number(1, 4096), help="input size (default: the space's; 128 with --quick)"
    ),
    quick: bool = typer.Option(False, "--quick", help="the quick preset: tiny space at 128 px, shorter measurement (~3 min here)"),
    method: str = typer.Option("removal", "--method", help="removal (blocks timed in the network) or isolated (blocks alone)"),
    source: Optional[str] = typer.Option(
        None, "--from",
        help="transfer: a LUT of another device (id or path) to scale to this one from a few measured networks; a LUT of either "
        "precision, since the networks are exported as this device runs them (int8 for an -int8 device) and the LUT written "
        "prices this device's precision",
    ),
    networks: int = typer.Option(
        DEFAULT_NETWORKS, "--networks", callback=number(1, MAX_NETWORKS), help="with --from: networks to measure (1: the source anchored)"
    ),
    out: Optional[Path] = typer.Option(None, "--out", help="run directory (default: a new one under runs/, named for the method, device, space, resolution and time)"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted profile (the latest one unless --out)"),
    workers: int = export_workers(),
    phones: Optional[str] = typer.Option(
        None, "--phones", help="spread the sessions over several connected phones of the device's model: all, or serials separated by commas"
    ),
    devices_file: Optional[Path] = DevicesFile,
    as_json: bool = typer.Option(
        False, "--json", help='print one JSON document {"lut", "path", "report", "verdict", "noise"} and nothing else (progress on stderr)'
    ),
) -> None:
    """Build a LUT for a device: plan, export, measure by removal, attribute, write the LUT; or, with
    --from, fit one from another device's LUT and a few networks measured on this one. With --phones,
    the sessions run on several phones of one model at once and merge into one LUT through the
    anchor network every session carries."""
    from orchestrator.cli.profile_view import memory_verdict, next_steps, noise_verdict
    from orchestrator.cli.steps import bench_executable
    from orchestrator.lut.runs import Interrupted, ProfileRequest, profile_lut, transfer_lut
    from orchestrator.lut.store import latest_validation
    from orchestrator.report.build import write_report
    from orchestrator.report.summary import interval_story, verdict

    bench = bench_executable()  # how the user ran bench: every command printed or written in the report
    request = ProfileRequest(device, devices_file, space, resolution, quick, method, source, networks, out, resume, workers, phones)
    start, out_console = time.perf_counter(), errors if as_json else console  # --json keeps stdout for the JSON document
    try:
        if source is None:
            doc, path = profile_lut(request, logger(out_console), on_shelf=partial(_show_shelf, out_console))
        else:
            doc, path = transfer_lut(request, logger(out_console))
    except Interrupted as stop:
        errors.print(
            f"interrupted: {stop.finished} finished measurement sessions are kept in {stop.run_dir}; continue with `{stop.resume_command}`",
            soft_wrap=True,
        )
        sys.exit(130)
    if as_json:
        _warn_if_disturbed(doc)
        fit = verdict(latest_validation(path, doc["id"]))  # what the report says at its top
        typer.echo(json.dumps({
            "lut": doc["id"], "path": str(path), "report": str(write_report([path], bench=bench)),
            "verdict": {"fit": fit.fit, "headline": fit.headline, "why": fit.why}, "noise": interval_story(doc)[0], "memory": memory_verdict(doc),
        }, indent=1))
        return
    wide = sum(e["wide"] for e in doc["entries"].values())
    console.print(
        f"LUT [bold]{doc['id']}[/bold] written to {path}: {len(doc['entries'])} entries ({wide} with an interval wider "
        f"than the entry), {doc['measurement']['rounds']} rounds, {time.perf_counter() - start:.0f} s in all"
    )
    console.print(f"{noise_verdict(doc, bench)}\n{memory_verdict(doc)}", highlight=False, soft_wrap=True)
    if source is not None:
        from orchestrator.cli.lut_view import transfer_table

        console.print(transfer_table(doc))
    _warn_if_disturbed(doc)
    steps = next_steps(doc, device, write_report([path], bench=bench), bench, console.width)
    console.print(steps, highlight=False, markup=False, soft_wrap=True)


def _warn_if_disturbed(doc: dict[str, Any]) -> None:
    """On stderr, with or without --json: a LUT whose sessions stayed disturbed is not one to search with."""
    if cause := doc["measurement"].get("disturbed"):
        errors.print(
            f"warning: LUT {doc['id'][:8]}'s sessions were disturbed even after measuring again ({cause}), so a search would refuse its "
            "budgets or miss them; profile again with nothing else running on the device",
            soft_wrap=True, highlight=False,
        )


def _show_shelf(to: Console, device: Device, found: list[ShelfPhone]) -> None:
    """The phones to profile on, named before anything is exported."""
    listed = ", ".join(f"{p.serial} ({p.model}, {p.os}{f', build {p.build}' if p.build else ''})" for p in found)
    to.print(f"profiling {device.name} on {len(found)} phone{'s' if len(found) > 1 else ''}: {listed}", highlight=False, soft_wrap=True)
