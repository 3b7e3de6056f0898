"""`bench search` from Python: the same job (`orchestrator.searchjob.run`), its budgets taken as
arguments and named as such in every refusal."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.files import write_json_atomic
from search.api import Found, FoundModel, Predictor, SearchSettings, Supernet, load_found, on_stderr, settings_field, shared_limits
from search.nas.constraints import get_constraint, shared_constraints
from search.nas.lut import validate_lut

LutRef = Mapping[str, Any] | str | os.PathLike[str]


def search(
    supernet: Supernet,
    lut: LutRef | None = None,
    latency_ms: float | None = None,
    params_m: float | None = None,
    settings: SearchSettings | None = None,
    data: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] = on_stderr,
    *,
    budgets: Sequence[tuple[LutRef, float]] = (),
    measure: bool = False,
    out: str | os.PathLike[str] | None = None,
    devices_file: str | os.PathLike[str] | None = None,
    measure_top: int = 5,
    int8_calibration: int = 64,
    **limits: float | Mapping[str, float] | None,
) -> Found | FoundModel:
    """`bench search` from Python, the same job: the subnets of a trained supernet priced with `lut`
    (a LUT document, id or path, of the supernet's space and resolution) within `latency_ms`, and
    with each of `budgets` ((LUT, budget ms) pairs: one model held to a budget on every device at
    once), each latency budget's intervals calibrated on its LUT's latest validation as `bench
    search` calibrates them; scored on `data` (default: the supernet's own) within `params_m`
    million parameters and every budget of `limits` (one keyword per registered constraint:
    `memory_mb`, MiB of peak memory, whose LUTs must record memory; `size_mb`, MiB of program, ...),
    each a number held on every device or a mapping of LUT id or path to the budget of that LUT's
    device alone (`size_mb={"1ab8c104": 0.45}`: a phone's RAM and app size are its own). Returns `Found` (the most accurate within every budget and
    every subnet evaluated); with `measure`, the measured finish runs on every device that can be
    reached and delivers the model into `out` in each device's form, and what `load_found(out)`
    returns comes back. `out`: the run folder (default without `measure`: a temporary one, removed).
    `log` is given what `bench search` prints, a line at a time: the budgets, each generation's best
    and, within one, the subnets evaluated and the time left every 30 s, the finish (by default on
    stderr; `log=lambda message: None` is silent)."""
    from orchestrator.searchjob.run import Asked, devices_for, open_job, run_job  # here: importing the API stays light

    if not isinstance(supernet, Supernet):
        raise UserError(f"supernet must be a Supernet (Supernet.load(checkpoint)), not {type(supernet).__name__}")
    if not callable(log):
        raise UserError(f"log must be a function of one string (print, or lambda message: None), not {type(log).__name__}")
    settings = settings or SearchSettings()
    if not isinstance(settings, SearchSettings):
        raise UserError(f"settings must be a SearchSettings or None, not {type(settings).__name__}")
    settings.check(option=settings_field)
    given = {**limits, "params_m": params_m}
    shared = shared_limits({k: v for k, v in given.items() if not isinstance(v, Mapping)})
    if measure and out is None:
        raise UserError("search(measure=True) delivers the model into a run folder: pass out= a folder (e.g. out='runs/search-api')")
    with tempfile.TemporaryDirectory(prefix="bench-search-") as scratch:
        folder = Path(out) if out is not None else Path(scratch) / "run"
        devices = _devices(lut, latency_ms, budgets, folder, supernet)
        _per_device({k: v for k, v in given.items() if isinstance(v, Mapping)}, devices)
        asked = Asked.of(devices, shared)
        supernet.evaluator(data, supernet.resolution)  # a wrong data set is refused before the search starts, naming `data`
        job = open_job(supernet.path, asked, folder, settings, Path(data) if data is not None else None, log=log, option=settings_field)
        for line in job.describe_budget():
            log(line)
        devices = devices_for(job, measure, Path(devices_file) if devices_file is not None else None)
        state, _ = run_job(job, resume=False, devices=devices, log=log, measure_top=measure_top, int8_calibration=int8_calibration, finish=measure)
        if measure:
            return load_found(folder)
        return Found.of(state, job.pricer)


def _per_device(given: Mapping[str, Mapping[Any, Any]], devices: list[tuple[Path, dict[str, tuple[float, str]]]]) -> None:
    """Budgets given per device (`memory_mb={"1ab8c104": 9.1}`: that LUT's device alone, over a plain
    value there) added to those devices' own budgets; a LUT that is no device of the search is refused."""
    from orchestrator.searchjob.targets import device_limits

    shared_limits(dict.fromkeys(given))  # an argument that is no budget is refused as a plain one is
    known = {c.argument: c for c in shared_constraints()}
    for argument, by_lut in given.items():
        c = known[argument]
        for ref, value in by_lut.items():
            if not isinstance(ref, (str, os.PathLike)):
                raise UserError(f"{argument} takes a budget, or a budget per LUT id or path ({argument}={{'1ab8c104': ...}}), not a key {ref!r}")
            held = device_limits(devices, str(ref))
            if held is None:
                raise UserError(f"{argument} names LUT {ref}, which is the LUT of no device of this search; name a LUT given as lut= or in budgets=")
            held[c.name] = (c.check(value, f"{argument}[{ref!r}]"), f"{argument}[{ref!r}]")


def _devices(lut: LutRef | None, latency_ms: float | None, budgets: Sequence[tuple[LutRef, float]], folder: Path, supernet: Supernet) -> list[tuple[Path, dict[str, tuple[float, str]]]]:
    """Every (LUT path, {latency: (budget, how it was given)}): `lut` with `latency_ms` first where
    given, then `budgets`, each LUT refused in the API's words where it is not of the supernet's
    space and resolution. A LUT document is written into the run folder's `luts/` (it has no
    validation there, so its intervals are its entries' own)."""
    if (lut is None) != (latency_ms is None):
        raise UserError("lut and latency_ms go together (one device's LUT and its budget); give both, or budgets=[(lut, ms), ...]")
    if not isinstance(budgets, Sequence) or isinstance(budgets, (str, bytes)) or not all(isinstance(b, tuple) and len(b) == 2 for b in budgets):
        raise UserError(f"budgets must be a list of (LUT, budget ms) pairs, not {budgets!r:.80}")
    pairs = ([(lut, latency_ms, "latency_ms")] if lut is not None else []) + [(ref, ms, f"budgets[{i}]") for i, (ref, ms) in enumerate(budgets)]
    if not pairs:
        raise UserError("no budget given; pass lut= and latency_ms=, or budgets=[(lut, ms), ...]")
    from orchestrator.lut.store import resolve_lut

    latency = get_constraint("latency")
    devices = []
    for ref, ms, given_as in pairs:
        latency.check(ms, given_as)
        if isinstance(ref, Mapping):
            doc = validate_lut(dict(ref))
            path = folder / "luts" / f"{doc['id']}.json"
            write_json_atomic(path, doc)
        elif isinstance(ref, (str, os.PathLike)):
            path = resolve_lut(str(ref))
        else:
            raise UserError(f"a LUT must be a LUT document, an id or a path, not {type(ref).__name__}")
        predictor = Predictor(path, supernet.space, supernet.num_classes)
        if predictor.resolution != supernet.resolution:
            raise UserError(
                f"LUT {predictor.lut['id']} was measured at {predictor.resolution} px, but the supernet {supernet.path} was trained at "
                f"{supernet.resolution} px; pass a LUT of {supernet.resolution} px, or a supernet trained at {predictor.resolution} px"
            )
        devices.append((path, {"latency": (ms, given_as)}))
    return devices
