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
    exported = torch.export.export(model.eval(), (example,)).run_decompositions({})
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
