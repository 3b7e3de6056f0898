"""`bench validate`: how well one or more LUTs predict the measured end-to-end latency of subnets.

Subnets are drawn at random (seeded) and chosen spread over the predicted-latency range, exported
through the same cache as the profile's networks, and measured end to end on the device in one
interleaved session, in fewer rounds where the LUT predicts them too slow for all of them within
the time budget (`orchestrator.measure.budget`). Every LUT is validated on the same subnets and the
same measurements, so a removal LUT and an isolated LUT can be compared fairly. Figures are
appended to the LUT's sidecar in the store (the LUT itself is never edited). `validate_luts` is the
whole of `bench validate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from infra.errors import UserError
from infra.files import atomic_write, check_output
from orchestrator.export.backends import get_backend
from orchestrator.export.probes import export_probes
from orchestrator.lut.machine import other_cpu
from orchestrator.lut.settings import end_to_end_timing
from orchestrator.lut.store import append_validation, resolve_lut, validation_path, validation_plot_path, validation_runs
from orchestrator.measure.budget import TimeBudget, Timetable, session_seconds
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.progress import shown
from orchestrator.measure.session import new_run_dir, run_session
from orchestrator.measure.timing import TimingPlan
from orchestrator.plan.spec import ProbeSpec
from search.nas.agreement import figures
from search.nas.constraints import CONSTRAINTS, Observed, Subject
from search.nas.constraints.size import program_bytes
from search.nas.lut import Lut, check_same_precision, read_lut
from search.nas.predictor import LatencyPredictor
from search.nas.run_result import ModelRun, RunResult
from search.space import SearchSpace, load_space
from search.space.config import SubnetConfig
from search.space.encoding import decode, random_batch

OVERSAMPLE = 40


def spread_subnets(predictor: LatencyPredictor, space: SearchSpace, n: int, seed: int) -> list[SubnetConfig]:
    """`n` distinct random subnets whose predictions cover the range evenly (quantile picks from a
    larger random draw), so the figures are not dominated by the crowded middle of the range."""
    batch = random_batch(space, OVERSAMPLE * n, np.random.default_rng(seed), predictor.resolution)
    order = np.argsort(predictor.predict_batch(batch), kind="stable")
    picked: list[SubnetConfig] = []
    for position in np.linspace(0, len(order) - 1, 4 * n).round().astype(int):
        config = decode(batch, int(order[position]), space)
        if config not in picked:
            picked.append(config)
    if len(picked) < n:
        raise UserError(f"could draw only {len(picked)} distinct subnets; ask for fewer --samples")
    chosen = np.linspace(0, len(picked) - 1, n).round().astype(int)
    return [picked[i] for i in chosen]


@dataclass(frozen=True)
class ValidationRun:
    configs: list[SubnetConfig]
    runs: list[ModelRun]  # each subnet's, as the runner reported it
    anchor_ms: float  # the LUT's context network, timed in the same session
    device_facts: dict[str, Any]
    program_bytes: list[int] | None = None  # each subnet's program's bytes, as timed

    @property
    def measured_ms(self) -> np.ndarray:
        return np.array([run.median_ms for run in self.runs])

    def observed(self, speed: float | None) -> list[Observed]:
        """Each subnet as every constraint reads its measured figure (`speed`: the session's, by the anchor)."""
        sizes = self.program_bytes or [None] * len(self.configs)
        return [Observed(run, speed, size) for run, size in zip(self.runs, sizes)]


def measure_subnets(
    configs: list[SubnetConfig], anchor: SubnetConfig, space: SearchSpace, device: Device, run_dir: Path, timing: TimingPlan, workers: int | None = None,
    log: Callable[[str], None] = print, predictor: LatencyPredictor | None = None, budget: TimeBudget | None = None,
) -> ValidationRun:
    """Time the subnets end to end in one interleaved session, with the LUT's anchor network beside
    them (`timing`: the LUT's `end_to_end_timing`). With a `budget`, slow subnets get fewer rounds,
    their cost taken from `predictor` (a LUT of this device) or else from a pilot round, and a
    terminal shows the session's time left (without one its time is not estimated)."""
    anchor_spec = ProbeSpec("net", anchor.resolution, anchor.to_json(), True)
    specs = {s.id: s for s in (ProbeSpec("net", c.resolution, c.to_json(), True) for c in configs)}
    predicted = {} if predictor is None else dict(zip([*specs, anchor_spec.id], map(float, predictor.predict_many([*configs, anchor]))))
    runner = runner_for(device)
    with runner.unattended(run_dir):  # from before the exports, which take minutes a phone would lock in
        artifacts = export_probes({**specs, anchor_spec.id: anchor_spec}, space.name, space.hash, device.backend, workers)
        models = {pid: (artifacts[pid].path, spec.input_shape) for pid, spec in {**specs, anchor_spec.id: anchor_spec}.items()}
        log(f"measuring {len(models)} subnets end to end on {device.name}, interleaved")
        timetable = Timetable(["validation"])

        def timed(chosen: TimingPlan, round_s: float) -> None:
            timetable.expect("validation", session_seconds(chosen, round_s))
            if budget is not None and chosen.runs < timing.runs:
                log(f"the subnets: {budget.explain(timing, chosen, round_s)}")

        timetable.start("validation", time.monotonic())
        with shown(timetable, f"{len(models)} subnets", show=budget is not None):
            result = run_session(device, run_dir, models, timing, runner=runner, budget=budget, latency_ms=predicted, on_timing=timed)
    run = RunResult.of(result)
    return ValidationRun(
        configs, [run.models[s] for s in specs], run.models[anchor_spec.id].median_ms, run.facts(), [program_bytes(artifacts[s].path) for s in specs],
    )


def validation_record(lut: Lut, predictor: LatencyPredictor, run: ValidationRun, device: Device, seed: int) -> dict[str, Any]:
    """Figures with the session's speed accounted for: predictions are scaled by how fast the LUT's
    anchor network ran in this session relative to its reference speed in the LUT (a measurement on
    the device, not a factor fitted to these subnets). The unscaled figures are kept as `raw_figures`.
    Every registered constraint that validates (peak memory, program size) adds its own section and
    its figures to each subnet's point."""
    raw = predictor.predict_many(run.configs)
    reference = lut.measurement.get("context_latency_ms")
    factor = run.anchor_ms / reference if reference else 1.0
    predicted = raw * factor
    subject, observed = Subject(lut, predictor.space, predictor.space), run.observed(factor if reference else None)
    parts = {name: part for name, c in CONSTRAINTS.items() if (part := c.validation(subject, run.configs, observed)) is not None}
    return {
        "lut_id": lut.id,
        "device": device.name,
        "device_facts": run.device_facts,
        "seed": seed,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "figures": figures(predicted, run.measured_ms),
        "raw_figures": figures(raw, run.measured_ms),
        "anchor": {"lut_reference_ms": reference, "session_ms": run.anchor_ms, "speed_factor": factor},
        "points": [
            {"config": c.to_dict(), "predicted_ms": float(p), "raw_predicted_ms": float(q), "measured_ms": float(m),
             **{k: v for part in parts.values() for k, v in part["points"][i].items()}}
            for i, (c, p, q, m) in enumerate(zip(run.configs, predicted, raw, run.measured_ms))
        ],
        **{name: part["record"] for name, part in parts.items()},
    }


def plot_validation(records: dict[str, dict[str, Any]], path: Path) -> Path:
    """Predicted vs measured, one marker set per LUT, with the ±10% band around the diagonal."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    values = [p[k] for r in records.values() for p in r["points"] for k in ("predicted_ms", "measured_ms")]
    line = np.linspace(min(values) * 0.9, max(values) * 1.1, 2)
    ax.plot(line, line, color="black", linewidth=1)
    ax.fill_between(line, line * 0.9, line * 1.1, color="grey", alpha=0.2, label="±10%")
    for label, r in records.items():
        f = r["figures"]
        ax.scatter(
            [p["measured_ms"] for p in r["points"]], [p["predicted_ms"] for p in r["points"]], s=14,
            label=f"{label}: {f['within_10']:.0%} within ±10%, ρ={f['spearman']:.3f}",
        )
    ax.set_xlabel("measured latency (ms)")
    ax.set_ylabel("predicted latency (ms)")
    first = next(iter(records.values()))
    ax.set_title(f"{first['device']}: {first['figures']['samples']} random subnets")
    ax.legend(fontsize=8)
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=120)
    return path


@dataclass(frozen=True)
class ValidationReport:
    device: str
    space: str
    resolution: int
    samples: int
    records: dict[str, dict[str, Any]]  # "<method> <lut id>" -> the record appended to that LUT's sidecar
    plot: Path
    lut_paths: list[Path]

    def to_json(self) -> dict[str, Any]:
        """`bench validate --json`: one LUT's figures at the top level, several under "luts" by id."""
        out = {
            label.split()[1]: {
                **r["figures"], "method": label.split()[0], "raw": r["raw_figures"], "speed_factor": r["anchor"]["speed_factor"],
                **{c.name: r.get(c.name) for c in CONSTRAINTS.values() if c.name != "latency"},
            }
            for label, r in self.records.items()
        }
        return {**next(iter(out.values())), "plot": str(self.plot)} if len(out) == 1 else {"luts": out, "plot": str(self.plot)}


def _check_once_each(refs: list[str], docs: list[Lut]) -> None:
    """Refuse a LUT given twice (by one id, a prefix and the id, or a copy's path): it would be
    validated twice on the same subnets, and its record would hold two runs that are one."""
    given: dict[str, str] = {}
    for ref, doc in zip(refs, docs):
        if doc.id in given:
            raise UserError(f"--lut {given[doc.id]} and --lut {ref} name one LUT ({doc.id}); give each LUT once")
        given[doc.id] = ref


def _check_comparable(docs: list[Lut], device: Device) -> None:
    first = docs[0]
    for doc in docs:
        if (doc.space_name, doc.space_hash, doc.resolution) != (first.space_name, first.space_hash, first.resolution):
            raise UserError(f"LUTs {first.id} and {doc.id} are for different spaces or resolutions; compare LUTs of one space and resolution")
        check_same_precision(doc, f"device {device.name}", get_backend(device.backend).precision, f"validate it on {'an' if doc.device.precision.startswith('int') else 'a'} {doc.device.precision} device such as --device {doc.device.name}")
        if doc.device.name != device.name:
            raise UserError(f"LUT {doc.id} was measured on {doc.device.name}, not {device.name}; validate it with --device {doc.device.name}")


def validate_luts(
    refs: list[str], device: Device, samples: int, seed: int, workers: int | None = None, log: Callable[[str], None] = print
) -> ValidationReport:
    """Measure `samples` random subnets once and validate every LUT given against them; each LUT's
    record goes into its sidecar and one scatter plot beside the first LUT shows them all. The
    subnets are timed in fewer rounds where the first LUT predicts them too slow for all of them
    within the time budget."""
    paths = [resolve_lut(ref) for ref in refs]
    docs = [read_lut(p) for p in paths]
    _check_once_each(refs, docs)
    _check_comparable(docs, device)
    for path, doc in zip(paths, docs):  # what is written after minutes of measuring is checked before them
        validation_runs(path, doc.id)
        check_output(validation_path(path), "the validation record")
    check_output(validation_plot_path(paths[0]), "the validation plot")
    first = docs[0]
    for doc in docs:
        if note := other_cpu(doc):
            log(f"note: {note}")
    space = load_space(first.space_name)
    predictors = [LatencyPredictor(doc, space) for doc in docs]
    configs = spread_subnets(predictors[0], space, samples, seed)
    run_dir = new_run_dir(f"validate-{device.name}-{space.name}-{first.resolution}-s{seed}-n{samples}")
    run = measure_subnets(
        configs, SubnetConfig.from_dict(first.context), space, device, run_dir, end_to_end_timing(first), workers, log, predictors[0], TimeBudget()
    )
    records = {}
    for path, doc, predictor in zip(paths, docs, predictors):
        records[f"{doc.method} {doc.id}"] = record = validation_record(doc, predictor, run, device, seed)
        append_validation(path, record)
    plot = plot_validation(records, validation_plot_path(paths[0]))
    return ValidationReport(device.name, space.name, first.resolution, samples, records, plot, paths)
