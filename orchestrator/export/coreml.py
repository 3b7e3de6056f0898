"""Core ML export: `torch.export` -> coremltools ML Program -> `.mlpackage`.

coremltools converts on Linux but cannot run Core ML models here; running happens on the iPhone.

coremltools re-validates the whole MIL program after each of its ~100 graph passes, 20-30% of a
conversion; here the program is validated once, after the last pass. Validation only checks (it
never changes the program), so the package is byte-for-byte the one the stock converter writes
(tests/test_export.py compares them; `benchmarks/export_cost.py` measures the time).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import coremltools as ct
import torch
from torch import nn

from infra.files import atomic_folder

MINIMUM_TARGET = ct.target.iOS17


@contextlib.contextmanager
def _validated_once() -> Iterator[Callable[..., None]]:
    """Within the block the MIL program's validation does nothing; yields the real one to call at the end."""
    from coremltools.converters.mil.mil.program import Program

    stock = Program.validate
    Program.validate = lambda self, check_essential_scope=False: None  # type: ignore[method-assign]
    try:
        yield stock
    finally:
        Program.validate = stock  # type: ignore[method-assign]


def to_mlmodel(model: nn.Module, example: torch.Tensor, input_name: str = "input") -> ct.models.MLModel:
    """Convert an eval-mode copy of `model` to an fp16 ML Program."""
    return _converted(torch.export.export(model.eval(), (example,)), example, input_name)


def to_int8_mlmodel(model: nn.Module, example: torch.Tensor, calibration: list[torch.Tensor] | None = None, input_name: str = "input") -> tuple[ct.models.MLModel, str]:
    """`model` as an int8 ML Program, and which int8 it is: W8A8 (PT2E with `CoreMLQuantizer`,
    `quantize`), or, where that does not convert, int8 weights with fp16 activations
    (`linear_quantize_weights`, which needs no sample runs, so it works on Linux too)."""
    from search.supernet.quantize import coreml_quantizer, quantized_program

    try:
        return _converted(quantized_program(model, example, coreml_quantizer(), calibration), example, input_name), W8A8
    except Exception as exc:  # the quantizer and the converter raise many types for an op they do not take
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    config = ct.optimize.coreml.OptimizationConfig(global_config=ct.optimize.coreml.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", weight_threshold=0))
    return ct.optimize.coreml.linear_quantize_weights(to_mlmodel(model, example, input_name), config=config), f"{WEIGHT_ONLY} (W8A8 did not convert: {reason[:200]})"


W8A8 = "W8A8: int8 weights per channel, uint8 activations"
WEIGHT_ONLY = "int8 weights per channel, fp16 activations"


def _converted(exported: torch.export.ExportedProgram, example: torch.Tensor, input_name: str) -> ct.models.MLModel:
    exported = exported.run_decompositions({})
    with _validated_once() as validate:
        mlmodel = ct.convert(
            exported,
            inputs=[ct.TensorType(name=input_name, shape=tuple(example.shape))],
            convert_to="mlprogram",
            minimum_deployment_target=MINIMUM_TARGET,
            compute_precision=ct.precision.FLOAT16,
        )
    validate(mlmodel._mil_program)
    return mlmodel


def save_mlpackage(model: nn.Module, example: torch.Tensor, path: Path, input_name: str = "input") -> float:
    """Convert to an ML Program and save it as `path` (a `.mlpackage` folder); returns seconds taken.

    The package is built beside its destination and swapped into place, so an interrupted
    conversion never leaves a half-written package where a reader would trust it, and replacing
    an existing package never leaves none.
    """
    start = time.perf_counter()
    mlmodel = to_mlmodel(model, example, input_name)
    with atomic_folder(path) as built:
        mlmodel.save(str(built))
    return time.perf_counter() - start


def save_int8_mlpackage(model: nn.Module, example: torch.Tensor, path: Path, calibration: list[torch.Tensor] | None = None) -> str:
    """`to_int8_mlmodel` saved as `save_mlpackage` saves; returns which int8 it is."""
    mlmodel, scheme = to_int8_mlmodel(model, example, calibration)
    with atomic_folder(path) as built:
        mlmodel.save(str(built))
    return scheme
