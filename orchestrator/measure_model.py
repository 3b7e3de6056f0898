"""`bench measure`: end-to-end latency of one model through the same runner and contract as a profile."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.devices import Device
from orchestrator.errors import BenchError
from orchestrator.profile import FULL
from orchestrator.runners.registry import runner_for
from orchestrator.runners.session import run_session

TIMM_PREFIX = "timm:"


def _pte_input_shape(path: Path) -> list[int]:
    from executorch.runtime import Runtime

    meta = Runtime.get().load_program(str(path)).metadata("forward")
    if meta.num_inputs() != 1:
        raise BenchError(f"{path} takes {meta.num_inputs()} inputs; `bench measure` feeds one image tensor")
    return list(meta.input_tensor_meta(0).sizes())


def _timm_to_pte(name: str, run_dir: Path) -> Path:
    import timm
    import torch

    from orchestrator.export.executorch import save_pte

    try:
        model = timm.create_model(name, pretrained=False)
    except RuntimeError as exc:
        raise BenchError(f"timm has no model {name!r}; `python -c \"import timm; print(timm.list_models())\"` lists them") from exc
    size = model.pretrained_cfg.get("input_size", (3, 224, 224))
    path = run_dir / f"{name}.pte"
    save_pte(model.eval(), torch.randn(1, *size), path)
    return path


def resolve_model(model: str, device: Device, run_dir: Path) -> Path:
    if model.startswith(TIMM_PREFIX):
        if device.backend != "pte":
            raise BenchError(f"timm models are measured as ExecuTorch programs; {device.name} runs {device.backend}")
        return _timm_to_pte(model[len(TIMM_PREFIX) :], run_dir)
    path = Path(model)
    if not path.exists():
        raise BenchError(f"model file {path} does not exist; give a .pte, an .mlpackage or timm:NAME")
    kind = {".pte": "pte", ".mlpackage": "coreml"}.get(path.suffix)
    if kind is None:
        raise BenchError(f"{path} is neither a .pte nor an .mlpackage; give one of those or timm:NAME")
    if kind != device.backend:
        runs_on = "iOS devices (Core ML)" if kind == "coreml" else "ExecuTorch devices (host, Android)"
        raise BenchError(f"{path.name} runs on {runs_on}, and {device.name} runs {device.backend}; pick a matching --device")
    return path


def measure_model(model: str, device: Device, run_dir: Path | None = None) -> dict[str, Any]:
    run_dir = run_dir or Path("runs") / f"measure-{device.name}-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    runner = runner_for(device)
    path = resolve_model(model, device, run_dir)
    shape = _pte_input_shape(path) if device.backend == "pte" else None
    if shape is None:
        raise BenchError("Core ML models are measured on an iPhone; no iOS runner is available in this version")
    result = run_session(device, run_dir, {"model": (path, shape)}, FULL.timing, FULL.seed, runner=runner)
    return {**result, "summary": result["models"][0]["summary"]}
