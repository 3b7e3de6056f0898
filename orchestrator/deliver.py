"""Deliver a found subnet: static checkpoint, `.pte`, `.mlpackage`, and its latency measured on the
LUT's device beside the LUT's anchor network.

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

from orchestrator.devices import Device
from orchestrator.errors import BenchError
from orchestrator.export.cache import export_probes
from orchestrator.export.coreml import save_mlpackage
from orchestrator.export.executorch import save_pte
from orchestrator.plan import ProbeSpec
from orchestrator.profile import FULL
from orchestrator.runners.registry import runner_for
from orchestrator.runners.session import run_session
from search.config import SubnetConfig
from search.deploy import deploy_form
from search.space import SearchSpace
from search.static import StaticSubnet


@dataclass
class Delivered:
    checkpoint: Path
    pte: Path
    partitions: int
    mlpackage: Path | None
    mlpackage_error: str | None


def deliver(static: StaticSubnet, classes: list[str], out: Path) -> Delivered:
    """Write the trained subnet as a static checkpoint and in both deployable formats."""
    config = static.config
    checkpoint = out / "best.pt"
    tmp = checkpoint.with_name(".best.pt.tmp")
    torch.save({"config": config.to_dict(), "classes": classes, "state_dict": static.state_dict()}, tmp)
    tmp.replace(checkpoint)
    deployable = deploy_form(copy.deepcopy(static).cpu().eval())
    example = torch.randn(1, 3, config.resolution, config.resolution)
    report = save_pte(deployable, example, out / "best.pte")
    try:
        save_mlpackage(deployable, example, out / "best.mlpackage")
        mlpackage, error = out / "best.mlpackage", None
    except Exception as exc:  # coremltools raises many types; the .pte is still delivered
        mlpackage, error = None, f"{type(exc).__name__}: {exc}"
    return Delivered(checkpoint, out / "best.pte", report.partitions, mlpackage, error)


def measure_found(
    pte: Path, config: SubnetConfig, lut: dict[str, Any], base_space: SearchSpace, device: Device, run_dir: Path, workers: int = 1
) -> dict[str, Any]:
    """Median latency of the delivered program and of the LUT's anchor, timed interleaved in one session.
    Raises BenchError when the device cannot be reached."""
    runner = runner_for(device)
    if device.backend != "pte":
        raise BenchError(f"{device.name} runs Core ML; measure best.mlpackage on it once its runner is available")
    anchor = ProbeSpec("net", lut["resolution"], SubnetConfig.from_dict(lut["context"]).to_json(), True)
    artifact = export_probes({anchor.id: anchor}, base_space.name, base_space.hash, device.backend, workers)[anchor.id]
    shape = [1, 3, config.resolution, config.resolution]
    result = run_session(device, run_dir, {"found": (pte, shape), "anchor": (artifact.path, anchor.input_shape)}, FULL.timing, FULL.seed, runner=runner)
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
