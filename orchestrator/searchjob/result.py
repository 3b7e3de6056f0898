"""result.json of a finished search (version 2): the model (the float32 subnet the search ranked,
`best.pt`), what was delivered to each device (its program, with that program's own accuracy: an
int8 device's is the int8 program's), and per device, per registered constraint held there, the
budget, the prediction with its interval and the measurement. Nothing at the top level is one
device's: a figure says whose it is. Version 1 documents (a primary device's figures at the top)
stay readable (`search.supernet.found.load_found`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.export.backends import get_backend
from orchestrator.searchjob.delivery import Delivered
from orchestrator.searchjob.job import SearchJob
from orchestrator.searchjob.measured import Measured
from search.nas import budget as budget_rules
from search.nas.constraints import CONSTRAINTS, TOLERANCE, Observed
from search.nas.constraints.size import program_bytes
from search.nas.memory import MIB
from search.nas.significance import Proportion, proportion
from search.nas.strategies import SearchState
from search.supernet.found import RESULT_SCHEMA, RESULT_VERSION


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

    def observed(self, m: Measured, model: str) -> Observed | None:
        return m.timed.observed(model) if m.timed_model(model) else None

    def binding(self) -> tuple[str, str]:
        """The device and constraint whose budget the delivered model uses the largest share of:
        measured where measured, else predicted."""
        def shares(m: Measured) -> dict[str, float]:
            config, figures = self.chosen.candidate.config, m.figures(self.chosen.hash) if m.timed_model(self.chosen.hash) else {}
            return {
                name: figures.get(name, m.target.held.point(name, config)) / limit.value for name, limit in m.target.held.limits.items()
            }

        name, constraint, _ = max(((n, c, v) for n, m in self.measured.items() for c, v in shares(m).items()), key=lambda t: t[2])
        return name, constraint


def over_budget(result: Mapping[str, Any]) -> str | None:
    """A delivery that measured over a budget, from its result.json document, in one sentence naming
    each figure over it (None where it measured within, or was measured nowhere): a script reading
    result.json, or the exit status of `bench search`, must not take it for a model that fits."""
    if result.get("within_budget") is not False:  # a version 1 result, or none, says nothing of it
        return None
    overs = [
        f"{CONSTRAINTS[name].noun} on {device} {figure['measured']:.{CONSTRAINTS[name].digits}g} {figure['unit']}, "
        f"{figure['ratio']:.2f}x its {figure['budget']:g} {figure['unit']} budget"
        for device, section in result["devices"].items() for name, figure in section["constraints"].items() if figure.get("within") is False
    ]
    return (
        f"the delivered model {result['config_hash']} measured over its budget (+{TOLERANCE:.0%} allowed): {'; '.join(overs)}; none of the "
        f"{len(result['candidates'])} candidates timed measured within, so the closest is delivered, marked over (within_budget: false)"
    )


def constraint_figures(o: Outcome, m: Measured, s: Any) -> dict[str, dict[str, Any]]:
    """One candidate on one device, per constraint held there (latency always): the budget, the
    prediction with its interval, the measurement (where this device measures it) and the verdict."""
    config, held = s.candidate.config, m.target.held
    observed = o.observed(m, s.hash)
    out = {}
    for name in CONSTRAINTS:
        if name not in held.prices:
            continue
        c, limit = CONSTRAINTS[name], held.limits.get(name)
        lo, hi = held.interval(name, config)
        measured = c.of(observed) if observed is not None else None
        out[name] = {
            "unit": c.unit, "budget": limit.value if limit else None, "given_as": limit.given_as if limit else None,
            "predicted": held.point(name, config), "interval": [lo, hi], **held.prices[name].details(config),
            "measured": measured, "ratio": measured / limit.value if measured is not None and limit else None,
            "within": budget_rules.measures_within(measured, limit.value, c.tolerance) if measured is not None and limit else None,
            **(held.prices[name].record(limit) if limit else {}),
        }
    for name, why in held.unpriced.items():
        out[name] = {"unit": CONSTRAINTS[name].unit, "budget": None, "not_predicted": why}
    return out


def _candidate_record(o: Outcome, s: Any) -> dict[str, Any]:
    return {
        "config_hash": s.hash, "config": s.candidate.config.to_dict(), "holdout": proportion(int(s.right.sum()), len(s.right)).to_dict(),
        "params_m": s.candidate.params / 1e6,
        "devices": {name: {"within_budget": m.within(s.hash) if m.timed_model(s.hash) else None, "constraints": constraint_figures(o, m, s)}
                    for name, m in o.measured.items()},
    }


def _delivered(o: Outcome, m: Measured, files: Delivered) -> dict[str, Any]:
    """The program delivered for one device, with its own accuracy (the int8 program's on an int8 device)."""
    backend = get_backend(m.target.lut.device.backend)
    program, q = files.artifacts.get(backend.name), o.quantized.get(backend.name)
    held = o.verdict["holdout"]
    return {
        "file": str(o.job.inputs.out / program.name) if program else None, "backend": backend.name, "precision": backend.precision,
        "format": backend.format,
        "holdout": q["holdout"]["int8"] if q else held.to_dict(),
        "test": ((q["test"] or {}).get("int8") if q else (o.test.to_dict() if o.test else None)),
        "quantization": {**q, "scheme": files.facts.get(backend.name, {}).get("quantization", backend.scheme)} if q else None,
    }


def _device_section(o: Outcome, m: Measured, files: Delivered) -> dict[str, Any]:
    """result.json's section for one held device: its LUT, its program, and the delivered model's
    figures on it per constraint."""
    h = o.chosen.hash
    timed = m.timed.record(h) if m.timed_model(h) else None
    return {
        "lut": m.target.lut.id,
        **_delivered(o, m, files),
        "constraints": constraint_figures(o, m, o.chosen),
        "within_budget": m.within(h) if timed else None,
        "measurement": timed,
        "judged_by": "measured" if timed else "prediction alone",
        "not_measured": m.not_measured,
    }


def result_document(o: Outcome, files: Delivered) -> dict[str, Any]:
    """result.json: the model, each device's program and figures, how the model was chosen.
    Paths are where the files lie once the staged delivery is swapped in."""
    job, chosen = o.job, o.chosen
    best, held = chosen.candidate, o.verdict["holdout"]
    out = job.inputs.out

    def final(path: Path | None) -> str | None:
        return str(out / path.name) if path else None

    device, constraint = o.binding()
    doc = {
        "schema": RESULT_SCHEMA,
        "version": RESULT_VERSION,
        "config": best.config.to_dict(),
        "config_hash": best.config.hash,
        "params_m": best.params / 1e6,
        "model": {  # the float32 subnet the search ranked and scored (best.pt): every device's program is made from it
            "checkpoint": final(files.checkpoint), "precision": "float32", "accuracy": best.accuracy, "holdout": held.to_dict(),
            "selection": job.scorer.selection_name(), "test": o.test.to_dict() if o.test else None,
        },
        "devices": {name: _device_section(o, m, files) for name, m in o.measured.items()},
        "within_budget": o.within,
        "binding": {"device": device, "constraint": constraint},
        "runner_up": o.verdict["runner_up"],
        "warnings": o.verdict["warnings"],
        "measure_top": o.measure_top,
        "chosen_rank": o.candidates.index(chosen),
        "candidates": [_candidate_record(o, s) for s in o.candidates],
        "strategy": job.settings.strategy,
        "evaluations": len(o.state.evaluated),
        "generations": o.state.generation,
        "search_seconds": o.state.seconds,
        "coarse": o.state.coarse,
        "files": {
            "config": str(out / "best.json"), "checkpoint": final(files.checkpoint), "pareto_plot": str(out / "pareto.png"),
            "state": str(out / "search_state.json"),
            "programs": {name: final(path) for name, path in files.artifacts.items()},  # by backend: every held device's own, and those always delivered
            "not_exported": files.errors,
            "pte_partitions": files.facts.get("pte", {}).get("partitions"),
            "program_bytes": {name: program_bytes(path) for name, path in files.artifacts.items()},  # as delivered: held devices' or not
        },
    }
    doc["warnings"] = [*doc["warnings"], *unheld_over_size(o, files)]
    if (over := over_budget(doc)) is not None:
        doc["warnings"] = [*doc["warnings"], over]
    return doc


def unheld_over_size(o: Outcome, files: Delivered) -> list[str]:
    """A program delivered for devices the search held none of (the Core ML package where no iPhone
    was held) that is over the size budget held on every device: no LUT of its device priced it, so
    nothing held it to the budget, and it is said rather than passed over."""
    size = next((lim for lim in o.job.inputs.asked.shared if lim.constraint.name == "size"), None)
    if size is None:
        return []
    held = {m.target.lut.device.backend for m in o.measured.values()}
    over = []
    for name, path in files.artifacts.items():
        if name not in held and (mib := program_bytes(path) / MIB) > size.value * (1 + size.constraint.tolerance):
            over.append(
                f"{path.name} (for {get_backend(name).runs_on}, which the search held none of) is {mib:.3g} MiB, over the {size.value:g} MiB "
                f"{size.given_as} budget, which no LUT of such a device could hold it to; to search within it, hold one of them (--budget LUT=MS with its LUT)"
            )
    return over
