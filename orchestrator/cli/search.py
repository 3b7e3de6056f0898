"""`bench search`: the latency-aware search of a trained supernet against a LUT (distributed under
torchrun)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional

import typer

from infra.errors import UserError
from infra.files import check_output
from orchestrator.cli.common import DevicesFile, console, defaults, errors, example, logger, number
from orchestrator.searchjob import INT8_CALIBRATION, MEASURE_TOP
from search.nas.strategies import STRATEGIES, SearchSettings

app = typer.Typer()
SEARCH = defaults(SearchSettings)


def default_run_dir(held: list[tuple[Path, float]]) -> Path:
    """Where a search writes without --out: named for the space (the LUT's folder), each LUT's whole
    id and its budget, so two searches of other inputs never share a folder."""
    (lut_path, latency_ms), *others = held
    more = "".join(f"+{path.stem[:8]}-{ms:g}ms" for path, ms in others)
    return Path("runs") / f"search-{lut_path.parent.name}-{lut_path.stem}-{latency_ms:g}ms{more}"


@app.command("search", epilog=example("bench search --checkpoint runs/train-tiny-128/last.pt --lut d7f47ca8 --latency-ms 0.885", "a supernet trained as `bench train --help` shows"))
def search_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="last.pt of `bench train` (or its run directory)"),
    lut: Optional[str] = typer.Option(None, "--lut", help="LUT id (or prefix) or path: sets the device and resolution (with --latency-ms)"),
    latency_ms: Optional[float] = typer.Option(None, "--latency-ms", callback=number(0, 1e6, low_open=True), help="latency budget on the LUT's device"),
    budgets: Optional[list[str]] = typer.Option(
        None, "--budget", metavar="LUT=MS",
        help="a device held to a budget at once with the others: a LUT id (or prefix) or path, '=', the budget in ms; repeat it for each device",
    ),
    params_m: Optional[float] = typer.Option(None, "--params-m", callback=number(0, 1e6, low_open=True), help="parameter budget in millions"),
    memory_mb: Optional[float] = typer.Option(
        None, "--memory-mb", callback=number(0, 1e7, low_open=True),
        help="peak memory budget in MiB on every device held (its LUT must record memory: `bench profile` writes it)",
    ),
    space: Optional[str] = typer.Option(None, "--space", help="expected space (checked against the checkpoint)"),
    strategy: str = typer.Option(SEARCH["strategy"], "--strategy", help=" or ".join(STRATEGIES)),
    population: int = typer.Option(SEARCH["population"], "--population", callback=number(2, 100_000), help="subnets evaluated per generation"),
    generations: int = typer.Option(SEARCH["generations"], "--generations", callback=number(1, 100_000), help="rounds of evolution"),
    parents: int = typer.Option(SEARCH["parents"], "--parents", callback=number(1, 100_000), help="best subnets so far that each generation is bred from (at most --population)"),
    p_depth: float = typer.Option(SEARCH["p_depth"], "--p-depth", callback=number(0, 1), help="depth-mutation probability"),
    p_layer: float = typer.Option(SEARCH["p_layer"], "--p-layer", callback=number(0, 1), help="per-layer mutation probability"),
    coarse_samples: int = typer.Option(SEARCH["coarse_samples"], "--coarse-samples", callback=number(1, 100_000_000), help="random subnets priced in the coarse phase"),
    seed: int = typer.Option(SEARCH["seed"], "--seed", callback=number(0), help="seeds every random choice of the search: samples, crossovers, mutations"),
    data: Optional[Path] = typer.Option(None, "--data", help="data directory (default: the one the supernet was trained on)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run directory (default: a new one under runs/, named for the space, LUT and budget)"),
    resume: bool = typer.Option(False, "--resume", help="continue the search in --out"),
    measure: bool = typer.Option(True, "--measure/--no-measure", help="measure the found model on the LUT's device"),
    measure_top: int = typer.Option(
        MEASURE_TOP, "--measure-top", callback=number(0, 100),
        help="time the K most accurate candidates on the LUT's device and deliver the most accurate within the budget (0: the most accurate alone)",
    ),
    int8_calibration: int = typer.Option(
        INT8_CALIBRATION, "--int8-calibration", callback=number(1, 100_000),
        help="on an int8 LUT: training images the int8 model's quantization is calibrated on",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    devices_file: Optional[Path] = DevicesFile,
) -> None:
    """Find the most accurate subnet within a latency budget (and parameter and memory budgets) on a LUT's device.
    Distributed: `torchrun --nproc_per_node N --no-python bench search ...` splits every generation's
    subnets over the processes (one GPU each where present); the result is the same as one process's."""
    from orchestrator.lut.machine import other_cpu
    from orchestrator.searchjob.run import devices_for, open_job, run_job
    from search.training import distributed

    held = held_budgets(lut, latency_ms, budgets or [])
    settings = SearchSettings(strategy, population, generations, parents, p_depth, p_layer, coarse_samples, None, seed)
    settings.check()
    run_dir = out or default_run_dir(held)
    check_output(run_dir, "the run directory", folder=True)  # before the checkpoint and data are read, not at the first write
    d = distributed.place()
    log = logger(errors if as_json else console) if d.main else (lambda message: None)  # --json keeps stdout for the JSON document
    try:
        job = open_job(checkpoint, held, run_dir, settings, params_m, data, space, log, d, memory_mb=memory_mb)
        distributed.join(d)  # the inputs are checked: now meet the other ranks
        for line in job.describe_budget().splitlines():  # a line per held device
            log(line)
        if d.main and (note := other_cpu(job.lut)):
            log(f"note: {note}")
        if d.world > 1:
            log(f"{d.world} processes share each generation's subnets, one {d.device.type} device each")
        devices = devices_for(job, measure, devices_file)
        try:
            if d.main:
                result = run_job(job, resume, devices, log, measure_top, int8_calibration)[1]
            else:  # evaluates its shares of the same search; rank 0 holds the run directory and delivers
                job.run(resume)
        except KeyboardInterrupt:
            if d.main:
                errors.print(interrupted(run_dir), soft_wrap=True)
            sys.exit(130)
    finally:
        distributed.shutdown()
    if d.main and as_json:
        typer.echo(json.dumps(result, indent=1))


def interrupted(run_dir: Path) -> str:
    """What an interrupted search kept, and how to go on."""
    from orchestrator.searchjob.job import STATE_FILE

    if (run_dir / STATE_FILE).is_file():
        return f"interrupted: the search state of the last finished generation is kept in {run_dir}; continue with the same command and --resume"
    return f"interrupted before the first generation finished: no search state is kept in {run_dir}; run the same command again"


def held_budgets(lut: str | None, latency_ms: float | None, budgets: list[str]) -> list[tuple[Path, float]]:
    """Every device's (LUT path, budget): `--lut` with `--latency-ms` first where given, then each
    `--budget LUT=MS`, checked before anything is read."""
    from orchestrator.lut.store import resolve_lut

    if (lut is None) != (latency_ms is None):
        raise UserError("--lut and --latency-ms go together (one device's LUT and its budget); give both, or give --budget LUT=MS instead")
    if lut is None and not budgets:
        raise UserError("no budget given; give --lut LUT --latency-ms MS for one device, or --budget LUT=MS once per device")
    held = [(resolve_lut(lut), latency_ms)] if lut is not None and latency_ms is not None else []
    for text in budgets:
        ref, _, ms = text.rpartition("=")
        try:
            value = float(ms)
        except ValueError:
            value = math.nan
        if not ref or not math.isfinite(value) or not 0 < value <= 1e6:
            raise UserError(f"--budget {text!r} is not LUT=MS with a budget above 0 ms and at most 1e6; give e.g. --budget d7f47ca8=0.885")
        held.append((resolve_lut(ref), value))
    return held
