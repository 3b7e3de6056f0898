"""Accuracy of a subnet with inherited weights: extract, recalibrate BatchNorm, evaluate.

A subnet's BatchNorm statistics in the supernet are a mix over every subnet trained through the
shared layers, so they are wrong for any one subnet (OFA, AttentiveNAS). Each evaluated subnet is
extracted as a static copy, its BatchNorm statistics are re-estimated on cached training batches
(cumulative average, train mode, no gradient), then it is evaluated on the held-out batches. The
copy is thrown away, so the supernet is never modified and results do not depend on order.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import torch
from torch import nn

from search.space.config import SubnetConfig
from search.supernet.extract import extract
from search.supernet.model import Supernet
from search.supernet.static import StaticSubnet
from search.training.scored import scored

Batches = list[tuple[torch.Tensor, torch.Tensor]]


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Batches, device: torch.device) -> None:
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for x, _ in batches:
        model(x.to(device, non_blocking=True))
    model.eval()


@torch.no_grad()
def correct(model: nn.Module, batches: Batches, device: torch.device) -> torch.Tensor:
    """Per image, whether the top-1 prediction is right (what paired comparisons of two models need)."""
    model.eval()
    return torch.cat([model(x.to(device, non_blocking=True)).argmax(dim=1).cpu() == y for x, y in batches])


@torch.no_grad()
def one_output(model: nn.Module, batches: Batches, device: torch.device) -> bool:
    """Whether `model` gives the same logits for every image of `batches` (two at least): an
    output that does not depend on the image (an all-zero classifier) answers one class for all,
    so its accuracy is that class's share of the images, whatever the subnet."""
    model.eval()
    logits = torch.cat([model(x.to(device, non_blocking=True)).float().cpu() for x, _ in batches])
    return len(logits) > 1 and bool((logits - logits[0]).abs().max() <= 1e-6 * (1 + logits.abs().max()))


def accuracy(model: nn.Module, batches: Batches, device: torch.device) -> float:
    """Top-1 accuracy in [0, 1]: the count right over the count, exactly as the counts reported
    beside it give it (a float32 mean is 0.15000000596 for 6 of 40, where they say 0.15)."""
    right = correct(model, batches, device)
    return int(right.sum()) / len(right)


def _recalibrated_channels_last(supernet: Supernet, config: SubnetConfig, calibration: Batches, device: torch.device) -> StaticSubnet:
    """In channels-last layout, which recalibrates and evaluates 1.7x faster on this CPU (the same
    arithmetic, other oneDNN kernels; benchmarks/train_search.py evaluation)."""
    static = extract(supernet, config).to(device, memory_format=torch.channels_last)
    recalibrate_batchnorm(static, calibration, device)
    return static


def recalibrated(supernet: Supernet, config: SubnetConfig, calibration: Batches, device: torch.device) -> StaticSubnet:
    """The subnet as a static copy with BatchNorm statistics of its own (what is evaluated and
    delivered), in the default layout, which is what the exporters take."""
    return _recalibrated_channels_last(supernet, config, calibration, device).to(memory_format=torch.contiguous_format)


def subnet_accuracy(supernet: Supernet, config: SubnetConfig, calibration: Batches, holdout: Batches, device: torch.device) -> float:
    return accuracy(_recalibrated_channels_last(supernet, config, calibration, device), holdout, device)


class Evaluator:
    """Held-out accuracy per config, computed once: the search asks for the same config many times
    (parents survive generations, children repeat). `cache` is the caller's store, filled as
    subnets are scored, so scores outlive one search where the caller keeps them (a benchmark's
    on-disk cache); the search state saves each evaluated subnet's score itself."""

    def __init__(
        self, supernet: Supernet, calibration: Batches, holdout: Batches, device: torch.device, cache: MutableMapping[str, float] | None = None,
    ) -> None:
        self.supernet, self.calibration, self.holdout, self.device = supernet, calibration, holdout, device
        self.cache: MutableMapping[str, float] = {} if cache is None else cache

    def __call__(self, config: SubnetConfig) -> float:
        key = config.hash
        if key not in self.cache:
            self.cache[key] = subnet_accuracy(self.supernet, config, self.calibration, self.holdout, self.device)
        return self.cache[key]

    def many(self, configs: list[SubnetConfig]) -> list[float]:
        """Accuracies of `configs`, in their order: the batch form the search calls once per
        generation (and `search.training.distributed.map_shared` calls with each rank's share),
        saying after each how far through the batch it is (`scored`: the search shows it)."""
        accuracies: list[float] = []
        for config in configs:
            accuracies.append(self(config))
            scored(len(accuracies), len(configs))
        return accuracies
