"""The end of `bench search`: the measured finish, delivery and result.json.

A LUT prices a subnet; only the device says what it costs. A search that keeps what the LUT calls
cheap is drawn to the subnets the LUT under-predicts most, so its single most accurate subnet is
the one most likely to measure over the budget (on a 64 px LUT whose validation was 21% low, the
three found models measured 1.10-1.66x their budgets). So the finish takes the `measure_top` most
accurate subnets the search evaluated, scores them again on the selection images, exports them and
times them on the LUT's device in one session beside the LUT's anchor network (one request on a
phone), and delivers the most accurate one that measures within the budget (+5%) at the LUT's
speed. When none does, none is delivered as within: the one that came closest is delivered
marked over, and the budget each would need is said. Where the device cannot be reached, the most
accurate is delivered, not measured, and the output says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infra.errors import UserError
from infra.files import write_json_atomic
from infra.quiet import output_into
from orchestrator.export.backends import Backend, get_backend
from orchestrator.lut.machine import other_cpu
from orchestrator.measure.devices import Device
from orchestrator.searchjob import INT8_CALIBRATION, MEASURE_TOP
from orchestrator.searchjob.delivery import Timed, deliver, export_model, time_models
from orchestrator.searchjob.int8 import accuracy_drop, calibration_images, quantized_model, right_per_image
from orchestrator.searchjob.job import SearchJob
from orchestrator.searchjob.pareto import plot_pareto
from search.nas.budget import TOLERANCE
from search.nas.lut import interval_method
from search.nas.significance import Proportion, mcnemar_p, proportion, warnings_for
from search.nas.strategies import Candidate, SearchState
from search.supernet.static import StaticSubnet


@dataclass
class Scored:
    """A candidate scored again before the finish chooses: its recalibrated model and, per selection
    image, whether it is right."""

    candidate: Candidate
    static: StaticSubnet
    right: torch.Tensor

    @property
    def hash(self) -> str:
        return self.candidate.config.hash


def top_candidates(job: SearchJob, state: SearchState, count: int, log: Callable[[str], None]) -> list[Scored]:
    """The `count` most accurate subnets the search evaluated, each scored again on the selection
    images, most accurate first. A resumed search's accuracies come from a file anyone can edit, so
    a candidate that does not score what its state says takes its score and the candidates are
    ranked again, until the top `count` all score what they are ranked by."""
    scored: dict[str, Scored] = {}
    while True:
        top = state.ranked()[:count]
        todo = [c for c in top if c.config.hash not in scored]
        if not todo:
            return [scored[c.config.hash] for c in top]
        for c in todo:
            static = job.recalibrated(c.config)
            right = job.holdout_correct(static)
            accuracy = int(right.sum()) / len(right)
            # The same count of images right (a state of earlier versions saved float32 fractions).
            if abs(accuracy - c.accuracy) >= 0.5 / len(right):
                log(f"subnet {c.config.hash} scores {accuracy:.2%} {job.selection_where()}, not the {c.accuracy:.2%} its search state says: ranked by its score")
            c.accuracy = accuracy
            scored[c.config.hash] = Scored(c, static, right)


def judge(job: SearchJob, chosen: Scored, others: list[Scored]) -> dict[str, Any]:
    """The delivered subnet's selection accuracy as a count with its interval, the most accurate
    other candidate compared on the same images (McNemar), and the warnings they call for."""
    held = proportion(int(chosen.right.sum()), len(chosen.right))
    runner = runner_p = runner_held = None
    if others:
        runner = others[0]
        runner_held = proportion(int(runner.right.sum()), len(runner.right))
        runner_p = mcnemar_p(chosen.right.numpy(), runner.right.numpy())
    return {
        "holdout": held,
        "runner_up": None if runner is None else {
            "config_hash": runner.hash, "holdout": runner_held.to_dict(), "predicted_ms": runner.candidate.predicted_ms, "mcnemar_p": runner_p,
        },
        "warnings": warnings_for(held, len(job.ckpt["classes"]), runner_p, runner_held),
    }


@dataclass
class Finish:
    """What the measured finish decided: the candidate delivered, every candidate timed (empty where
    none was), the export of each in the device's format, and why nothing was timed."""

    chosen: Scored
    timed: Timed | None
    exported: dict[str, tuple[Path, dict[str, Any]]]
    not_measured: str | None
    within: bool | None


def _device(device: Callable[[], Device] | None, log: Callable[[str], None]) -> tuple[Device | None, str | None]:
    if device is None:
        return None, "not measured (--no-measure)"
    try:
        return device(), None
    except UserError as exc:
        log(f"not measured: {exc}")
        return None, str(exc)


def _within(job: SearchJob, timed: Timed, model: str) -> bool:
    return timed.at_lut_speed(model) <= job.budget.latency_ms * (1 + TOLERANCE)


def measured_finish(
    job: SearchJob, candidates: list[Scored], device: Callable[[], Device] | None, log: Callable[[str], None], calibration: list[torch.Tensor] | None = None,
) -> Finish:
    """Time `candidates` (most accurate first) on the LUT's device in one session and choose;
    `calibration`: the images an int8 device's exports are calibrated on."""
    d, not_measured = _device(device, log)
    if d is None:
        return Finish(candidates[0], None, {}, not_measured, None)
    backend = get_backend(d.backend)
    folder = job.inputs.out / "candidates"
    folder.mkdir(parents=True, exist_ok=True)
    log(f"exporting the {len(candidates)} most accurate candidates to time them on {d.name}" if len(candidates) > 1 else "exporting the found model")
    exported = {}
    with output_into(job.inputs.out / "delivery.log"):  # the converters' warnings and progress bars: for a bug report, not the terminal
        for s in candidates:
            path = folder / f"{s.hash}{backend.suffix}"
            exported[s.hash] = (path, export_model(s.static, backend, path, calibration))
    try:
        timed = time_models({h: path for h, (path, _) in exported.items()}, job.lut["resolution"], job.lut, job.base_space, d, job.inputs.out / "measure")
    except UserError as exc:
        log(f"not measured: {exc}")
        return Finish(candidates[0], None, exported, str(exc), None)
    within = [s for s in candidates if _within(job, timed, s.hash)]
    if within:
        chosen = within[0]
        if chosen is not candidates[0]:
            first = candidates[0]
            log(
                f"the most accurate candidate, {first.hash}, measures {timed.at_lut_speed(first.hash):.3f} ms at the LUT's speed, over the "
                f"{job.budget.latency_ms:g} ms budget (+{TOLERANCE:.0%}): delivering {chosen.hash}, the most accurate that measures within it "
                f"({chosen.candidate.accuracy:.2%} against {first.candidate.accuracy:.2%} {job.selection_where()})"
            )
        return Finish(chosen, timed, exported, None, True)
    closest = min(candidates, key=lambda s: timed.at_lut_speed(s.hash))
    needs = ", ".join(f"{s.hash[:8]} {timed.at_lut_speed(s.hash) / (1 + TOLERANCE):.3g}" for s in candidates)
    log(
        f"none of the {len(candidates)} most accurate candidates measures within the {job.budget.latency_ms:g} ms budget (+{TOLERANCE:.0%}) "
        f"at the LUT's speed: the closest, {closest.hash}, measures {timed.at_lut_speed(closest.hash):.3f} ms "
        f"({timed.at_lut_speed(closest.hash) / job.budget.latency_ms:.2f}x) and is delivered as over the budget; the budgets (ms) they "
        f"would need: {needs}; raise --latency-ms to one of them, or profile the device again (`bench profile`) if its LUT is off"
    )
    return Finish(closest, timed, exported, None, False)


def _candidate_record(job: SearchJob, s: Scored, timed: Timed | None) -> dict[str, Any]:
    c = s.candidate
    lo, hi = job.pricer.interval(c.config)
    record: dict[str, Any] = {
        "config_hash": s.hash, "config": c.config.to_dict(), "holdout": proportion(int(s.right.sum()), len(s.right)).to_dict(),
        "predicted_ms": c.predicted_ms, "predicted_interval_ms": [lo, hi], "params_m": c.params / 1e6,
    }
    if timed is not None:
        at_lut = timed.at_lut_speed(s.hash)
        record.update({
            "measured_ms": timed.measured_ms[s.hash], "measured_ms_at_lut_speed": at_lut, "budget_ratio": at_lut / job.budget.latency_ms,
            "within_budget": _within(job, timed, s.hash), "needs_budget_ms": at_lut / (1 + TOLERANCE),
        })
    return record


def _path(path: Path | None) -> str | None:
    return str(path) if path else None


def finish_search(
    job: SearchJob, state: SearchState, device: Callable[[], Device] | None, log: Callable[[str], None], measure_top: int = MEASURE_TOP,
    int8_calibration: int = INT8_CALIBRATION,
) -> dict[str, Any]:
    """`device` resolves the LUT's device (raising UserError when it is unknown or unreachable);
    `measure_top` candidates are timed there (0: the most accurate alone, as before the finish).
    On an int8 LUT the found model is quantized, calibrated on `int8_calibration` training images,
    and its accuracy drop reported (`int8`)."""
    out = job.inputs.out
    candidates = top_candidates(job, state, max(1, measure_top), log)
    required = get_backend(job.lut["device"]["backend"])
    images = calibration_images(job.calibration_batches(), int8_calibration) if required.precision == "int8" else None
    finish = measured_finish(job, candidates, device, log, images)
    chosen, timed = finish.chosen, finish.timed
    best = chosen.candidate
    lo, hi = job.pricer.interval(best.config)
    verdict = judge(job, chosen, [s for s in candidates if s is not chosen] or _runner_up(job, state, chosen))
    held: Proportion = verdict["holdout"]
    test_right = job.test_correct(chosen.static)
    test = proportion(int(test_right.sum()), len(test_right)) if test_right is not None else None
    log(f"best: {held.text()} {job.selection_where()}, {best.predicted_ms:.2f} ms predicted ({lo:.2f}-{hi:.2f} ms, 95%), {best.params / 1e6:.3f}M params")
    log(f"test accuracy of the found model: {test.text()} of the test split" if test else "no test split (DATA/val/): the found model's test accuracy is unknown")
    for warning in verdict["warnings"]:
        log(f"warning: {warning}")
    quantization = _int8_accuracy(job, chosen, test_right, required, images, log) if images is not None else None
    log("delivering the found model")
    with output_into(out / "delivery.log"):
        files = deliver(chosen.static, job.ckpt["classes"], out, required.name, finish.exported.get(chosen.hash) if timed else None, images)
    budget = job.budget
    measured = timed.record(chosen.hash) if timed else None
    at_lut = timed.at_lut_speed(chosen.hash) if timed else None
    result = {
        "config": best.config.to_dict(),
        "config_hash": best.config.hash,
        "accuracy": best.accuracy,
        "holdout": held.to_dict(),
        "selection": job.selection_name(),
        "test_accuracy": test.value if test else None,
        "test": test.to_dict() if test else None,
        "runner_up": verdict["runner_up"],
        "warnings": verdict["warnings"],
        "predicted_ms": best.predicted_ms,
        "predicted_interval_ms": [lo, hi],
        "predicted_interval_method": (
            f"calibrated on the {budget.calibration.source}" if budget.calibration else f"raw, from the LUT's entries: {interval_method(job.lut)}"
        ),
        "measured_ms": measured["measured_ms"] if measured else None,
        "measured_ms_at_lut_speed": measured["measured_ms_at_lut_speed"] if measured else None,
        "budget_ratio": at_lut / budget.latency_ms if at_lut is not None else None,
        "within_budget": finish.within,
        "measure_top": measure_top,
        "chosen_rank": candidates.index(chosen),
        "candidates": [_candidate_record(job, s, timed) for s in candidates],
        "params_m": best.params / 1e6,
        "budget": budget.to_dict(),
        "lut": job.lut["id"],
        "device": job.lut["device"]["name"],
        "strategy": job.settings.strategy,
        "evaluations": len(state.evaluated),
        "generations": state.generation,
        "search_seconds": state.seconds,
        "coarse": state.coarse,
        "measurement": measured,
        "quantization": {**quantization, "scheme": files.facts.get(required.name, {}).get("quantization", required.scheme)} if quantization else None,
        "not_measured": finish.not_measured,
        "files": {
            "config": str(out / "best.json"), "checkpoint": str(files.checkpoint), "pte": _path(files.artifacts.get("pte")),
            "pte_partitions": files.facts.get("pte", {}).get("partitions"),
            "mlpackage": _path(files.artifacts.get("coreml")), "mlpackage_error": files.errors.get("coreml"), "pareto_plot": str(out / "pareto.png"),
            "state": str(out / "search_state.json"),
            "artifacts": {name: str(path) for name, path in files.artifacts.items()},  # by backend, the LUT device's own among them
        },
    }
    write_json_atomic(out / "best.json", best.config.to_dict())
    plot_pareto(state, budget, best, out / "pareto.png", f"{job.settings.strategy} on {job.lut['device']['name']} ({job.space.name}, LUT {job.lut['id'][:8]})")
    write_json_atomic(out / "result.json", result)
    if timed:
        _log_measured(job, timed, chosen, result, (lo, hi), log)
    written = ", ".join(["best.json", "best.pt", *(p.name for p in files.artifacts.values()), "pareto.png", "result.json", "delivery.log"])
    log(f"wrote {out}/{written}")
    return result


def _int8_accuracy(
    job: SearchJob, chosen: Scored, test_right: torch.Tensor | None, backend: Backend, images: list[torch.Tensor], log: Callable[[str], None],
) -> dict[str, Any]:
    """The found model's accuracy in float32 (`chosen.right`, `test_right`: per image, as scored
    already) and as its int8 program computes, on the held-out and test images."""
    quantized = quantized_model(chosen.static, backend, images)
    held = accuracy_drop(chosen.right, right_per_image(quantized, job.selection_batches()))
    tested = accuracy_drop(test_right, right_per_image(quantized, job.test_batches)) if test_right is not None else None
    for name, drop in (("held-out", held), ("test", tested)):
        if drop is not None:
            log(
                f"int8 ({backend.name}, calibrated on {len(images)} training images), {name}: {drop['int8']['value']:.1%} against "
                f"{drop['float32']['value']:.1%} in float32, a drop of {drop['drop_points']:.1f} points (McNemar p {drop['mcnemar_p']:.2g})"
            )
    return {"backend": backend.name, "calibration_images": len(images), "holdout": held, "test": tested}


def _runner_up(job: SearchJob, state: SearchState, chosen: Scored) -> list[Scored]:
    """With one candidate timed (`--measure-top 0` or 1), the next most accurate, scored for the comparison."""
    rest = [c for c in state.ranked() if c is not chosen.candidate]
    if not rest:
        return []
    static = job.recalibrated(rest[0].config)
    return [Scored(rest[0], static, job.holdout_correct(static))]


def _log_measured(job: SearchJob, timed: Timed, chosen: Scored, result: dict[str, Any], interval: tuple[float, float], log: Callable[[str], None]) -> None:
    budget, speed = job.budget, timed.session_speed
    ms, at_lut = timed.measured_ms[chosen.hash], timed.at_lut_speed(chosen.hash)
    shown = f" ({at_lut:.2f} ms at the LUT's speed: the anchor network ran at x{speed:.3f} its LUT latency)" if speed else ""
    standing = f"{result['budget_ratio']:.2f}x, {'within' if result['within_budget'] else 'OVER'}"
    inside = "inside" if interval[0] <= at_lut <= interval[1] else "outside"
    foreign = other_cpu(job.lut)
    here = f" (on this machine's CPU the budget is {budget.latency_ms * speed:.3g} ms and the model {ms:.3g} ms)" if foreign and speed else ""
    log(
        f"measured on {timed.device}: {ms:.2f} ms{shown}, {inside} the predicted interval {interval[0]:.2f}-{interval[1]:.2f} ms: "
        f"{standing} the {budget.latency_ms:g} ms budget (+{TOLERANCE:.0%}){here}"
    )
    if foreign:
        log(f"note: {foreign}")
    elif speed and speed > 1 + TOLERANCE:
        log(
            f"warning: the device ran {speed - 1:.0%} slower in this session than when LUT {job.lut['id']} was measured "
            "(timed on the LUT's anchor network); close other work on it, or re-profile it if it stays slow"
        )
