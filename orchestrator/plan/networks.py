"""Build the network a `ProbeSpec` describes, in its deploy form, with seeded random weights.

Latency does not depend on weight values for these float kernels, so random weights are fine;
seeding by the probe id makes every export of a probe byte-identical, which the export cache relies on.
"""

from __future__ import annotations

import json

import torch
from torch import nn

from orchestrator.plan.spec import ProbeSpec
from search.space import SearchSpace
from search.supernet.deploy import deploy_form
from search.supernet.static import ClassifierHead, MobileViTStage, StaticSubnet, TransformerLayer, conv_norm_act, inverted_residual


class OverheadNet(nn.Module):
    """The stand-in for an empty network: one elementwise op on the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1.0


class Truncated(nn.Module):
    """A static subnet without its classifier: the network ends at its last stage."""

    def __init__(self, net: StaticSubnet) -> None:
        super().__init__()
        self.stem, self.stages = net.stem, net.stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


class Pooled(nn.Module):
    """A truncated network ended by a global average pool: its output is a few numbers, where the
    feature map it pools would be megabytes copied out to the caller, in the memory it shows. The
    pool keeps its dimensions: without them the lowered program's working memory was 0.35 MiB more
    than the same network's unpooled (tiny at 128 px, after MBConv-3 or Transformer-4), with them
    the same to the page."""

    def __init__(self, net: StaticSubnet) -> None:
        super().__init__()
        self.stem, self.stages = net.stem, net.stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x)).mean((2, 3), keepdim=True)


class LayerAlone(nn.Module):
    """One transformer layer on its stage's tokens, for the isolated method."""

    def __init__(self, layer: TransformerLayer, seq_len: int) -> None:
        super().__init__()
        self.layer, self.seq_len = layer, seq_len

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x, self.seq_len)


def build_block(block: dict, space: SearchSpace) -> nn.Module:
    """The static module of one LUT entry's block, as it sits in the network."""
    kind, p, i = block["kind"], block["params"], block["stage"]
    stages = (*space.mbconv, *space.transformer)
    if kind == "stem":
        return conv_norm_act(3, p["width"], space.stem.kernel, space.stem.stride)
    if kind == "mbconv_transition":
        return inverted_residual(p["in_width"], p["width"], stages[i].stride, space.transition_expansion)
    if kind == "mbconv_layer":
        return inverted_residual(p["width"], p["width"], 1, p["expansion"])
    if kind == "transformer_shell":
        return MobileViTStage(p["in_width"], p["width"], stages[i].stride, space.transition_expansion, [], space.head_dim, space.norm, space.patch_size)
    if kind == "transformer_layer":
        layer = TransformerLayer(p["width"], p["heads"], space.head_dim, int(p["width"] * p["mlp_ratio"]), space.norm)
        return LayerAlone(layer, block["input_shape"][0] // space.patch_size**2)
    if kind == "head":
        return ClassifierHead(p["width"], space.head.expansion, space.head.num_classes)
    raise ValueError(f"no block of kind {kind!r}")


def build_probe(spec: ProbeSpec, space: SearchSpace) -> nn.Module:
    if spec.kind == "overhead":
        return OverheadNet().eval()
    torch.manual_seed(int(spec.id, 16) % 2**31)
    if spec.kind == "block":
        return deploy_form(build_block(json.loads(spec.block), space), in_place=True)
    net = StaticSubnet(spec.subnet_config(), space, strict=False)
    return deploy_form(net if spec.head else Pooled(net) if spec.pool else Truncated(net), in_place=True)
