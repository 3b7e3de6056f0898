"""Core ML export: `torch.export` -> coremltools ML Program -> `.mlpackage`.

coremltools converts on Linux but cannot run Core ML models here; running happens on the iPhone.
"""

from __future__ import annotations

import time
from pathlib import Path

import coremltools as ct
import torch
from torch import nn

from search.files import atomic_folder

MINIMUM_TARGET = ct.target.iOS17


def save_mlpackage(model: nn.Module, example: torch.Tensor, path: Path, input_name: str = "input") -> float:
    """Convert to an ML Program and save it as `path` (a `.mlpackage` folder); returns seconds taken.

    The package is built beside its destination and swapped into place, so an interrupted
    conversion never leaves a half-written package where a reader would trust it, and replacing
    an existing package never leaves none.
    """
    start = time.perf_counter()
    exported = torch.export.export(model.eval(), (example,)).run_decompositions({})
    mlmodel = ct.convert(
        exported,
        inputs=[ct.TensorType(name=input_name, shape=tuple(example.shape))],
        convert_to="mlprogram",
        minimum_deployment_target=MINIMUM_TARGET,
        compute_precision=ct.precision.FLOAT16,
    )
    with atomic_folder(path) as built:
        mlmodel.save(str(built))
    return time.perf_counter() - start
