"""Deliver a found subnet: static checkpoint, every format delivered always and the LUT's device's
own, and its latency measured on the LUT's device beside the LUT's anchor network.

The measured latency is reported twice: as measured, and at the LUT's reference speed (scaled by
how fast the anchor ran in this session against its latency in the LUT), because a machine's speed
drifts between sessions (±5-10% on our CI VM) and the budget was set against the LUT.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infra.files import atomic_path
from orchestrator.export.backends import BACKENDS, Backend
from orchestrator.export.cache import export_probes
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.session import run_session
from orchestrator.plan.spec import ProbeSpec
from search.space import SearchSpace
from search.space.config import SubnetConfig
from search.supernet.deploy import deploy_form
from search.supernet.static import StaticSubnet


@dataclass
class Delivered:
    checkpoint: Path
    artifacts: dict[str, Path]  # backend name -> the exported model
    facts: dict[str, dict[str, Any]]  # backend name -> what its exporter reported (partitions, ...)
    errors: dict[str, str]  # backend name -> why it could not be exported


def artifact_name(backend: Backend) -> str:
    """`best.pte`, `best.mlpackage`: a format's own backend (named after it) has the plain name, and
    another of that format adds its name (`best-pte-portable.pte`), so neither overwrites the other."""
    return f"best{backend.suffix}" if backend.name == backend.format else f"best-{backend.name}{backend.suffix}"


def deliver(static: StaticSubnet, classes: list[str], out: Path, required: str) -> Delivered:
    """Write the trained subnet as a static checkpoint, with every backend delivered always, and with
    the backend of the LUT's device (`required`), which must export; another that fails is reported,
    not raised, because converters raise many types and the model is still delivered for its device."""
    config = static.config
    checkpoint = out / "best.pt"
    with atomic_path(checkpoint) as tmp:
        torch.save({"config": config.to_dict(), "classes": classes, "fixed_shortcuts": static.fixed_shortcuts, "state_dict": static.state_dict()}, tmp)
    deployable = deploy_form(copy.deepcopy(static).cpu().eval())
    example = torch.randn(1, 3, config.resolution, config.resolution)
    delivered = Delivered(checkpoint, {}, {}, {})
    for backend in (b for b in BACKENDS.values() if b.delivered_always or b.name == required):
        path = out / artifact_name(backend)
        try:
            delivered.facts[backend.name] = backend.export(deployable, example, path)
        except Exception as exc:
            if backend.name == required:
                raise
            delivered.errors[backend.name] = f"{type(exc).__name__}: {exc}"
            continue
        delivered.artifacts[backend.name] = path
    return delivered


def measure_found(
    model: Path, config: SubnetConfig, lut: dict[str, Any], base_space: SearchSpace, device: Device, run_dir: Path, workers: int = 1
) -> dict[str, Any]:
    """Median latency of the delivered model (in the device's format) and of the LUT's anchor, timed
    interleaved in one session. Raises UserError when the device cannot be reached."""
    runner = runner_for(device)
    anchor = ProbeSpec("net", lut["resolution"], SubnetConfig.from_dict(lut["context"]).to_json(), True)
    shape = [1, 3, config.resolution, config.resolution]
    with runner.unattended(run_dir):
        artifact = export_probes({anchor.id: anchor}, base_space.name, base_space.hash, device.backend, workers)[anchor.id]
        result = run_session(device, run_dir, {"found": (model, shape), "anchor": (artifact.path, anchor.input_shape)}, runner=runner)
    median = {m["id"]: m["summary"]["median_ms"] for m in result["models"]}
    reference = lut["measurement"].get("context_latency_ms")
    speed = median["anchor"] / reference if reference else None
    return {
        "measured_ms": median["found"],
        "anchor_ms": median["anchor"],
        "anchor_lut_ms": reference,
        "session_speed": speed,
        "measured_ms_at_lut_speed": median["found"] / speed if speed else None,
        "device": device.name,
    }
