"""`bench measure`: end-to-end latency of one model through the same runner and contract as a profile."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.export.backends import PTE, backend_of_file, get_backend
from orchestrator.measure.devices import Device
from orchestrator.measure.runners.registry import runner_for
from orchestrator.measure.session import run_session
from search.errors import UserError

TIMM_PREFIX = "timm:"


def _timm_model(name: str, run_dir: Path) -> Path:
    import timm
    import torch

    try:
        model = timm.create_model(name, pretrained=False)
    except RuntimeError as exc:
        raise UserError(f"timm has no model {name!r}; `python -c \"import timm; print(timm.list_models())\"` lists them") from exc
    size = model.pretrained_cfg.get("input_size", (3, 224, 224))
    path = run_dir / f"{name}{PTE.suffix}"
    PTE.export(model.eval(), torch.randn(1, *size), path)
    return path


def resolve_model(model: str, device: Device, run_dir: Path) -> Path:
    if model.startswith(TIMM_PREFIX):
        if device.backend != PTE.name:
            raise UserError(f"timm models are measured as ExecuTorch programs; {device.name} runs {device.backend}")
        return _timm_model(model[len(TIMM_PREFIX) :], run_dir)
    path = Path(model)
    if not path.exists():
        raise UserError(f"model file {path} does not exist; give a .pte, an .mlpackage or timm:NAME")
    backend = backend_of_file(path)
    if backend is None:
        raise UserError(f"{path} is neither a .pte nor an .mlpackage; give one of those or timm:NAME")
    if backend.name != device.backend:
        raise UserError(f"{path.name} runs on {backend.runs_on}, and {device.name} runs {device.backend}; pick a matching --device")
    return path


def measure_model(model: str, device: Device, run_dir: Path | None = None) -> dict[str, Any]:
    run_dir = run_dir or Path("runs") / f"measure-{device.name}-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    runner = runner_for(device)
    path = resolve_model(model, device, run_dir)
    shape = get_backend(device.backend).input_shape(path)
    result = run_session(device, run_dir, {"model": (path, shape)}, runner=runner)
    return {**result, "summary": result["models"][0]["summary"]}
