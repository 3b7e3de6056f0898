"""Build the network a `ProbeSpec` describes, in its deploy form, with seeded random weights.

Latency does not depend on weight values for these float kernels, so random weights are fine;
seeding by the probe id makes every export of a probe byte-identical, which the export cache relies on.
"""

from __future__ import annotations

import torch
from torch import nn

from orchestrator.plan import ProbeSpec
from search.deploy import deploy_form
from search.space import SearchSpace
from search.static import StaticSubnet


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


def build_probe(spec: ProbeSpec, space: SearchSpace) -> nn.Module:
    if spec.kind == "overhead":
        return OverheadNet().eval()
    torch.manual_seed(int(spec.id, 16) % 2**31)
    net = StaticSubnet(spec.subnet_config(), space, strict=False)
    return deploy_form(net if spec.head else Truncated(net))
