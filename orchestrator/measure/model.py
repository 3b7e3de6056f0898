"""`bench measure`: end-to-end latency of one model through the same runner and contract as a profile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infra.errors import UserError
from infra.files import check_name
from orchestrator.export.backends import PTE, backend_of_file, get_backend
from orchestrator.measure.devices import Device, load_devices
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.runners.base import Runner
from orchestrator.measure.session import new_run_dir, run_session
from search.nas.run_result import RunResult

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


def _check_precision(path: Path, device: Device, devices_file: Path | None) -> None:
    """Refuse a program of another precision than the device's: the device's LUTs price programs of
    its precision, so a float32 program timed on an int8 device (or the reverse) gives a figure that
    compares with none of them, and the device's name alone does not show it."""
    runs = get_backend(device.backend)
    holds = runs.program_precision(path)
    if holds == runs.precision:
        return
    twin = next(
        (d for d in load_devices(devices_file).values()
         if d.platform == device.platform and d.match == device.match
         and get_backend(d.backend).format == runs.format and get_backend(d.backend).precision == holds),
        None,
    )
    elsewhere = f"measure it with --device {twin.name}" if twin else f"measure it on a device of {holds} programs"
    raise UserError(
        f"{path.name} is {_a(holds)} program and {device.name} runs {runs.precision} programs; "
        f"{elsewhere}, or give {_a(runs.precision)} program (a search whose budgets hold {device.name} delivers one as {runs.delivered_as})"
    )


def _a(precision: str) -> str:
    return f"an {precision}" if precision[0] in "aeiou" else f"a {precision}"


@dataclass(frozen=True)
class Program:
    """A model ready to time on a device: the program file, its input shape, and the run directory
    it is timed in (where a timm model was exported)."""

    path: Path
    shape: list[int]
    run_dir: Path


def program_for(model: str, device: Device, runner: Runner, root: Path = Path("runs"), devices_file: Path | None = None) -> Program:
    """Check the model (a file of the device's format and precision, or a timm model exported with
    the device's backend, the device held by `runner` meanwhile), in a run directory of its own made
    only once it passes; `devices_file` is where a device of the file's precision is looked for, to
    name it when the device's is another. A file runs as it was exported: an XNNPACK .pte measured
    on a portable device still runs XNNPACK, which the host and Android runtimes link."""
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
        return Program(path, shape, run_dir)
    path = _model_file(model, device)
    shape = backend.input_shape(path)
    _check_precision(path, device, devices_file)
    return Program(path, shape, new_run_dir(f"measure-{device.name}", root))


def measure_model(model: str, device: Device, root: Path = Path("runs"), devices_file: Path | None = None) -> dict[str, Any]:
    """The model (`program_for`) timed alone on the device, in its run directory."""
    runner = runner_for(device)
    program = program_for(model, device, runner, root, devices_file)
    result = run_session(device, program.run_dir, {"model": (program.path, program.shape)}, runner=runner)
    return {**result, "summary": dict(RunResult.of(result).models["model"].summary)}
