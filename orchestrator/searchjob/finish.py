"""The end of `bench search`: deliver the winner, measure it where possible, write result.json."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from infra.errors import UserError
from infra.files import write_json_atomic
from infra.quiet import output_into
from orchestrator.measure.devices import Device
from orchestrator.searchjob.delivery import Delivered, deliver, measure_found
from orchestrator.searchjob.job import SearchJob, accuracy_on_test_split
from orchestrator.searchjob.pareto import plot_pareto
from search.nas.budget import TOLERANCE
from search.nas.lut import interval_method
from search.nas.significance import Proportion, mcnemar_p, proportion, warnings_for
from search.nas.strategies import Candidate, SearchState
from search.space.config import SubnetConfig
from search.supernet.static import StaticSubnet


def _measurement(
    job: SearchJob, files: Delivered, config: SubnetConfig, device: Callable[[], Device] | None, log: Callable[[str], None]
) -> tuple[dict[str, Any] | None, str | None]:
    if device is None:
        return None, "not measured (--no-measure)"
    try:
        d = device()
        return measure_found(files.artifacts[d.backend], config, job.lut, job.base_space, d, job.inputs.out / "measure"), None
    except UserError as exc:
        log(f"not measured: {exc}")
        return None, str(exc)


def _at_lut_speed(measured: dict[str, Any]) -> float:
    """The found model's latency at the speed the LUT was measured at (as measured where the LUT has no anchor)."""
    return measured["measured_ms_at_lut_speed"] or measured["measured_ms"]


def _path(path: Path | None) -> str | None:
    return str(path) if path else None


def winner(job: SearchJob, state: SearchState, log: Callable[[str], None]) -> tuple[Candidate, StaticSubnet, torch.Tensor]:
    """The most accurate subnet, scored again on the held-out images before it is delivered (with
    its recalibrated model and, per image, whether it is right). A resumed search's accuracies come
    from a file anyone can edit, so a leader that does not score what its state says takes its
    score and the candidates are ranked again, until the leader is one that does."""
    scored: set[str] = set()
    while True:
        best = state.best()
        static = job.recalibrated(best.config)
        right = job.holdout_correct(static)
        accuracy = int(right.sum()) / len(right)
        # The same count of images right (a state of earlier versions saved float32 fractions), or
        # scored already here: a device that does not score a subnet the same twice ends the ranking.
        if abs(accuracy - best.accuracy) < 0.5 / len(right) or best.config.hash in scored:
            best.accuracy = accuracy
            return best, static, right
        log(f"subnet {best.config.hash} scores {accuracy:.2%} held out, not the {best.accuracy:.2%} its search state says: ranked by its score")
        best.accuracy = accuracy
        scored.add(best.config.hash)


def judge(job: SearchJob, state: SearchState, best: Candidate, right: torch.Tensor) -> dict[str, Any]:
    """The winner's held-out accuracy (`right`: per image, whether `best` got it right) as a count
    with its interval, the runner-up compared on the same images (McNemar), and the warnings they call for."""
    rest = [c for c in state.ranked() if c is not best]
    held = proportion(int(right.sum()), len(right))
    runner = runner_p = runner_held = None
    if rest:
        runner = rest[0]
        runner_right = job.holdout_correct(job.recalibrated(runner.config))
        runner_held = proportion(int(runner_right.sum()), len(runner_right))
        runner_p = mcnemar_p(right.numpy(), runner_right.numpy())
    return {
        "holdout": held,
        "runner_up": None if runner is None else {
            "config_hash": runner.config.hash, "holdout": runner_held.to_dict(), "predicted_ms": runner.predicted_ms, "mcnemar_p": runner_p,
        },
        "warnings": warnings_for(held, len(job.ckpt["classes"]), runner_p, runner_held),
    }


def finish_search(job: SearchJob, state: SearchState, device: Callable[[], Device] | None, log: Callable[[str], None]) -> dict[str, Any]:
    """`device` resolves the LUT's device (raising UserError when it is unknown or unreachable)."""
    out = job.inputs.out
    best, static, right = winner(job, state, log)
    lo, hi = job.pricer.interval(best.config)
    verdict = judge(job, state, best, right)
    held: Proportion = verdict["holdout"]
    test = accuracy_on_test_split(static, job.data, job.inputs.eval_batch_size, job.device)
    log(
        f"best: {held.text()} held out, {best.predicted_ms:.2f} ms predicted ({lo:.2f}-{hi:.2f} ms, 95%), {best.params / 1e6:.3f}M params"
    )
    log(f"test accuracy of the found model: {test.text()} of the test split" if test else "no test split (DATA/val/): the found model's test accuracy is unknown")
    for warning in verdict["warnings"]:
        log(f"warning: {warning}")
    log("exporting the found model")
    with output_into(out / "delivery.log"):  # the converters' warnings and progress bars: for a bug report, not the terminal
        files = deliver(static, job.ckpt["classes"], out, required=job.lut["device"]["backend"])
    measured, not_measured = _measurement(job, files, best.config, device, log)
    budget = job.budget
    result = {
        "config": best.config.to_dict(),
        "config_hash": best.config.hash,
        "accuracy": best.accuracy,
        "holdout": held.to_dict(),
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
        "budget_ratio": _at_lut_speed(measured) / budget.latency_ms if measured else None,
        "within_budget": (_at_lut_speed(measured) <= budget.latency_ms * (1 + TOLERANCE)) if measured else None,
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
        "not_measured": not_measured,
        "files": {
            "config": str(out / "best.json"), "checkpoint": str(files.checkpoint), "pte": _path(files.artifacts.get("pte")),
            "pte_partitions": files.facts.get("pte", {}).get("partitions"), "mlpackage": _path(files.artifacts.get("coreml")),
            "mlpackage_error": files.errors.get("coreml"), "pareto_plot": str(out / "pareto.png"), "state": str(out / "search_state.json"),
            "artifacts": {name: str(path) for name, path in files.artifacts.items()},  # by backend, the LUT device's own among them
        },
    }
    write_json_atomic(out / "best.json", best.config.to_dict())
    plot_pareto(state, budget, best, out / "pareto.png", f"{job.settings.strategy} on {job.lut['device']['name']} ({job.space.name}, LUT {job.lut['id'][:8]})")
    write_json_atomic(out / "result.json", result)
    if measured:
        at_lut = measured["measured_ms_at_lut_speed"]
        speed = f" ({at_lut:.2f} ms at the LUT's speed: the anchor network ran at x{measured['session_speed']:.3f} its LUT latency)" if at_lut else ""
        standing = f"{result['budget_ratio']:.2f}x, {'within' if result['within_budget'] else 'OVER'}"
        inside = "inside" if lo <= (at_lut or measured["measured_ms"]) <= hi else "outside"
        log(
            f"measured on {measured['device']}: {measured['measured_ms']:.2f} ms{speed}, {inside} the predicted interval {lo:.2f}-{hi:.2f} ms: "
            f"{standing} the {budget.latency_ms:g} ms budget (+{TOLERANCE:.0%})"
        )
        if measured["session_speed"] and measured["session_speed"] > 1 + TOLERANCE:
            log(
                f"warning: the device ran {measured['session_speed'] - 1:.0%} slower in this session than when LUT {job.lut['id']} was measured "
                "(timed on the LUT's anchor network); close other work on it, or re-profile it if it stays slow"
            )
    written = ", ".join(["best.json", "best.pt", *(p.name for p in files.artifacts.values()), "pareto.png", "result.json", "delivery.log"])
    log(f"wrote {out}/{written}")
    return result
