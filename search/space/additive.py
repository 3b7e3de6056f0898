"""A quantity that is a sum over a subnet's parts, vectorised over a `ConfigBatch`.

Latency (from a LUT) and parameter count are both such sums over the same parts (overhead, stem,
each stage's transition or shell for its input/output widths, its layers, the head), which is
what lets the coarse search price hundreds of thousands of candidates per second. `value(kind,
stage, **choices)` gives one part's amount, NaN where it is unknown; a NaN total marks a config
that needs an unknown part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from search.space import SearchSpace
from search.space.encoding import ConfigBatch, max_depth

PartValue = Callable[..., float]


class AdditiveTable:
    def __init__(self, space: SearchSpace, value: PartValue) -> None:
        self.space = space
        s = space
        self.overhead = value("overhead")
        self.stem = np.array([value("stem", width=w) for w in s.stem.width])
        self.transition: list[np.ndarray] = []
        self.mb_layer: list[np.ndarray] = []
        self.shell: list[np.ndarray] = []
        self.t_layer: list[np.ndarray] = []
        inputs = s.stem.width
        for ss in s.mbconv:
            self.transition.append(np.array([[value("mbconv_transition", ss.name, in_width=a, width=b) for b in ss.width] for a in inputs]))
            self.mb_layer.append(np.array([[value("mbconv_layer", ss.name, width=w, expansion=e) for e in ss.expansion] for w in ss.width]))
            inputs = ss.width
        for ss in s.transformer:
            self.shell.append(np.array([[value("transformer_shell", ss.name, in_width=a, width=b) for b in ss.width] for a in inputs]))
            self.t_layer.append(np.array([
                [[value("transformer_layer", ss.name, width=w, heads=h, mlp_ratio=r) for r in ss.mlp_ratio] for h in ss.heads]
                for w in ss.width
            ]))
            inputs = ss.width
        head: dict[Any, float] = {w: value("head", width=w) for w in s.head_widths}
        self.head_by_stage = [np.array([head.get(w, np.nan) for w in ss.width]) for ss in s.transformer]

    def total(self, b: ConfigBatch) -> np.ndarray:
        return np.sum(self.stage_totals(b), axis=0)

    def stage_totals(self, b: ConfigBatch) -> list[np.ndarray]:
        """The sum split by where each part sits: the overhead, stem and head first, then each MBConv
        stage (its transition and layers), then each transformer stage (its shell and layers; 0 where
        a subnet has fewer stages)."""
        n = len(b)
        fixed = np.full(n, self.overhead, dtype=float) + self.stem[b.stem]
        stages = []
        prev = b.stem
        for j in range(len(self.space.mbconv)):
            w = b.mb_width[:, j]
            stages.append(self.transition[j][prev, w] + (b.mb_depth[:, j] - 1) * self.mb_layer[j][w, b.mb_expansion[:, j]])
            prev = w
        layer_index = np.arange(max_depth(self.space))[None, :]
        last_head = np.full(n, np.nan)
        for i in range(len(self.space.transformer)):
            active = b.t_stages > i
            w = b.t_width[:, i]
            layers = self.t_layer[i][w[:, None], b.t_heads[:, i, :], b.t_ratio[:, i, :]]
            in_stage = layer_index < b.t_depth[:, i][:, None]
            stage = self.shell[i][prev, w] + np.where(in_stage, layers, 0.0).sum(axis=1)
            stages.append(np.where(active, stage, 0.0))
            last_head = np.where(b.t_stages == i + 1, self.head_by_stage[i][w], last_head)
            prev = np.where(active, w, prev)
        return [fixed + last_head, *stages]


def least_total(t: AdditiveTable, s: SearchSpace) -> float:
    """The least total `t` gives any subnet of the space, exactly, without enumerating subnets: the sum is additive along the network and each stage's choices
    interact with the rest only through the width it hands on, so a minimum over each stage
    given the width before it (a dynamic programme over widths) is the minimum over all subnets.
    A part the LUT lacks counts as +inf: a subnet needing it is an error, not a prediction."""

    def known(values: Any) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        return np.where(np.isnan(values), np.inf, values)

    def cheapest_layers(layer: np.ndarray, depths: tuple[int, ...]) -> np.ndarray:
        """Per width, the least cost of a stage's repeated layers over its depth choices."""
        return np.min([np.zeros_like(layer) if d == 0 else d * layer for d in depths], axis=0)

    best = known(t.overhead + t.stem)  # per stem width
    for j, ss in enumerate(s.mbconv):
        layers = cheapest_layers(known(t.mb_layer[j]).min(axis=1), tuple(d - 1 for d in ss.depth))
        best = (best[:, None] + known(t.transition[j])).min(axis=0) + layers
    least, previous = np.inf, None
    for i, ss in enumerate(s.transformer):
        step = best[:, None] + known(t.shell[i])
        if previous is not None and s.increasing_transformer_width:
            step = np.where(np.array(previous)[:, None] < np.array(ss.width)[None, :], step, np.inf)
        best = step.min(axis=0) + cheapest_layers(known(t.t_layer[i]).min(axis=(1, 2)), ss.depth)
        if i + 1 in s.num_transformer_stages:
            least = min(least, float((best + known(t.head_by_stage[i])).min()))
        previous = ss.width
    return least
