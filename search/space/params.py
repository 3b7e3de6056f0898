"""Exact parameter count of a subnet, computed from its config alone.

The search checks parameter budgets for hundreds of thousands of candidates, so this must not
build a model. It mirrors `search.supernet.static` layer by layer; a property test holds the two equal.
Norm layers count their affine weight and bias (BatchNorm and LayerNorm alike); buffers do not count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from search.space import SearchSpace
from search.space.additive import AdditiveTable
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch


def conv_norm_act(c_in: int, c_out: int, kernel: int) -> int:
    return kernel * kernel * c_in * c_out + 2 * c_out


def inverted_residual(c_in: int, c_out: int, expansion: float) -> int:
    hidden = int(c_in * expansion)
    return c_in * hidden + 2 * hidden + 9 * hidden + 2 * hidden + hidden * c_out + 2 * c_out


def transformer_layer(width: int, heads: int, head_dim: int, mlp_ratio: float) -> int:
    inner, hidden = heads * head_dim, int(width * mlp_ratio)
    norms = 2 * (2 * width)
    attention = 3 * (width * inner + inner) + inner * width + width
    mlp = width * hidden + hidden + hidden * width + width
    return norms + attention + mlp


def transformer_stage_fixed(c_in: int, width: int, transition_expansion: float) -> int:
    """Everything in a MobileViT stage except its transformer layers."""
    return (
        inverted_residual(c_in, width, transition_expansion)
        + conv_norm_act(width, width, 3)
        + width * width
        + 2 * width
        + conv_norm_act(width, width, 1)
        + conv_norm_act(2 * width, width, 3)
    )


def head(c_in: int, expansion: int, num_classes: int) -> int:
    hidden = c_in * expansion
    return conv_norm_act(c_in, hidden, 1) + hidden * num_classes + num_classes


def count_params(config: SubnetConfig, space: SearchSpace) -> int:
    total = conv_norm_act(3, config.stem, space.stem.kernel)
    prev = config.stem
    for st in config.mbconv:
        total += inverted_residual(prev, st.width, space.transition_expansion)
        total += (st.depth - 1) * inverted_residual(st.width, st.width, st.expansion)
        prev = st.width
    for st in config.transformer:
        total += transformer_stage_fixed(prev, st.width, space.transition_expansion)
        total += sum(transformer_layer(st.width, h, space.head_dim, r) for h, r in zip(st.heads, st.mlp_ratio))
        prev = st.width
    return total + head(prev, space.head.expansion, space.head.num_classes)


def part_params(space: SearchSpace) -> Callable[..., float]:
    """Parameters of one part, in the terms `search.space.additive` sums (the same parts as latency)."""
    te = space.transition_expansion

    def value(kind: str, stage: str | None = None, **p: Any) -> float:
        if kind == "overhead":
            return 0.0
        if kind == "stem":
            return conv_norm_act(3, p["width"], space.stem.kernel)
        if kind == "mbconv_transition":
            return inverted_residual(p["in_width"], p["width"], te)
        if kind == "mbconv_layer":
            return inverted_residual(p["width"], p["width"], p["expansion"])
        if kind == "transformer_shell":
            return transformer_stage_fixed(p["in_width"], p["width"], te)
        if kind == "transformer_layer":
            return transformer_layer(p["width"], p["heads"], space.head_dim, p["mlp_ratio"])
        if kind == "head":
            return head(p["width"], space.head.expansion, space.head.num_classes)
        raise ValueError(f"unknown part kind {kind!r}")

    return value


def params_batch(space: SearchSpace) -> Callable[[ConfigBatch], np.ndarray]:
    """Vectorised `count_params` over a batch of configs (exact: every part is an integer count)."""
    table = AdditiveTable(space, part_params(space))
    return lambda b: table.total(b).astype(np.int64)
