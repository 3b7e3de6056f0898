"""The app form of a subnet: the model an app feeds straight from its camera or photo library.

A subnet is trained on normalised images, `(x / 255 - mean_c) / std_c` per RGB channel. An app
hands Core ML pixels (0-255), and Core ML's image input can apply only one scale for all channels
and a bias per channel, so `1 / (255 * std_c)` is out of reach where the std differs between
channels (ImageNet's does). The image input therefore takes `x / 255 - mean_c` (scale 1/255, bias
`-mean_c`) and the per-channel `1 / std_c` goes into the stem's weights: the stem's convolution is
linear in its input, `W * (y / std) = (W / std) * y`, and its zero padding stays exact, since a
padded 0 of `y` is the padded 0 of the normalised image. A softmax at the end makes the outputs
the probabilities a classifier's dictionary promises, not logits.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn


def fold_std(model: nn.Module, std: Sequence[float]) -> nn.Module:
    """A copy of `model` (a static subnet, plain or in its deploy form) that takes `x / 255 - mean`
    where `model` takes `(x / 255 - mean) / std`: the stem convolution's weights divided by `std`
    along their input channels."""
    folded = copy.deepcopy(model).eval()
    conv = getattr(getattr(folded, "stem", None), "conv", None)
    if not isinstance(conv, nn.Conv2d) or conv.in_channels != len(std):
        raise ValueError(f"the model has no stem convolution of {len(std)} input channels to fold the normalisation's std into")
    with torch.no_grad():
        conv.weight.div_(torch.tensor(std, dtype=conv.weight.dtype).view(1, -1, 1, 1))
    return folded


def app_module(model: nn.Module, std: Sequence[float]) -> nn.Module:
    """`model` with `std` folded into its stem (`fold_std`) and a softmax over its classes."""
    return nn.Sequential(fold_std(model, std), nn.Softmax(dim=1)).eval()


class Unnormalised(nn.Module):
    """A normalised image made into what the app form takes (`x / 255 - mean`): multiplied by the
    std per channel. It scores an app-form module on the data's images as they are loaded."""

    def __init__(self, std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std


def app_inputs(images: Sequence[torch.Tensor], std: Sequence[float]) -> list[torch.Tensor]:
    """Normalised images as the app form takes them, for observers calibrated on its inputs."""
    scale = Unnormalised(std)
    return [scale(x) for x in images]
