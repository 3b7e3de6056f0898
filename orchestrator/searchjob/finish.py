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
from infra.shown import apart
from infra.staged import staged
from orchestrator.export.backends import Backend, get_backend
from orchestrator.lut.machine import other_cpu
from orchestrator.measure.devices import Device, get_device
from orchestrator.searchjob import INT8_CALIBRATION, MEASURE_TOP
from orchestrator.searchjob.delivery import Delivered, Timed, artifact_name, deliver, delivery_names, export_model, first_line, time_models
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


def _device(device: Callable[[], Device] | None, lut: dict[str, Any], log: Callable[[str], None]) -> tuple[Device | None, str | None]:
    if device is None:
        return None, "not measured (--no-measure)"
    try:
        d = device()
    except UserError as exc:
        log(f"not measured: {exc}")
        return None, str(exc)
    check_device_backend(d, lut)
    return d, None


def lut_device(lut: dict[str, Any], devices_file: Path | None = None) -> Callable[[], Device]:
    """The LUT's device, for the finish to resolve when it starts. Its entry is checked against the
    LUT now, before a search that may take an hour, where this machine knows the name (one it does
    not know is said at the finish: not measured)."""
    name = lut["device"]["name"]
    try:
        entry = get_device(name, devices_file)
    except UserError:
        entry = None
    if entry is not None:
        check_device_backend(entry, lut)
    return lambda: get_device(name, devices_file)


def check_device_backend(device: Device, lut: dict[str, Any]) -> None:
    """Refuse a device whose entry now names another backend than the one its LUT was measured
    with (a devices file edited, a bundled device changed): the finish would export and time that
    backend's programs (int8 for a float32 LUT, say) against the LUT's figures and deliver them
    under the LUT's name."""
    then = lut["device"]["backend"]
    if device.backend == then:
        return
    now, was = get_backend(device.backend), get_backend(then)
    raise UserError(
        f"device {device.name} now runs backend {now.name} ({now.precision}, {now.suffix}), but LUT {lut['id'][:8]} was measured with "
        f"backend {was.name} ({was.precision}, {was.suffix}) on it, so its programs would not be the ones the LUT priced; profile "
        f"{device.name} again (`bench profile --device {device.name}`) and search with that LUT, or give {device.name} back its "
        f"backend {was.name} in the devices file"
    )


def _within(job: SearchJob, timed: Timed, model: str) -> bool:
    return timed.at_lut_speed(model) <= job.budget.latency_ms * (1 + TOLERANCE)


def export_candidates(
    job: SearchJob, candidates: list[Scored], backend: Backend, log: Callable[[str], None], calibration: list[torch.Tensor] | None,
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Each candidate exported by `backend` (hash -> its file and what the exporter reported). One
    that fails to export is skipped, with why, and the others go on: a converter's bug in one
    subnet's graph should not cost the search its other candidates. None exported is refused."""
    folder = job.inputs.out / "candidates"
    folder.mkdir(parents=True, exist_ok=True)
    exported: dict[str, tuple[Path, dict[str, Any]]] = {}
    with output_into(job.inputs.out / "delivery.log"):  # the converters' warnings and progress bars: for a bug report, not the terminal
        for s in candidates:
            path = folder / f"{s.hash}{backend.suffix}"
            try:
                exported[s.hash] = (path, export_model(s.static, backend, path, calibration))
            except Exception as exc:  # converters raise many types; the candidate is what failed, not the search
                log(f"candidate {s.hash} could not be exported for {backend.name} ({first_line(exc)}): skipped")
    if not exported:
        raise UserError(
            f"none of the {len(candidates)} candidates could be exported for {backend.name} (the reasons are above and in "
            f"{job.inputs.out / 'delivery.log'}); report it with that log"
        )
    return exported


def measured_finish(
    job: SearchJob, candidates: list[Scored], device: Callable[[], Device] | None, log: Callable[[str], None], calibration: list[torch.Tensor] | None = None,
) -> Finish:
    """Time `candidates` (most accurate first) on the LUT's device in one session and choose;
    `calibration`: the images an int8 device's exports are calibrated on."""
    d, not_measured = _device(device, job.lut, log)
    if d is None:
        return Finish(candidates[0], None, {}, not_measured, None)
    log(f"exporting the {len(candidates)} most accurate candidates to time them on {d.name}" if len(candidates) > 1 else "exporting the found model")
    exported = export_candidates(job, candidates, get_backend(d.backend), log, calibration)
    candidates = [s for s in candidates if s.hash in exported]
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
    images = _calibration(job, required, int8_calibration, log)
    finish = measured_finish(job, candidates, device, log, images)
    chosen, timed = finish.chosen, finish.timed
    best = chosen.candidate
    lo, hi = job.pricer.interval(best.config)
    verdict = judge(job, chosen, [s for s in candidates if s is not chosen] or _runner_up(job, state, chosen))
    held: Proportion = verdict["holdout"]
    test_right = job.test_correct(chosen.static)
    test = proportion(int(test_right.sum()), len(test_right)) if test_right is not None else None
    quantization = _int8_accuracy(job, chosen, test_right, required, images) if images is not None else None
    log(f"best: {held.text()} {job.selection_where()}, {best.predicted_ms:.2f} ms predicted ({lo:.2f}-{hi:.2f} ms, 95%), {best.params / 1e6:.3f}M params")
    _log_accuracy(job, test, quantization, required, log)
    for warning in verdict["warnings"]:
        log(f"warning: {warning}")
    if resumed_delivery(out):
        log(f"{out} holds the delivery of an earlier finish of this search: the new one replaces it as a whole once it is written")
    log("delivering the found model")
    with staged(out, delivery_names()) as stage, output_into(out / "delivery.log"):
        files = deliver(chosen.static, job.ckpt["classes"], stage, required.name, finish.exported.get(chosen.hash) if timed else None, images)
        result = _result(job, state, finish, candidates, verdict, test, quantization, files, required, measure_top)
        write_json_atomic(stage / "best.json", best.config.to_dict())
        plot_pareto(state, job.budget, best, stage / "pareto.png", f"{job.settings.strategy} on {job.lut['device']['name']} ({job.space.name}, LUT {job.lut['id'][:8]})")
        write_json_atomic(stage / "result.json", result)
    if timed:
        _log_measured(job, timed, chosen, result, (lo, hi), log)
    written = ", ".join(["best.json", "best.pt", *(p.name for p in files.artifacts.values()), "pareto.png", "result.json", "delivery.log"])
    log(f"wrote {out}/{written}")
    return result


def resumed_delivery(out: Path) -> bool:
    """Whether `out` holds a delivered model already (a finished search resumed: its finish runs again)."""
    return (out / "result.json").is_file()


def _calibration(job: SearchJob, backend: Backend, count: int, log: Callable[[str], None]) -> list[torch.Tensor] | None:
    """The images an int8 backend's exports are calibrated on (None for a float backend); fewer
    than asked for is said, not passed over."""
    if backend.quantizer is None:
        return None
    images = calibration_images(job.calibration_batches(), count)
    if len(images) < count:
        log(f"note: --int8-calibration asks for {count} images, but the data's calibration images are {len(images)}: the int8 model is calibrated on those {len(images)}")
    return images


def _log_accuracy(job: SearchJob, test: Proportion | None, quantization: dict[str, Any] | None, backend: Backend, log: Callable[[str], None]) -> None:
    """The delivered model's test accuracy first: on an int8 device that is the int8 program's,
    with the float32 twin's beside it as such (the search ranked float32 subnets)."""
    if test is None:
        log("no test split (DATA/val/): the found model's test accuracy is unknown")
    elif quantization is None:
        log(f"test accuracy of the found model: {test.text()} of the test split")
    else:
        int8 = Proportion(**{k: quantization["test"]["int8"][k] for k in ("correct", "total", "low", "high")})
        log(
            f"test accuracy of the found model, the int8 program {artifact_name(backend)} that {job.lut['device']['name']} runs: "
            f"{int8.text()} of the test split; its float32 twin (best.pt, best.pte): {test.text()}"
        )
    for name, drop in (("held-out", (quantization or {}).get("holdout")), ("test", (quantization or {}).get("test"))):
        if drop is not None:
            log(
                f"int8 ({backend.name}, calibrated on {quantization['calibration_images']} training images), {name}: {drop['int8']['value']:.1%} against "
                f"{drop['float32']['value']:.1%} in float32, a drop of {drop['drop_points']:.1f} points (McNemar p {drop['mcnemar_p']:.2g})"
            )


def _result(
    job: SearchJob, state: SearchState, finish: Finish, candidates: list[Scored], verdict: dict[str, Any], test: Proportion | None,
    quantization: dict[str, Any] | None, files: Delivered, required: Backend, measure_top: int,
) -> dict[str, Any]:
    """result.json: what was delivered (the device's program first), how it was chosen and measured.
    Paths are where the files lie once the staged delivery is swapped in."""
    out, chosen, timed, budget = job.inputs.out, finish.chosen, finish.timed, job.budget
    best, held = chosen.candidate, verdict["holdout"]
    lo, hi = job.pricer.interval(best.config)
    measured = timed.record(chosen.hash) if timed else None
    at_lut = timed.at_lut_speed(chosen.hash) if timed else None

    def final(path: Path | None) -> str | None:
        return str(out / path.name) if path else None

    program = files.artifacts[required.name]
    int8 = quantization is not None
    return {
        "delivered": {
            "file": final(program), "backend": required.name, "precision": required.precision, "device": job.lut["device"]["name"],
            "holdout": quantization["holdout"]["int8"] if int8 else held.to_dict(),
            "test": (quantization["test"] or {}).get("int8") if int8 else (test.to_dict() if test else None),
            "float32_twin": {"checkpoint": final(files.checkpoint), "pte": final(files.artifacts.get("pte"))} if int8 else None,
        },
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
        "quantization": {**quantization, "scheme": files.facts.get(required.name, {}).get("quantization", required.scheme)} if int8 else None,
        "not_measured": finish.not_measured,
        "files": {
            "model": final(program), "config": str(out / "best.json"), "checkpoint": final(files.checkpoint), "pte": final(files.artifacts.get("pte")),
            "pte_partitions": files.facts.get("pte", {}).get("partitions"),
            "mlpackage": final(files.artifacts.get("coreml")), "mlpackage_error": files.errors.get("coreml"), "pareto_plot": str(out / "pareto.png"),
            "state": str(out / "search_state.json"),
            "artifacts": {name: final(path) for name, path in files.artifacts.items()},  # by backend, the LUT device's own among them
        },
    }


def _int8_accuracy(
    job: SearchJob, chosen: Scored, test_right: torch.Tensor | None, backend: Backend, images: list[torch.Tensor],
) -> dict[str, Any]:
    """The found model's accuracy in float32 (`chosen.right`, `test_right`: per image, as scored
    already) and as its int8 program computes, on the held-out and test images."""
    quantized = quantized_model(chosen.static, backend, images)
    held = accuracy_drop(chosen.right, right_per_image(quantized, job.selection_batches()))
    tested = accuracy_drop(test_right, right_per_image(quantized, job.test_batches)) if test_right is not None else None
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
    judged, low, high = apart(at_lut, *interval)  # the figure the verdicts are about, with the digits that show them
    shown = f" ({judged} ms at the LUT's speed: the anchor network ran at x{speed:.3f} its LUT latency)" if speed else ""
    ratio = apart(result["budget_ratio"], 1 + TOLERANCE)[0]
    standing = f"{ratio}x, {'within' if result['within_budget'] else 'OVER'}"
    inside = "inside" if interval[0] <= at_lut <= interval[1] else "outside"
    foreign = other_cpu(job.lut)
    here = f" (on this machine's CPU the budget is {budget.latency_ms * speed:.3g} ms and the model {ms:.3g} ms)" if foreign and speed else ""
    log(
        f"measured on {timed.device}: {judged if not speed else f'{ms:.2f}'} ms{shown}, {inside} the predicted interval {low}-{high} ms: "
        f"{standing} the {budget.latency_ms:g} ms budget (+{TOLERANCE:.0%}){here}"
    )
    if foreign:
        log(f"note: {foreign}")
    elif speed and speed > 1 + TOLERANCE:
        log(
            f"warning: the device ran {speed - 1:.0%} slower in this session than when LUT {job.lut['id']} was measured "
            "(timed on the LUT's anchor network); close other work on it, or re-profile it if it stays slow"
        )
