"""Core ML export: `torch.export` -> coremltools ML Program -> `.mlpackage`.

coremltools converts on Linux but cannot run Core ML models here; running happens on the iPhone.

coremltools re-validates the whole MIL program after each of its ~100 graph passes, 20-30% of a
conversion; here the program is validated once, after the last pass. Validation only checks (it
never changes the program), so the package is byte-for-byte the one the stock converter writes
(tests/test_export.py compares them; `benchmarks/export_cost.py` measures the time).

A search's found model is converted to its app form (`app`, `coreml_app`): an image input with the
normalisation folded in and the class labels. The LUT's probe networks keep their tensor input.
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
from orchestrator.export.coreml_app import AppInput, classifier, image_input, with_named_outputs

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


def to_mlmodel(model: nn.Module, example: torch.Tensor, input_name: str = "input", app: AppInput | None = None) -> ct.models.MLModel:
    """Convert an eval-mode copy of `model` to an fp16 ML Program: of one tensor input, or, with
    `app`, the classifier an app feeds images (`coreml_app`)."""
    module = app.module(model) if app is not None else model.eval()
    return _converted(torch.export.export(module, (example,)), example, input_name, app)


def to_int8_mlmodel(
    model: nn.Module, example: torch.Tensor, calibration: list[torch.Tensor] | None = None, input_name: str = "input", app: AppInput | None = None,
) -> tuple[ct.models.MLModel, str]:
    """`model` as an int8 ML Program, and which int8 it is: W8A8 (PT2E with `CoreMLQuantizer`,
    `quantize`), or, where that does not convert, int8 weights with fp16 activations
    (`linear_quantize_weights`, which needs no sample runs, so it works on Linux too). With `app`,
    its app form is quantized, its observers calibrated on the images as that form takes them."""
    from search.supernet.quantize import coreml_quantizer, quantized_program

    module = app.module(model) if app is not None else model.eval()
    images = app.inputs(calibration) if app is not None and calibration is not None else calibration
    try:
        return _converted(quantized_program(module, example, coreml_quantizer(), images), example, input_name, app), W8A8
    except Exception as exc:  # the quantizer and the converter raise many types for an op they do not take
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    config = ct.optimize.coreml.OptimizationConfig(global_config=ct.optimize.coreml.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", weight_threshold=0))
    converted = _converted(torch.export.export(module, (example,)), example, input_name, app)
    return ct.optimize.coreml.linear_quantize_weights(converted, config=config), f"{WEIGHT_ONLY} (W8A8 did not convert: {reason[:200]})"


W8A8 = "W8A8: int8 weights per channel, uint8 activations"
WEIGHT_ONLY = "int8 weights per channel, fp16 activations"


def _converted(exported: torch.export.ExportedProgram, example: torch.Tensor, input_name: str, app: AppInput | None = None) -> ct.models.MLModel:
    exported = exported.run_decompositions({})
    shape = tuple(example.shape)
    with _validated_once() as validate:
        mlmodel = ct.convert(
            exported,
            inputs=[image_input(app, shape) if app is not None else ct.TensorType(name=input_name, shape=shape)],
            classifier_config=classifier(app) if app is not None else None,
            convert_to="mlprogram",
            minimum_deployment_target=MINIMUM_TARGET,
            compute_precision=ct.precision.FLOAT16,
        )
    validate(mlmodel._mil_program)
    return with_named_outputs(mlmodel) if app is not None else mlmodel


def save_mlpackage(model: nn.Module, example: torch.Tensor, path: Path, input_name: str = "input", app: AppInput | None = None) -> float:
    """Convert to an ML Program and save it as `path` (a `.mlpackage` folder); returns seconds taken.

    The package is built beside its destination and swapped into place, so an interrupted
    conversion never leaves a half-written package where a reader would trust it, and replacing
    an existing package never leaves none.
    """
    start = time.perf_counter()
    mlmodel = to_mlmodel(model, example, input_name, app)
    with atomic_folder(path) as built:
        mlmodel.save(str(built))
    return time.perf_counter() - start


def save_int8_mlpackage(
    model: nn.Module, example: torch.Tensor, path: Path, calibration: list[torch.Tensor] | None = None, app: AppInput | None = None,
) -> str:
    """`to_int8_mlmodel` saved as `save_mlpackage` saves; returns which int8 it is."""
    mlmodel, scheme = to_int8_mlmodel(model, example, calibration, app=app)
    with atomic_folder(path) as built:
        mlmodel.save(str(built))
    return scheme
