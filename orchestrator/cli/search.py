"""`bench search`: the latency-aware search of a trained supernet against a LUT (distributed under
torchrun)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from infra.errors import UserError
from infra.files import check_output
from orchestrator.cli import search_options as opt
from orchestrator.cli.common import DevicesFile, OneBudgetEach, console, errors, example, logger
from search.nas.strategies import SearchSettings

if TYPE_CHECKING:
    from orchestrator.searchjob.targets import Asked

app = typer.Typer()


def default_run_dir(asked: Asked) -> Path:
    """Where a search writes without --out: named for the space (the first LUT's folder), each LUT's
    whole id with its budgets and the budgets held on every device, so two searches of other inputs
    never share a folder."""
    def budgets(limits: Any) -> str:
        return "-".join(f"{lim.value:g}{lim.constraint.unit}" for lim in limits)

    first, *others = asked.devices
    more = "".join(f"+{d.lut.stem[:8]}-{budgets(d.limits)}" for d in others)
    shared = "".join(f"+{lim.constraint.name}-{lim.value:g}{lim.constraint.unit}" for lim in asked.shared)
    return Path("runs") / f"search-{first.lut.parent.name}-{first.lut.stem}-{budgets(first.limits)}{more}{shared}"


@app.command(
    "search", cls=OneBudgetEach,
    epilog=example("bench search --checkpoint runs/train-tiny-128/last.pt --lut aa5a9101 --latency-ms 2.34", "a supernet trained as `bench train --help` shows"),
)
@opt.shared_budget_options
def search_cmd(
    checkpoint: Path = opt.CHECKPOINT, lut: Optional[str] = opt.LUT, latency_ms: Optional[float] = opt.LATENCY_MS,
    budgets: Optional[list[str]] = opt.BUDGETS, space: Optional[str] = opt.SPACE, strategy: str = opt.STRATEGY, population: int = opt.POPULATION, generations: int = opt.GENERATIONS,
    parents: int = opt.PARENTS, p_depth: float = opt.P_DEPTH, p_layer: float = opt.P_LAYER, coarse_samples: int = opt.COARSE_SAMPLES,
    seed: int = opt.SEED, data: Optional[Path] = opt.DATA, out: Optional[Path] = opt.OUT, resume: bool = opt.RESUME, measure: bool = opt.MEASURE,
    measure_top: int = opt.MEASURE_TOP, int8_calibration: int = opt.INT8_CALIBRATION, as_json: bool = opt.AS_JSON,
    devices_file: Optional[Path] = DevicesFile, shared: Optional[dict[str, Optional[list[str]]]] = None,
) -> None:
    """Find the most accurate subnet within a latency budget (and parameter, memory and other budgets) on a LUT's device.
    Distributed: `torchrun --nproc_per_node N --no-python bench search ...` splits every generation's
    subnets over the processes (one GPU each where present); the result is the same as one process's."""
    from orchestrator.searchjob.result import over_budget
    from orchestrator.searchjob.run import open_job
    from search.training import distributed

    asked = asked_budgets(lut, latency_ms, budgets or [], shared or {})
    settings = SearchSettings(strategy, population, generations, parents, p_depth, p_layer, coarse_samples, None, seed)
    settings.check()
    run_dir = out or default_run_dir(asked)
    check_output(run_dir, "the run directory", folder=True)  # before the checkpoint and data are read, not at the first write
    d = distributed.place()
    log = logger(errors if as_json else console) if d.main else (lambda message: None)  # --json keeps stdout for the JSON document
    try:
        job = open_job(checkpoint, asked, run_dir, settings, data, space, log, d)
        distributed.join(d)  # the inputs are checked: now meet the other ranks
        result = _run(job, d, log, resume, measure, measure_top, int8_calibration, devices_file)
    finally:
        distributed.shutdown()
    if d.main and as_json:
        typer.echo(json.dumps(result, indent=1))
    if d.main and result is not None and (over := over_budget(result)) is not None:
        errors.print(f"warning: {over}; exit status {OVER_BUDGET}", highlight=False, soft_wrap=True)
        sys.exit(OVER_BUDGET)


OVER_BUDGET = 3  # the exit status of a search that delivered a model measured over a budget: delivered, but not what was asked


def _run(job: Any, d: Any, log: Callable[[str], None], resume: bool, measure: bool, measure_top: int, int8_calibration: int,
         devices_file: Path | None) -> dict[str, Any] | None:
    """The opened job run on this rank: its budgets said, the search run (rank 0 finishes and
    delivers it, others evaluate their shares), Ctrl-C turned into what was kept and exit 130."""
    from orchestrator.lut.machine import other_cpu
    from orchestrator.searchjob.run import devices_for, run_job

    for line in job.describe_budget():  # a line per held device
        log(line)
    for target in job.targets:
        if d.main and (note := other_cpu(target.lut)):
            log(f"note: {note}")
    if d.world > 1:
        log(f"{d.world} processes share each generation's subnets, one {d.device.type} device each")
    devices = devices_for(job, measure, devices_file)
    try:
        if d.main:
            return run_job(job, resume, devices, log, measure_top, int8_calibration)[1]
        job.run(resume, devices)  # evaluates its shares of the same search; rank 0 holds the run directory and delivers
        return None
    except KeyboardInterrupt:
        if d.main:
            errors.print(interrupted(job.inputs.out), soft_wrap=True)
        sys.exit(130)


def interrupted(run_dir: Path) -> str:
    """What an interrupted search kept, and how to go on."""
    from orchestrator.searchjob.job import STATE_FILE

    if (run_dir / STATE_FILE).is_file():
        return f"interrupted: the search state of the last finished generation is kept in {run_dir}; continue with the same command and --resume"
    return f"interrupted before the first generation finished: no search state is kept in {run_dir}; run the same command again"


def asked_budgets(lut: str | None, latency_ms: float | None, budgets: list[str], shared: dict[str, list[str] | None]) -> Asked:
    """The budgets as typed: `--lut` with `--latency-ms` for one device, each `--budget LUT=MS` for
    another, and the other budgets (`--memory-mb 9.1`: held on every device; `--memory-mb LUT=9.1`: on
    that LUT's device alone, over a plain value there); each budget remembers the option it came
    from, so every refusal names what the user typed. Checked before anything is read."""
    from orchestrator.lut.store import resolve_lut
    from orchestrator.searchjob.targets import Asked

    if (lut is None) != (latency_ms is None):
        raise UserError("--lut and --latency-ms go together (one device's LUT and its budget); give both, or give --budget LUT=MS instead")
    if lut is None and not budgets:
        raise UserError("no budget given; give --lut LUT --latency-ms MS for one device, or --budget LUT=MS once per device")
    devices: list[tuple[Path, dict[str, tuple[float, str]]]] = []
    if lut is not None and latency_ms is not None:
        devices.append((resolve_lut(lut), {"latency": (latency_ms, "--latency-ms")}))
    for text in budgets:
        ref, value = _split(text)
        if not ref or not math.isfinite(value) or not 0 < value <= 1e6:
            raise UserError(f"--budget {text!r} is not LUT=MS with a budget above 0 ms and at most 1e6; give e.g. --budget aa5a9101=2.34")
        devices.append((resolve_lut(ref), {"latency": (value, f"--budget {ref}=MS")}))
    return Asked.of(devices, _other_budgets(devices, shared))


def _other_budgets(devices: list[tuple[Path, dict[str, tuple[float, str]]]], shared: dict[str, list[str] | None]) -> dict[str, tuple[float, str]]:
    """The budgets that are not each device's own, as typed: a plain value is returned, held on every
    device; `LUT=value` is added to that LUT's device's own budgets (`devices`), where it wins."""
    from orchestrator.searchjob.targets import device_limits
    from search.nas.constraints import get_constraint

    everywhere: dict[str, tuple[float, str]] = {}
    for name, texts in shared.items():
        c = get_constraint(name)
        for text in texts or []:
            ref, value = _split(text)
            if "=" not in text:
                if name in everywhere:
                    raise UserError(f"{c.option} is given twice as a budget held on every device; give it once, or as LUT={c.unit} for one device")
                everywhere[name] = (c.check(value, c.option), c.option)
                continue
            given_as = f"{c.option} {ref}={c.unit}"
            held = device_limits(devices, ref) if ref else None
            if held is None:
                raise UserError(
                    f"{c.option} {text!r} names {ref or 'no LUT'}, which is the LUT of no device of this search; name a LUT given with "
                    f"--lut or --budget (e.g. {c.option} {devices[0][0].stem[:8]}={c.unit}), or give a plain {c.option} {c.unit} for every device"
                )
            if name in held:
                raise UserError(f"{c.option} is given twice for LUT {ref}'s device; give it once per device")
            held[name] = (c.check(value, given_as), given_as)
    return everywhere


def _split(text: str) -> tuple[str, float]:
    """`LUT=value` (or a plain value) as its LUT reference and number (NaN where it is none)."""
    ref, _, number = text.rpartition("=")
    try:
        return ref, float(number)
    except ValueError:
        return ref, math.nan
