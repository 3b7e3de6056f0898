"""What a finished search says: result.json (the delivered model first, one section per held device)
and the lines it prints about accuracy and measurements.

On an int8 device the delivered model is the int8 program: its accuracy comes first, and the
float32 model the search ranked is named as its twin. A device that was not measured says so, with
why, in its own section (`not_measured`); it is never counted as measured within.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.shown import apart
from orchestrator.export.backends import get_backend
from orchestrator.lut.machine import other_cpu
from orchestrator.searchjob.delivery import Delivered
from orchestrator.searchjob.job import SearchJob
from orchestrator.searchjob.measured import Measured
from orchestrator.searchjob.target import Target
from search.nas import budget as budget_rules
from search.nas.budget import TOLERANCE
from search.nas.lut import interval_method
from search.nas.memory import MIB, Memory, MemoryPredictor, has_memory, no_memory
from search.nas.significance import Proportion, proportion
from search.nas.strategies import SearchState


@dataclass
class Outcome:
    """Everything the finish decided and scored, for result.json and the printed lines."""

    job: SearchJob
    state: SearchState
    chosen: Any  # finish.Scored
    candidates: list[Any]
    measured: Mapping[str, Measured]
    within: bool | None
    verdict: dict[str, Any]
    test: Proportion | None
    quantized: dict[str, dict[str, Any]]  # int8 backend -> its accuracy drop
    measure_top: int

    @property
    def primary(self) -> Measured:
        return next(iter(self.measured.values()))

    def binding(self) -> str:
        """The device whose budget the delivered model uses the largest share of: measured where timed, else predicted."""
        def share(m: Measured) -> float:
            if m.timed is not None and self.chosen.hash in m.timed.measured_ms:
                return m.ratio(self.chosen.hash)
            return m.target.pricer.latency(self.chosen.candidate.config) / m.target.budget.latency_ms
        return max(self.measured, key=lambda name: share(self.measured[name]))


def _proportion(doc: dict[str, Any]) -> Proportion:
    return Proportion(doc["correct"], doc["total"], doc["low"], doc["high"])


def log_accuracy(o: Outcome, log: Callable[[str], None]) -> None:
    """The delivered model's accuracy first: on an int8 device the int8 program's, with the float32
    twin's beside it as such (the search ranked float32 subnets)."""
    job, best, held = o.job, o.chosen.candidate, o.verdict["holdout"]
    lo, hi = job.pricer.interval(best.config)
    log(f"best: {held.text()} {job.selection_where()}, {best.predicted_ms:.2f} ms predicted ({lo:.2f}-{hi:.2f} ms, 95%), {best.params / 1e6:.3f}M params")
    if o.test is None:
        log("no test split (DATA/val/): the found model's test accuracy is unknown")
    elif not o.quantized:
        log(f"test accuracy of the found model: {o.test.text()} of the test split")
    for backend, q in o.quantized.items():
        if o.test is not None:
            devices = ", ".join(m.target.name for m in o.measured.values() if m.target.lut["device"]["backend"] == backend)
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


def _candidate_record(o: Outcome, s: Any) -> dict[str, Any]:
    c = s.candidate
    lo, hi = o.job.pricer.interval(c.config)
    record: dict[str, Any] = {
        "config_hash": s.hash, "config": c.config.to_dict(), "holdout": proportion(int(s.right.sum()), len(s.right)).to_dict(),
        "predicted_ms": c.predicted_ms, "predicted_interval_ms": [lo, hi], "params_m": c.params / 1e6,
    }
    m = o.primary
    if m.timed is not None and s.hash in m.timed.measured_ms:
        at_lut = m.timed.at_lut_speed(s.hash)
        record.update({
            "measured_ms": m.timed.measured_ms[s.hash], "measured_ms_at_lut_speed": at_lut, "budget_ratio": m.ratio(s.hash),
            "within_budget": m.within(s.hash), "needs_budget_ms": at_lut / (1 + TOLERANCE),
        })
    if len(o.measured) > 1:
        record["devices"] = {name: _device_figures(o, d, s) for name, d in o.measured.items()}
    return record


def _device_figures(o: Outcome, m: Measured, s: Any) -> dict[str, Any]:
    """One candidate on one device: predicted with its calibrated interval, measured where timed."""
    config = s.candidate.config
    lo, hi = m.target.pricer.interval(config)
    timed = m.timed is not None and s.hash in m.timed.measured_ms
    return {
        "predicted_ms": m.target.pricer.latency(config), "predicted_interval_ms": [lo, hi],
        "measured_ms": m.timed.measured_ms[s.hash] if timed else None,
        "measured_ms_at_lut_speed": m.timed.at_lut_speed(s.hash) if timed else None,
        "budget_ratio": m.ratio(s.hash) if timed else None,
        "within_budget": m.within(s.hash) if timed else None,
    }


def _memory(o: Outcome, m: Measured) -> dict[str, Any]:
    """The delivered model's memory on one device: predicted where its LUT records memory, measured
    where its runner measured it, against the memory budget where the search had one (+5%, as latency)."""
    lut, budget_mib = m.target.lut, m.target.budget.memory_mib
    predicted = None
    if has_memory(lut):
        memory = m.target.pricer.memory or MemoryPredictor(lut, o.job.base_space)
        point = memory.predict(o.chosen.candidate.config)
        predicted = {**point.to_dict(), "peak_interval_mib": [v / MIB for v in memory.interval(point.peak_bytes)]}
    measured = m.timed.memory.get(o.chosen.hash) if m.timed is not None else None
    shown = {**Memory.of(measured).to_dict(), "method": measured["method"]} if measured else None
    return {
        "budget_mib": budget_mib, "predicted": predicted, "measured": shown,
        "within_budget": budget_rules.measures_within(shown["peak_mib"], budget_mib) if shown and budget_mib is not None else None,
        "not_predicted": None if predicted else no_memory(lut),
    }


def _device_section(o: Outcome, m: Measured, files: Delivered) -> dict[str, Any]:
    """result.json's section for one held device: its LUT, budget, program, and the delivered model on it."""
    t: Target = m.target
    backend = get_backend(t.lut["device"]["backend"])
    program = files.artifacts.get(backend.name)
    timed = m.timed.record(o.chosen.hash) if m.timed is not None and o.chosen.hash in m.timed.measured_ms else None
    return {
        "lut": t.lut["id"], "backend": backend.name, "precision": backend.precision, "format": backend.format,
        "file": str(o.job.inputs.out / program.name) if program else None,
        "budget": t.budget.to_dict(),
        **_device_figures(o, m, o.chosen),
        "measurement": timed,
        "not_measured": m.not_measured,
        "judged_by": "measured" if timed else "prediction alone",
        "quantization": o.quantized.get(backend.name),
        "memory": _memory(o, m),
    }


def result_document(o: Outcome, files: Delivered) -> dict[str, Any]:
    """result.json: what was delivered (the primary device's program first), how it was chosen and
    measured, and one section per held device. Paths are where the files lie once the staged
    delivery is swapped in."""
    job, chosen, budget, m = o.job, o.chosen, o.job.budget, o.primary
    best, held = chosen.candidate, o.verdict["holdout"]
    out = job.inputs.out
    lo, hi = job.pricer.interval(best.config)
    measured = m.timed.record(chosen.hash) if m.timed is not None and chosen.hash in m.timed.measured_ms else None
    required = get_backend(job.lut["device"]["backend"])
    q = o.quantized.get(required.name)

    def final(path: Path | None) -> str | None:
        return str(out / path.name) if path else None

    program = files.artifacts[required.name]
    devices = {name: _device_section(o, d, files) for name, d in o.measured.items()}
    return {
        "delivered": {
            "file": final(program), "backend": required.name, "precision": required.precision, "device": job.lut["device"]["name"],
            "holdout": q["holdout"]["int8"] if q else held.to_dict(),
            "test": (q["test"] or {}).get("int8") if q else (o.test.to_dict() if o.test else None),
            "float32_twin": {"checkpoint": final(files.checkpoint), "pte": final(files.artifacts.get("pte"))} if q else None,
        },
        "config": best.config.to_dict(),
        "config_hash": best.config.hash,
        "accuracy": best.accuracy,
        "holdout": held.to_dict(),
        "selection": job.selection_name(),
        "test_accuracy": o.test.value if o.test else None,
        "test": o.test.to_dict() if o.test else None,
        "runner_up": o.verdict["runner_up"],
        "warnings": o.verdict["warnings"],
        "predicted_ms": best.predicted_ms,
        "predicted_interval_ms": [lo, hi],
        "predicted_interval_method": (
            f"calibrated on the {budget.calibration.source}" if budget.calibration else f"raw, from the LUT's entries: {interval_method(job.lut)}"
        ),
        "measured_ms": measured["measured_ms"] if measured else None,
        "measured_ms_at_lut_speed": measured["measured_ms_at_lut_speed"] if measured else None,
        "budget_ratio": m.ratio(chosen.hash) if measured else None,
        "within_budget": o.within,
        "memory": next(iter(devices.values()))["memory"],  # the primary device's
        "measure_top": o.measure_top,
        "chosen_rank": o.candidates.index(chosen),
        "candidates": [_candidate_record(o, s) for s in o.candidates],
        "params_m": best.params / 1e6,
        "budget": budget.to_dict(),
        "lut": job.lut["id"],
        "device": job.lut["device"]["name"],
        "devices": devices,
        "binding_device": o.binding(),
        "strategy": job.settings.strategy,
        "evaluations": len(o.state.evaluated),
        "generations": o.state.generation,
        "search_seconds": o.state.seconds,
        "coarse": o.state.coarse,
        "measurement": measured,
        "quantization": {**q, "scheme": files.facts.get(required.name, {}).get("quantization", required.scheme)} if q else None,
        "not_measured": m.not_measured,
        "files": {
            "model": final(program), "config": str(out / "best.json"), "checkpoint": final(files.checkpoint), "pte": final(files.artifacts.get("pte")),
            "pte_partitions": files.facts.get("pte", {}).get("partitions"),
            "mlpackage": final(files.artifacts.get("coreml")), "mlpackage_error": files.errors.get("coreml"), "pareto_plot": str(out / "pareto.png"),
            "state": str(out / "search_state.json"),
            "artifacts": {name: final(path) for name, path in files.artifacts.items()},  # by backend, every held device's own among them
        },
    }


def log_measured(o: Outcome, result: dict[str, Any], log: Callable[[str], None]) -> None:
    """Per timed device, the delivered model as measured against its interval and budget; per
    device not measured, that it was judged by its prediction alone."""
    for name, m in o.measured.items():
        if m.timed is not None and o.chosen.hash in m.timed.measured_ms:
            _log_timed(o, m, log)
        elif len(o.measured) > 1:
            why = m.not_measured if (m.not_measured or "").startswith("not measured") else f"not measured ({m.not_measured})"
            log(f"{name}: {why}; judged by its prediction alone, {m.target.pricer.latency(o.chosen.candidate.config):.3g} ms against its {m.target.budget.latency_ms:g} ms budget")
    for name, section in result["devices"].items():
        if (line := _memory_line(section["memory"])) is not None:
            log(f"memory on {name}: {line}" if len(o.measured) > 1 else f"memory: {line}")
    if len(o.measured) > 1:
        log(f"the device that binds the delivered model: {result['binding_device']}")
        programs = "; ".join(f"{name}: {Path(d['file']).name}" for name, d in result["devices"].items() if d["file"])
        log(f"one model, a program per device: {programs}")


def _memory_line(memory: dict[str, Any]) -> str | None:
    """The delivered model's memory in words, or None where there is nothing to say (no prediction, no measurement)."""
    predicted, measured, budget = memory["predicted"], memory["measured"], memory["budget_mib"]
    if predicted is None and measured is None:
        return None
    parts = [f"peak {measured['peak_mib']:.2f} MiB measured (load {measured['load_mib']:.2f})" if measured else "not measured by this device's runner"]
    if predicted:
        parts.append(f"{predicted['peak_mib']:.2f} MiB predicted")
    if budget is not None:
        standing = "within" if memory["within_budget"] else "OVER" if memory["within_budget"] is False else "judged by its prediction against"
        parts.append(f"{standing} the {budget:g} MiB budget" + (f" (+{TOLERANCE:.0%})" if memory["within_budget"] is not None else ""))
    return ", ".join(parts)


def _log_timed(o: Outcome, m: Measured, log: Callable[[str], None]) -> None:
    timed, budget, lut, h = m.timed, m.target.budget, m.target.lut, o.chosen.hash
    assert timed is not None
    speed, interval = timed.session_speed, m.target.pricer.interval(o.chosen.candidate.config)
    ms, at_lut = timed.measured_ms[h], timed.at_lut_speed(h)
    judged, low, high = apart(at_lut, *interval)  # the figure the verdicts are about, with the digits that show them
    shown = f" ({judged} ms at the LUT's speed: the anchor network ran at x{speed:.3f} its LUT latency)" if speed else ""
    ratio = apart(m.ratio(h), 1 + TOLERANCE)[0]
    standing = f"{ratio}x, {'within' if m.within(h) else 'OVER'}"
    inside = "inside" if interval[0] <= at_lut <= interval[1] else "outside"
    foreign = other_cpu(lut)
    here = f" (on this machine's CPU the budget is {budget.latency_ms * speed:.3g} ms and the model {ms:.3g} ms)" if foreign and speed else ""
    log(
        f"measured on {timed.device}: {judged if not speed else f'{ms:.2f}'} ms{shown}, {inside} the predicted interval {low}-{high} ms: "
        f"{standing} the {budget.latency_ms:g} ms budget (+{TOLERANCE:.0%}){here}"
    )
    if foreign:
        log(f"note: {foreign}")
    elif speed and speed > 1 + TOLERANCE:
        log(
            f"warning: the device ran {speed - 1:.0%} slower in this session than when LUT {lut['id']} was measured "
            "(timed on the LUT's anchor network); close other work on it, or re-profile it if it stays slow"
        )
