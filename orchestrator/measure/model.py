"""`bench measure`: end-to-end latency of one model through the same runner and contract as a profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from infra.errors import UserError
from infra.files import check_name
from orchestrator.export.backends import PTE, backend_of_file, get_backend
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.session import new_run_dir, run_session

TIMM_PREFIX = "timm:"


def _timm_model(name: str) -> tuple[Any, tuple[int, ...]]:
    import timm

    check_name(name, "timm model name")
    try:
        model = timm.create_model(name, pretrained=False)
    except RuntimeError as exc:
        raise UserError(f"timm has no model {name!r}; `python -c \"import timm; print(timm.list_models())\"` lists them") from exc
    return model.eval(), tuple(model.pretrained_cfg.get("input_size", (3, 224, 224)))


def _model_file(model: str, device: Device) -> Path:
    path = Path(model)
    if not path.exists():
        raise UserError(f"model file {path} does not exist; give a .pte, an .mlpackage or timm:NAME")
    backend = backend_of_file(path)
    if backend is None:
        raise UserError(f"{path} is neither a .pte nor an .mlpackage; give one of those or timm:NAME")
    if backend.format != get_backend(device.backend).format:
        raise UserError(f"{path.name} runs on {backend.runs_on}, and {device.name} runs {device.backend}; pick a matching --device")
    return path


def measure_model(model: str, device: Device, root: Path = Path("runs")) -> dict[str, Any]:
    """Check the model (a file of the device's format, or a timm model exported with the device's
    backend), then time it in a run directory of its own. A file runs as it was exported: an
    XNNPACK .pte measured on a portable device still runs XNNPACK, which the host and Android
    runtimes link."""
    runner = runner_for(device)
    backend = get_backend(device.backend)
    if model.startswith(TIMM_PREFIX):
        if backend.format != PTE.format:
            raise UserError(f"timm models are measured as ExecuTorch programs; {device.name} runs {device.backend}")
        name = model[len(TIMM_PREFIX) :]
        net, size = _timm_model(name)
        run_dir = new_run_dir(f"measure-{device.name}", root)
        path, shape = run_dir / f"{name}{backend.suffix}", [1, *size]
        with runner.unattended(run_dir):
            backend.export(net, torch.randn(*shape), path)
            result = run_session(device, run_dir, {"model": (path, shape)}, runner=runner)
    else:
        path = _model_file(model, device)
        shape = backend.input_shape(path)
        run_dir = new_run_dir(f"measure-{device.name}", root)
        result = run_session(device, run_dir, {"model": (path, shape)}, runner=runner)
    return {**result, "summary": result["models"][0]["summary"]}
