"""The end of `bench search`: the top candidates scored again, measured on every held device
(`measured`), the chosen one delivered in every device's form as one (`delivery`, `infra.staged`),
and result.json written (`result`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infra.files import write_json_atomic
from infra.quiet import output_into
from infra.staged import staged
from orchestrator.export.backends import Backend, get_backend
from orchestrator.searchjob import INT8_CALIBRATION, MEASURE_TOP
from orchestrator.searchjob.delivery import deliver, delivery_names
from orchestrator.searchjob.deployment import feeding_of, write_manifests
from orchestrator.searchjob.int8 import accuracy_drop, calibration_images, quantized_model, right_per_image
from orchestrator.searchjob.job import SearchJob
from orchestrator.searchjob.measured import Choice, Measured, Resolver, choose, measure_on
from orchestrator.searchjob.pareto import plot_pareto
from orchestrator.searchjob.result import Outcome, result_document
from orchestrator.searchjob.said import log_accuracy, log_measured
from orchestrator.searchjob.targets import Target
from search.nas.constraints import Limit
from search.nas.significance import mcnemar_p, proportion, warnings_for
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
            static = job.scorer.recalibrated(c.config)
            right = job.scorer.holdout_correct(static)
            accuracy = int(right.sum()) / len(right)
            # The same count of images right (a state of earlier versions saved float32 fractions).
            if abs(accuracy - c.accuracy) >= 0.5 / len(right):
                log(f"subnet {c.config.hash} scores {accuracy:.2%} {job.scorer.selection_where()}, not the {c.accuracy:.2%} its search state says: ranked by its score")
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
            "config_hash": runner.hash, "holdout": runner_held.to_dict(), "predicted": runner.candidate.predicted, "mcnemar_p": runner_p,
        },
        "warnings": warnings_for(held, len(job.ckpt["classes"]), runner_p, runner_held),
    }


Timer = Callable[[Target, list[Scored]], Measured]  # a target's candidates timed, as the finish holds them to its budgets


@dataclass
class Finish:
    """The finish's choice among candidates scored again (`top_candidates`): each target's timings
    of them, and the one chosen with whether it measured within."""

    measured: dict[str, Measured]
    choice: Choice


def measured_finish(job: SearchJob, candidates: list[Scored], timer: Timer, log: Callable[[str], None]) -> Finish:
    """The candidates timed on every target by `timer`, and the product's choice among them
    (`measured.choose`). `bench search` times them on each device (`measure_on`); a benchmark plugs
    in its own timing source (timings shared by many searches, a device slowed) and takes the
    choice without delivering."""
    measured = {t.name: timer(t, candidates) for t in job.targets}
    return Finish(measured, choose(candidates, measured, lambda s: f"{s.candidate.accuracy:.2%} {job.scorer.selection_where()}", log))


def finish_search(
    job: SearchJob, state: SearchState, devices: Mapping[str, Resolver] | Resolver | None, log: Callable[[str], None],
    measure_top: int = MEASURE_TOP, int8_calibration: int = INT8_CALIBRATION,
) -> dict[str, Any]:
    """`devices` resolve the held devices by name (`measured.lut_devices`; one resolver alone is the
    LUT's device; None: measured on none), raising UserError when one is unknown or unreachable;
    `measure_top` candidates are timed on each (0: the most accurate alone). A device of an int8
    backend gets the found model quantized as it quantizes, calibrated on `int8_calibration`
    training images, and its accuracy drop reported."""
    out = job.inputs.out
    resolvers = devices if isinstance(devices, Mapping) else {job.targets.only().name: devices} if devices else {}
    backends = list(dict.fromkeys(get_backend(t.lut.device.backend) for t in job.targets))
    images = _calibration(job, backends, int8_calibration, log)
    candidates = top_candidates(job, state, max(1, measure_top), log)
    finish = measured_finish(job, candidates, lambda t, scored: measure_on(job, t, scored, resolvers.get(t.name), log, images), log)
    measured, choice = finish.measured, finish.choice
    chosen: Scored = choice.chosen
    verdict = judge(job, chosen, [s for s in candidates if s is not chosen] or _runner_up(job, state, chosen))
    test_right = job.scorer.test_correct(chosen.static)
    test = proportion(int(test_right.sum()), len(test_right)) if test_right is not None else None
    quantized = {b.name: _int8_accuracy(job, chosen, test_right, b, images, log) for b in backends if b.quantizer is not None and images}
    outcome = Outcome(job, state, chosen, candidates, measured, choice.within, verdict, test, quantized, measure_top)
    log_accuracy(outcome, log)
    if resumed_delivery(out):
        log(f"{out} holds the delivery of an earlier finish of this search: the new one replaces it as a whole once it is written")
    log("delivering the found model")
    with staged(out, delivery_names()) as stage, output_into(out / "delivery.log"):
        files = deliver(chosen.static, job.ckpt["classes"], stage.folder, [b.name for b in backends], _exports_of(chosen, measured), images)
        result = result_document(outcome, files)
        manifests = write_manifests(stage.folder, feeding_of(job, chosen.static), result, files)
        write_json_atomic(stage.folder / "best.json", chosen.candidate.config.to_dict())
        plot_pareto(state, chosen.candidate, stage.folder / "pareto.png", *_axis(job, result["binding"]["device"], result["binding"]["constraint"]))
        write_json_atomic(stage.folder / "result.json", result)
        written = ["best.json", "best.pt", *(p.name for p in [*files.artifacts.values(), *manifests]), "pareto.png", "result.json"]
        stage.expect(written)  # committed only once each is there
    log_measured(outcome, result, log)
    log(f"wrote {out}/{', '.join([*written, 'delivery.log'])}")
    return result


def _exports_of(chosen: Scored, measured: Mapping[str, Measured]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The chosen candidate's programs that were timed, by backend: moved into the delivery rather
    than exported again, so what was measured is what is delivered."""
    return {m.device.backend: m.exported[chosen.hash] for m in measured.values() if m.timed is not None and chosen.hash in m.exported}


def _axis(job: SearchJob, binding: str, constraint: str) -> tuple[str, str, Callable[[Candidate], float], Limit, bool]:
    """pareto.png's title and axis: the binding device's predictions of the budget that binds, and that budget."""
    target = job.targets[binding]
    devices = ", ".join(t.name for t in job.targets)
    held = f"held on {devices}, {binding} binds" if len(job.targets) > 1 else f"on {devices}"
    title = f"{job.settings.strategy} {held} ({job.space.name}, LUT {target.lut.short})"
    return title, binding, lambda c: target.held.point(constraint, c.config), target.held.limits[constraint], len(job.targets) > 1


def resumed_delivery(out: Path) -> bool:
    """Whether `out` holds a delivered model already (a finished search resumed: its finish runs again)."""
    return (out / "result.json").is_file()


def _calibration(job: SearchJob, backends: list[Backend], count: int, log: Callable[[str], None]) -> list[torch.Tensor] | None:
    """The images the int8 backends' exports are calibrated on (None where no backend quantizes);
    fewer than asked for is said, not passed over."""
    if all(b.quantizer is None for b in backends):
        return None
    images = calibration_images(job.scorer.calibration_batches(), count)
    if len(images) < count:
        log(f"note: --int8-calibration asks for {count} images, but the data's calibration images are {len(images)}: the int8 model is calibrated on those {len(images)}")
    return images


def _int8_accuracy(
    job: SearchJob, chosen: Scored, test_right: torch.Tensor | None, backend: Backend, images: list[torch.Tensor], log: Callable[[str], None],
) -> dict[str, Any]:
    """The found model's accuracy in float32 (`chosen.right`, `test_right`: per image, as scored
    already) and as its int8 program computes, on the held-out and test images."""
    log(f"quantizing the found model as {backend.name} runs it ({len(images)} calibration images) to score it on the held-out and test images")
    quantized = quantized_model(chosen.static, backend, images)
    held = accuracy_drop(chosen.right, right_per_image(quantized, job.scorer.selection_batches()))
    tested = accuracy_drop(test_right, right_per_image(quantized, job.scorer.test_batches)) if test_right is not None else None
    return {"backend": backend.name, "calibration_images": len(images), "holdout": held, "test": tested}


def _runner_up(job: SearchJob, state: SearchState, chosen: Scored) -> list[Scored]:
    """With one candidate timed (`--measure-top 0` or 1), the next most accurate, scored for the comparison."""
    rest = [c for c in state.ranked() if c is not chosen.candidate]
    if not rest:
        return []
    static = job.scorer.recalibrated(rest[0].config)
    return [Scored(rest[0], static, job.scorer.holdout_correct(static))]


