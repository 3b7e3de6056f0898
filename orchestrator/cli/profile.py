"""`bench profile`: a device's LUT, profiled (plan, export, measure, attribute) or, with --from,
transferred from another device's LUT; the run itself is `orchestrator.lut.runs`'."""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console

from orchestrator.cli import profile_options as opt
from orchestrator.cli.common import DevicesFile, console, errors, example, export_workers, logger
from orchestrator.measure.devices import Device
from orchestrator.measure.shelf import ShelfPhone

if TYPE_CHECKING:
    from search.nas.lut import Lut

app = typer.Typer()


@app.command("profile", epilog=example("bench profile --device host --quick", "about 3 minutes"))
def profile(
    device: str = opt.DEVICE, space: Optional[str] = opt.SPACE, resolution: Optional[int] = opt.RESOLUTION, quick: bool = opt.QUICK, method: str = opt.METHOD,
    source: Optional[str] = opt.SOURCE, networks: int = opt.NETWORKS, out: Optional[Path] = opt.OUT, resume: bool = opt.RESUME,
    workers: int = export_workers(), phones: Optional[str] = opt.PHONES, devices_file: Optional[Path] = DevicesFile, as_json: bool = opt.AS_JSON,
    timings: Optional[Path] = opt.TIMINGS, latency_column: str = opt.LATENCY_COLUMN,
) -> None:
    """Build a LUT for a device: plan, export, measure by removal, attribute, write the LUT; or, with
    --from, fit one from another device's LUT and a few networks measured on this one. With --phones,
    the sessions run on several phones of one model at once and merge into one LUT through the
    anchor network every session carries."""
    from orchestrator.cli.steps import bench_executable
    from orchestrator.lut.runs import ProfileRequest

    bench = bench_executable()  # how the user ran bench: every command printed or written in the report
    if timings is not None:
        _transfer_timed(device, source, timings, latency_column, networks, as_json)
        return
    request = ProfileRequest(device, devices_file, space, resolution, quick, method, source, networks, out, resume, workers, phones)
    start = time.perf_counter()
    doc, path = _profiled(request, errors if as_json else console)  # --json keeps stdout for the JSON document
    _warn_if_disturbed(doc)
    if as_json:
        typer.echo(json.dumps(_document(doc, path, bench), indent=1))
    else:
        _show(doc, path, bench, time.perf_counter() - start)


def _transfer_timed(device: str, source: Optional[str], timings: Path, latency_column: str, networks: int, as_json: bool) -> None:
    """`--from LUT --timings FILE`: the transfer fitted to networks timed elsewhere; nothing is measured here."""
    from infra.errors import UserError
    from orchestrator.cli.lut_view import transfer_table
    from orchestrator.lut.store import load_lut
    from orchestrator.lut.table_space import table_space
    from orchestrator.lut.timings import read_timings
    from orchestrator.lut.transfer_timed import transfer_from_timings

    if source is None:
        raise UserError("--timings gives the networks a transfer fits, so it needs --from <LUT> (the LUT to transfer); add it")
    lut = load_lut(source)
    space = table_space(lut.space_name, lut.resolution)
    rows = read_timings(timings, space, latency_column)
    doc, path, record = transfer_from_timings(lut, space, rows, device, networks, log=logger(errors if as_json else console))
    if as_json:
        typer.echo(json.dumps({"lut": doc.id, "path": str(path), "networks": doc.measurement["networks"], "figures": record and record["figures"]}, indent=1))
        return
    console.print(transfer_table(doc))
    if record is not None:
        f = record["figures"]
        console.print(f"{f['samples']} other timed networks: {f['within_10']:.0%} within ±10%, Spearman {f['spearman']:.3f}, MAPE {f['mape']:.1%}", highlight=False)
    console.print(f"LUT {doc.id} written to {path}", highlight=False, soft_wrap=True)


def _profiled(request: Any, to: Console) -> tuple[dict[str, Any], Path]:
    """The LUT profiled (or transferred, with --from) and where it was written; Ctrl-C turned into
    what was kept and how to go on, and exit 130."""
    from orchestrator.lut.runs import Interrupted, profile_lut, transfer_lut

    try:
        if request.source is None:
            return profile_lut(request, logger(to), on_shelf=partial(_show_shelf, to))
        return transfer_lut(request, logger(to))
    except Interrupted as stop:
        errors.print(
            f"interrupted: {stop.finished} finished measurement sessions are kept in {stop.run_dir}; continue with `{stop.resume_command}`",
            soft_wrap=True,
        )
        sys.exit(130)


def _document(doc: Lut, path: Path, bench: str) -> dict[str, Any]:
    """`bench profile --json`: the LUT, its report, and what the report says at its top."""
    from orchestrator.cli.profile_view import memory_verdict
    from orchestrator.lut.store import latest_validation
    from orchestrator.report.build import write_report
    from orchestrator.report.summary import interval_story, verdict

    fit = verdict(latest_validation(path, doc.id))
    return {
        "lut": doc.id, "path": str(path), "report": str(write_report([path], bench=bench)),
        "verdict": {"fit": fit.fit, "headline": fit.headline, "why": fit.why}, "noise": interval_story(doc)[0], "memory": memory_verdict(doc),
    }


def _show(doc: Lut, path: Path, bench: str, seconds: float) -> None:
    """The LUT written, its noise and memory, a transfer's fit, and the next steps to paste."""
    from orchestrator.cli.profile_view import memory_verdict, next_steps, noise_verdict
    from orchestrator.report.build import write_report

    wide = sum(e["wide"] for e in doc.entries.values())
    console.print(
        f"LUT [bold]{doc.id}[/bold] written to {path}: {len(doc.entries)} entries ({wide} with an interval wider "
        f"than the entry), {doc.measurement['rounds']} rounds, {seconds:.0f} s in all"
    )
    console.print(f"{noise_verdict(doc, bench)}\n{memory_verdict(doc)}", highlight=False, soft_wrap=True)
    if doc.method == "transfer":
        from orchestrator.cli.lut_view import transfer_table

        console.print(transfer_table(doc))
    steps = next_steps(doc, doc.device.name, write_report([path], bench=bench), bench, console.width)
    console.print(steps, highlight=False, markup=False, soft_wrap=True)


def _warn_if_disturbed(doc: Lut) -> None:
    """On stderr, with or without --json: a LUT whose sessions stayed disturbed is not one to search with."""
    if cause := doc.measurement.get("disturbed"):
        errors.print(
            f"warning: LUT {doc.short}'s sessions were disturbed even after measuring again ({cause}), so a search would refuse its "
            "budgets or miss them; profile again with nothing else running on the device",
            soft_wrap=True, highlight=False,
        )


def _show_shelf(to: Console, device: Device, found: list[ShelfPhone]) -> None:
    """The phones to profile on, named before anything is exported."""
    listed = ", ".join(f"{p.serial} ({p.model}, {p.os}{f', build {p.build}' if p.build else ''})" for p in found)
    to.print(f"profiling {device.name} on {len(found)} phone{'s' if len(found) > 1 else ''}: {listed}", highlight=False, soft_wrap=True)
