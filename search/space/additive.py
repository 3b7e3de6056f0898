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
