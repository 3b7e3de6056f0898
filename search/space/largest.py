"""The largest amount any one of a subnet's parts has, vectorised over a `ConfigBatch`, beside the sum
`AdditiveTable.total` gives from the same table.

A model's peak memory is not a sum over its parts: the runtime plans a network's activations (and
XNNPACK its workspace) so that a part's working memory is reused by the next, and the peak is the
load plus the largest working set along the network (docs/memory.md). The parts are the ones the
sum runs over: the overhead, the stem, each stage's transition or shell for its input and output
widths, each layer present, and the head.
"""

from __future__ import annotations

import numpy as np

from search.space import SearchSpace
from search.space.additive import AdditiveTable, PartValue, least_total
from search.space.encoding import ConfigBatch, max_depth


def largest_part(t: AdditiveTable, b: ConfigBatch) -> np.ndarray:
    """Per config of `b`, the largest value `t` gives any part it has; NaN where it has a part `t`
    does not know (as `AdditiveTable.total` is)."""
    space = t.space
    n = len(b)
    largest = np.maximum(np.full(n, t.overhead, dtype=float), t.stem[b.stem])
    prev = b.stem
    for j in range(len(space.mbconv)):
        w = b.mb_width[:, j]
        largest = np.maximum(largest, t.transition[j][prev, w])
        largest = np.maximum(largest, np.where(b.mb_depth[:, j] > 1, t.mb_layer[j][w, b.mb_expansion[:, j]], -np.inf))
        prev = w
    layer_index = np.arange(max_depth(space))[None, :]
    for i in range(len(space.transformer)):
        active = b.t_stages > i
        w = b.t_width[:, i]
        layers = t.t_layer[i][w[:, None], b.t_heads[:, i, :], b.t_ratio[:, i, :]]
        in_stage = layer_index < b.t_depth[:, i][:, None]
        stage = np.maximum(t.shell[i][prev, w], np.where(in_stage, layers, -np.inf).max(axis=1))
        largest = np.maximum(largest, np.where(active, stage, -np.inf))
        largest = np.maximum(largest, np.where(b.t_stages == i + 1, t.head_by_stage[i][w], -np.inf))
        prev = np.where(active, w, prev)
    return largest


def least_sum_and_largest(summed: PartValue, largest: PartValue, space: SearchSpace) -> float:
    """The least over every subnet of the space of (the sum of `summed` over its parts) + (the largest
    `largest` of any of its parts), exactly, without enumerating subnets: for each value T a part
    can have, the least sum over the subnets whose every part is at most T (`least_total`, the
    parts above T unknown), plus T; the least of these is the answer, since a subnet whose largest
    part is T is counted at T and at no smaller one."""
    values = AdditiveTable(space, largest)
    every = np.concatenate([np.atleast_1d(np.asarray(a, dtype=float)).ravel() for a in _arrays(values)])
    best = np.inf
    for bound in np.unique(every[np.isfinite(every)]):
        def within(kind: str, stage: str | None = None, bound: float = float(bound), **params: object) -> float:
            return summed(kind, stage, **params) if largest(kind, stage, **params) <= bound else np.nan

        best = min(best, float(bound) + least_total(AdditiveTable(space, within), space))
    return best


def _arrays(t: AdditiveTable) -> list[object]:
    return [t.overhead, t.stem, *t.transition, *t.mb_layer, *t.shell, *t.t_layer, *t.head_by_stage]
