"""What a finished search prints: the delivered model's accuracy (on an int8 device the int8
program's first, its float32 twin named as such), and per device, per constraint held there, the
model measured against its interval and budget, or that it was judged by its prediction alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.export.backends import BACKENDS, get_backend
from orchestrator.lut.machine import other_cpu
from orchestrator.searchjob.measured import Measured
from orchestrator.searchjob.result import Outcome, over_budget
from search.nas.constraints import CONSTRAINTS, TOLERANCE
from search.nas.significance import Proportion


def _proportion(doc: dict[str, Any]) -> Proportion:
    return Proportion(doc["correct"], doc["total"], doc["low"], doc["high"])


def log_accuracy(o: Outcome, log: Callable[[str], None]) -> None:
    """The delivered model's accuracy first: on an int8 device the int8 program's, with the float32
    twin's beside it as such (the search ranked float32 subnets); its predictions of the budgets
    that rank name their device."""
    job, best, held = o.job, o.chosen.candidate, o.verdict["holdout"]
    predicted = "; ".join(
        CONSTRAINTS[c].predicted_figure(m.target.held.point(c, best.config), m.target.held.interval(c, best.config), name)
        for name, m in o.measured.items() for c in _ranking(m)
    )
    log(f"best: {held.text()} {job.scorer.selection_where()}, {predicted}, {best.params / 1e6:.3f}M params")
    if o.test is None:
        log("no test split (DATA/val/): the found model's test accuracy is unknown")
    elif not o.quantized:
        log(f"test accuracy of the found model: {o.test.text()} of the test split")
    for backend, q in o.quantized.items():
        if o.test is not None:
            devices = ", ".join(m.target.name for m in o.measured.values() if m.target.lut.device.backend == backend)
            log(
                f"test accuracy of the found model, the int8 program {get_backend(backend).delivered_as} that {devices} runs: "
                f"{_proportion(q['test']['int8']).text()} of the test split; its float32 twin (best.pt, best.pte): {o.test.text()}"
            )
        for name, drop in (("held-out", q["holdout"]), ("test", q["test"])):
            if drop is not None:
                log(
                    f"int8 ({backend}, calibrated on {q['calibration_images']} training images), {name}: {drop['int8']['value']:.1%} against "
                    f"{drop['float32']['value']:.1%} in float32, a drop of {drop['drop_points']:.1f} points (McNemar p {drop['mcnemar_p']:.2g})"
                )
    for warning in o.verdict["warnings"]:
        log(f"warning: {warning}")


def log_measured(o: Outcome, result: dict[str, Any], log: Callable[[str], None]) -> None:
    """Per device, each constraint held there: the delivered model measured against its interval
    and budget, or, on a device not measured, that it was judged by its prediction alone."""
    config = o.chosen.candidate.config
    for name, m in o.measured.items():
        observed = o.observed(m, o.chosen.hash)
        reason = m.not_measured or ""
        why = reason if reason.startswith("not measured") else f"not measured ({reason})" if reason else "not measured"
        if observed is None and len(o.measured) > 1:
            judged = ", ".join(
                f"{m.target.held.point(c, config):.{limit.constraint.digits}g} {limit.constraint.unit} against its {limit.shown()} {limit.constraint.noun} budget"
                for c, limit in m.target.held.limits.items()
            )
            log(f"{name}: {why}; judged by its predictions alone, {judged}")
        for constraint, price in m.target.held.prices.items():
            limit = m.target.held.limits.get(constraint)
            line = CONSTRAINTS[constraint].finish_line(name, price.point(config), price.interval(config), observed, limit, why)
            if line is not None:
                log(line + (_elsewhere(m, observed, constraint) if observed is not None else ""))
        if observed is not None:
            _session_notes(m, observed.speed, log)
    if len(o.measured) > 1:
        device, constraint = result["binding"]["device"], result["binding"]["constraint"]
        log(f"the device that binds the delivered model: {device} ({CONSTRAINTS[constraint].noun})")
    log(f"one model, a program per device: {programs(result)}")
    for warning in result["warnings"][len(o.verdict["warnings"]):]:  # those of the delivery (the accuracy's are said above)
        if warning != over_budget(result):  # said last, by the door, with its exit status
            log(f"warning: {warning}")


def programs(result: dict[str, Any]) -> str:
    """Which program is whose: each held device's, and those delivered for devices not held here
    (`best.mlpackage`, for an iPhone, which no device here runs)."""
    held = [f"{name}: {Path(d['file']).name}" for name, d in result["devices"].items() if d["file"]]
    files = {Path(d["file"]).name for d in result["devices"].values() if d["file"]}
    sizes = result["files"].get("program_bytes", {})
    extra = [
        f"{Path(path).name} (for {b.runs_on}{f', {sizes[b.name] / 2**20:.3g} MiB' if b.name in sizes else ''}: no device of this search runs it, so it "
        f"is not timed here; deploy-{b.name}.json says how to feed it)"
        for b in BACKENDS.values() if b.delivered_always and (path := result["files"]["programs"].get(b.name)) and Path(path).name not in files
    ]
    return "; ".join(held + extra)


def _ranking(m: Measured) -> list[str]:
    """The budgets a device's line of the best subnet names: those that rank subnets (the others
    have their own lines at the finish), or the first held where none ranks."""
    held = list(m.target.held.limits)
    return [c for c in held if CONSTRAINTS[c].ranks] or held[:1]


def _elsewhere(m: Measured, observed: Any, constraint: str) -> str:
    """For a host LUT of another CPU: a budget the anchor's speed scales (latency's), and the model,
    in this machine's milliseconds."""
    limit = m.target.held.limits.get(constraint)
    if limit is None or not limit.constraint.at_lut_speed or not observed.speed or not other_cpu(m.target.lut):
        return ""
    return f" (on this machine's CPU the budget is {limit.value * observed.speed:.3g} ms and the model {observed.median_ms:.3g} ms)"


def _session_notes(m: Measured, speed: float | None, log: Callable[[str], None]) -> None:
    lut = m.target.lut
    if foreign := other_cpu(lut):
        log(f"note: {foreign}")
    elif speed and speed > 1 + TOLERANCE:
        log(
            f"warning: the device ran {speed - 1:.0%} slower in this session than when LUT {lut.id} was measured "
            "(timed on the LUT's anchor network); close other work on it, or re-profile it if it stays slow"
        )
