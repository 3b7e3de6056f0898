"""Deliver a found subnet: static checkpoint, every format delivered always and the LUT's device's
own, and its latency measured on the LUT's device beside the LUT's anchor network.

The measured latency is reported twice: as measured, and at the LUT's reference speed (scaled by
how fast the anchor ran in this session against its latency in the LUT), because a machine's speed
drifts between sessions (±5-10% on our CI VM) and the budget was set against the LUT.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from infra.errors import UserError
from infra.files import atomic_path
from infra.staged import Owned
from orchestrator.export.backends import BACKENDS, Backend
from orchestrator.export.coreml_app import AppInput
from orchestrator.export.probes import export_probes
from orchestrator.export.trained import export_trained
from orchestrator.lut.settings import end_to_end_timing
from orchestrator.measure.budget import TimeBudget
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.session import run_session
from orchestrator.plan.spec import ProbeSpec
from search.nas.constraints import Observed
from search.nas.constraints.size import program_bytes
from search.nas.lut import Lut
from search.nas.predictor import LatencyPredictor
from search.nas.run_result import ModelRun, RunResult
from search.space import SearchSpace
from search.space.config import SubnetConfig
from search.supernet.deploy import deploy_form
from search.supernet.digest import weights_digest
from search.supernet.found import DELIVERED
from search.supernet.static import StaticSubnet
from search.training.data import MEAN, STD


@dataclass
class Delivered:
    checkpoint: Path
    artifacts: dict[str, Path]  # backend name -> the exported model
    facts: dict[str, dict[str, Any]]  # backend name -> what its exporter reported (partitions, ...)
    errors: dict[str, str]  # backend name -> why it could not be exported


def delivery_names() -> Owned:
    """Every file a delivery may hold in a run folder: a new delivery replaces these as a whole, so
    one of an earlier delivery that the new one lacks (its int8 program, a Core ML package that no
    longer converts) is removed rather than left beside another model. The rule is the search
    layer's (`search.supernet.found.DELIVERED`), where `load_found` reads a run folder by it."""
    return DELIVERED


def deliver(
    static: StaticSubnet, classes: list[str], out: Path, required: Collection[str], exported: Mapping[str, tuple[Path, dict[str, Any]]] | None = None,
    calibration: list[torch.Tensor] | None = None,
) -> Delivered:
    """Write the trained subnet as a static checkpoint, with every backend delivered always, and with
    the backends of the held devices (`required`), which must export; another that fails is
    reported, not raised, because converters raise many types and the model is still delivered for
    its devices. `exported`: by backend, the model already exported and what its exporter reported
    (the measured finish timed it), moved in rather than exported again, so what was measured is
    what is delivered. `calibration`: the images a quantizing backend's observers see."""
    config = static.config
    exported = exported or {}
    checkpoint = out / "best.pt"
    with atomic_path(checkpoint) as tmp:
        torch.save({"config": config.to_dict(), "classes": classes, "fixed_shortcuts": static.fixed_shortcuts, "state_dict": static.state_dict()}, tmp)
    delivered = Delivered(checkpoint, {}, {}, {})
    for backend in (b for b in BACKENDS.values() if b.delivered_always or b.name in required):
        path = out / backend.delivered_as
        if backend.name in exported:
            exported[backend.name][0].replace(path)
            delivered.artifacts[backend.name], delivered.facts[backend.name] = path, exported[backend.name][1]
            continue
        try:
            delivered.facts[backend.name] = export_model(static, backend, path, calibration if backend.quantizer is not None else None, classes=classes)
        except Exception as exc:
            if backend.name in required:
                raise UserError(
                    f"the found subnet {config.hash} could not be exported for {backend.name}, a held device's backend ({first_line(exc)}), so "
                    "nothing was delivered and the run folder keeps what it held; report it with the run folder's delivery.log"
                ) from exc
            delivered.errors[backend.name] = f"{type(exc).__name__}: {exc}"
            continue
        delivered.artifacts[backend.name] = path
    return delivered


def app_input(classes: Sequence[str]) -> AppInput:
    """A found model's app form: its labels, and the normalisation every supernet is trained on."""
    return AppInput(tuple(classes), MEAN, STD)


def first_line(exc: BaseException) -> str:
    """An exception as one short line: converters' messages run to pages of graph dumps."""
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"


def export_model(
    static: StaticSubnet, backend: Backend, path: Path, calibration: list[torch.Tensor] | None = None, classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A trained subnet in its deploy form, exported by `backend` to `path` (through the export cache,
    keyed by its configuration and weights); what the exporter reported. `calibration`: the images
    an int8 backend's observers see (`int8.calibration_images`); a float backend has none.
    `classes`: the labels of its outputs in order, with which a backend that has an app form
    (`Backend.app_form`) exports that form, so the program timed is the program delivered."""
    identity = {"config": static.config.to_dict(), "fixed_shortcuts": static.fixed_shortcuts, "weights": weights_digest(static.state_dict())}
    extra: dict[str, Any] = {}
    if calibration is not None:
        identity["calibration"] = weights_digest({str(i): x for i, x in enumerate(calibration)})
        extra["calibration"] = calibration
    if backend.app_form and classes is not None:
        extra["app"] = app_input(classes)
        identity["app"] = extra["app"].identity()

    def export(target: Path) -> dict[str, Any]:
        deployable = deploy_form(copy.deepcopy(static).cpu().eval())
        example = torch.randn(1, 3, static.config.resolution, static.config.resolution)
        return backend.export(deployable, example, target, **extra)

    return export_trained(identity, backend.name, path, export)


@dataclass(frozen=True)
class Timed:
    """A session of models timed beside the LUT's anchor network: each model's median, and the
    session's speed against the LUT's (the anchor's median over its latency in the LUT)."""

    measured_ms: dict[str, float]
    anchor_ms: float
    anchor_lut_ms: float | None
    device: str
    memory: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # each model's memory as the runner measured it (None: it measures none)
    program_bytes: dict[str, int] = field(default_factory=dict)  # each model's program's bytes, as timed
    anchor_memory: dict[str, Any] | None = None  # the anchor network's memory as the runner measured it (None: it measures none)
    runs: dict[str, ModelRun] = field(default_factory=dict)  # each model's run as the runner reported it (empty: known by its figures only)

    def observed(self, model: str) -> Observed:
        """What the session says of one model, as every constraint reads its figure from it."""
        run = self.runs.get(model) or ModelRun.timed(self.measured_ms[model], self.memory.get(model))
        return Observed(run, self.session_speed, self.program_bytes.get(model))

    @property
    def session_speed(self) -> float | None:
        return self.anchor_ms / self.anchor_lut_ms if self.anchor_lut_ms else None

    def at_lut_speed(self, model: str) -> float:
        """A model's latency at the speed the LUT was measured at (as measured where the LUT has no anchor)."""
        speed = self.session_speed
        return self.measured_ms[model] / speed if speed else self.measured_ms[model]

    def record(self, model: str) -> dict[str, Any]:
        """What result.json says of one model's measurement."""
        return {
            "measured_ms": self.measured_ms[model], "anchor_ms": self.anchor_ms, "anchor_lut_ms": self.anchor_lut_ms,
            "session_speed": self.session_speed, "measured_ms_at_lut_speed": self.at_lut_speed(model) if self.session_speed else None,
            "device": self.device, "memory": self.memory.get(model),
        }


def time_models(
    models: dict[str, Path], resolution: int, lut: Lut, base_space: SearchSpace, device: Device, run_dir: Path, workers: int = 1,
    predicted_ms: Mapping[str, float] | None = None, shapes: Mapping[str, Sequence[int]] | None = None,
) -> Timed:
    """Models (id -> file in the device's format) and the LUT's anchor timed interleaved in one
    session, in the LUT's bursts (`end_to_end_timing`): on a phone, one request; on a slow device,
    the rounds that fit the session's time budget (`TimeBudget`), priced from `predicted_ms` (the
    LUT's predictions of the models) and the anchor's LUT latency (its prediction where the LUT has
    none), else from a pilot round. `shapes`: a model's input shape where it is not [1, 3, resolution,
    resolution] (`bench measure --lut` times any model). Raises UserError when the device cannot be reached."""
    runner = runner_for(device)
    anchor = ProbeSpec("net", lut.resolution, SubnetConfig.from_dict(lut.context).to_json(), True)
    shape = [1, 3, resolution, resolution]
    with runner.unattended(run_dir):
        artifact = export_probes({anchor.id: anchor}, base_space.name, base_space.hash, device.backend, workers)[anchor.id]
        session = {**{name: (path, (shapes or {}).get(name, shape)) for name, path in models.items()}, ANCHOR: (artifact.path, anchor.input_shape)}
        anchor_ms = lut.measurement.get("context_latency_ms") or LatencyPredictor(lut, base_space).predict(SubnetConfig.from_dict(lut.context))
        known = {**(predicted_ms or {}), ANCHOR: anchor_ms}
        result = run_session(device, run_dir, session, end_to_end_timing(lut), runner=runner, budget=TimeBudget(), latency_ms=known)
    run = RunResult.of(result)
    median, memory = run.medians_ms(), run.memory()
    return Timed({name: median[name] for name in models}, median[ANCHOR], lut.measurement.get("context_latency_ms"), device.name,
                 {name: memory[name] for name in models}, {name: program_bytes(path) for name, path in models.items()}, memory[ANCHOR],
                 {name: run.models[name] for name in models})


ANCHOR = "anchor"  # the anchor network's id in a session of found models (theirs are config hashes)
