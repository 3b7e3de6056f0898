"""Shared fixtures: the tiny space, a supernet with non-trivial BatchNorm statistics, cached exports."""

from __future__ import annotations

import random

import pytest
import torch

from search.space import SearchSpace, load_space
from search.supernet import Supernet


def randomise_norms(net: torch.nn.Module, seed: int = 0) -> None:
    """Give every norm layer non-identity statistics and affine weights, as a trained net has, so
    that a wrong slice of any of them shows up in the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if "Norm" not in type(m).__name__:
                continue
            for name, low, high in (("running_mean", -0.3, 0.3), ("running_var", 0.5, 1.5), ("weight", 0.5, 1.5), ("bias", -0.3, 0.3)):
                t = getattr(m, name, None)
                if isinstance(t, torch.Tensor):
                    t.copy_(torch.rand(t.shape, generator=gen) * (high - low) + low)


@pytest.fixture(scope="session")
def tiny() -> SearchSpace:
    return load_space("tiny")


@pytest.fixture(scope="session")
def tiny_supernet(tiny: SearchSpace) -> Supernet:
    torch.manual_seed(0)
    net = Supernet(tiny)
    randomise_norms(net)
    return net.eval()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)
