"""A search on an int8 LUT delivers an int8 model, and says what int8 cost in accuracy.

The LUT priced int8 programs, so the found subnet is quantized the way its device's backend
quantizes (PT2E, `search.supernet.quantize`) before it is timed and delivered. Its observers are calibrated
on training images, the first `INT8_CALIBRATION` (by default) of those BatchNorm is recalibrated
on, not on the fixed random inputs profiling uses: latency does not depend on them, accuracy does.
The quantized module computes as the int8 program does (up to the runtime's rounding), so its
accuracy on the held-out and test images, against the float32 model's on the same images, is the
drop the user pays for the precision.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from orchestrator.export.backends import Backend
from search.nas.significance import Proportion, mcnemar_p, proportion
from search.supernet.app_form import Unnormalised, app_inputs, app_module
from search.supernet.deploy import deploy_form
from search.supernet.quantize import quantized_module
from search.supernet.static import StaticSubnet
from search.training.data import STD

Batches = list[tuple[torch.Tensor, torch.Tensor]]


def calibration_images(batches: Batches, count: int) -> list[torch.Tensor]:
    """The first `count` images of `batches`, one tensor each: the quantized graph's shapes are static."""
    images = [x[i : i + 1].contiguous() for x, _ in batches for i in range(len(x))]
    return images[:count]


def quantized_model(static: StaticSubnet, backend: Backend, images: list[torch.Tensor]) -> torch.nn.Module:
    """`static` in its deploy form, quantized as `backend` quantizes, calibrated on `images`. A
    backend that delivers the app form (`Backend.app_form`) quantizes that form, whose stem holds
    the std and whose observers see other inputs, so that form is what is scored, fed the
    normalised images as it takes them: the accuracy reported is the delivered program's."""
    if backend.quantizer is None:
        raise ValueError(f"backend {backend.name} is not an int8 backend")
    deployable = deploy_form(copy.deepcopy(static).cpu().eval())
    if backend.app_form:
        inputs = app_inputs(images, STD)
        return torch.nn.Sequential(Unnormalised(STD), quantized_module(app_module(deployable, STD), inputs[0], backend.quantizer(), inputs))
    return quantized_module(deployable, images[0], backend.quantizer(), images)


@torch.no_grad()
def right_per_image(model: torch.nn.Module, batches: Batches) -> torch.Tensor:
    """Per image, whether `model`'s top-1 answer is right, one image at a time (static shapes)."""
    return torch.tensor([bool(model(x[i : i + 1].contiguous()).argmax(dim=1).item() == y[i].item()) for x, y in batches for i in range(len(x))])


def accuracy_drop(float_right: torch.Tensor, int8_right: torch.Tensor) -> dict[str, Any]:
    """float32 and int8 accuracy on the same images, with their intervals, the drop in points and
    the paired test of it (McNemar: the images one gets right and the other wrong)."""
    before: Proportion = proportion(int(float_right.sum()), len(float_right))
    after: Proportion = proportion(int(int8_right.sum()), len(int8_right))
    return {
        "float32": before.to_dict(), "int8": after.to_dict(), "drop_points": 100 * (before.value - after.value),
        "mcnemar_p": mcnemar_p(float_right, int8_right),
    }
