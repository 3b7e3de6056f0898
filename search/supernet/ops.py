"""Elastic primitives: layers allocated at their largest size that run on a leading slice.

Each keeps its full parameters; the forward slices views, so switching subnets never reallocates
(AutoFormer / once-for-all weight entanglement). Input sizes come from the input tensor, output
sizes are passed in. `sliced(name, shape)` gives the tensor a static layer of `shape` inherits;
it is the one place that knows a layer's slicing rule, used by both forward and extraction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def leading_slice(tensor: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    return tensor[tuple(slice(0, s) for s in shape)]


class ElasticModule(nn.Module):
    def sliced(self, name: str, shape: torch.Size) -> torch.Tensor:
        return leading_slice(getattr(self, name), shape)


class ElasticConv2d(ElasticModule):
    """A bias-free conv whose input may be `in_parts` equal blocks concatenated (MobileViT's fusion
    conv sees cat(x, y)): the active weight takes the leading channels of each block, not of the
    whole, so a narrow subnet's y-channels meet the weights the wide supernet trains on y."""

    def __init__(self, max_in: int, max_out: int, kernel: int, stride: int = 1, in_parts: int = 1) -> None:
        super().__init__()
        self.stride, self.padding, self.in_parts = stride, kernel // 2, in_parts
        self.weight = nn.Parameter(torch.empty(max_out, max_in, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")

    def sliced(self, name: str, shape: torch.Size) -> torch.Tensor:
        out_c, in_c = shape[0], shape[1]
        if self.in_parts == 1:
            return self.weight[:out_c, :in_c]
        max_part, part = self.weight.shape[1] // self.in_parts, in_c // self.in_parts
        return torch.cat([self.weight[:out_c, i * max_part : i * max_part + part] for i in range(self.in_parts)], dim=1)

    def forward(self, x: torch.Tensor, out_channels: int) -> torch.Tensor:
        k = self.weight.shape[-1]
        weight = self.sliced("weight", torch.Size((out_channels, x.shape[1], k, k)))
        return F.conv2d(x, weight, None, self.stride, self.padding)


class ElasticDepthwiseConv2d(ElasticModule):
    def __init__(self, max_channels: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.stride, self.padding = stride, kernel // 2
        self.weight = nn.Parameter(torch.empty(max_channels, 1, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        return F.conv2d(x, self.weight[:c], None, self.stride, self.padding, groups=c)


class ElasticBatchNorm(ElasticModule):
    """BatchNorm over the leading channels. Running statistics are updated through views of the
    full buffers (as in once-for-all), so every subnet trains the statistics it shares.
    Channels are dim 1: (B, C, H, W) feature maps and (tokens, C) transformer tokens alike."""

    def __init__(self, max_channels: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(max_channels))
        self.bias = nn.Parameter(torch.zeros(max_channels))
        self.register_buffer("running_mean", torch.zeros(max_channels))
        self.register_buffer("running_var", torch.ones(max_channels))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        if self.training:
            self.num_batches_tracked.add_(1)
        return F.batch_norm(
            x,
            self.running_mean[:c],
            self.running_var[:c],
            self.weight[:c],
            self.bias[:c],
            self.training,
            self.momentum,
            self.eps,
        )


class ElasticLayerNorm(ElasticModule):
    def __init__(self, max_channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(max_channels))
        self.bias = nn.Parameter(torch.zeros(max_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[-1]
        return F.layer_norm(x, (c,), self.weight[:c], self.bias[:c], self.eps)


class ElasticLinear(ElasticModule):
    def __init__(self, max_in: int, max_out: int) -> None:
        super().__init__()
        reference = nn.Linear(max_in, max_out)
        self.weight = nn.Parameter(reference.weight.detach().clone())
        self.bias = nn.Parameter(reference.bias.detach().clone())

    def forward(self, x: torch.Tensor, out_features: int) -> torch.Tensor:
        return F.linear(x, self.weight[:out_features, : x.shape[-1]], self.bias[:out_features])


def elastic_token_norm(kind: str, max_channels: int) -> ElasticModule:
    return ElasticBatchNorm(max_channels) if kind == "batchnorm" else ElasticLayerNorm(max_channels)
