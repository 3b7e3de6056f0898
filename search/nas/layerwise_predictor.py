"""Pricing a layer-wise space's networks (FBNet) from a LUT: the overhead plus one entry per layer
for the block it holds, as a (layers x blocks) table so a million networks cost one gather. A
fitted LUT's margin (`measurement.fit.margin`, calibrated on out-of-fold networks) is what a
budget check adds: a network is within budget when its prediction times 1 + margin is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from search.nas.lut import Lut, LUTError, as_lut, check_space, entry_key
from search.space.layerwise import LayerwiseSpace


def layer_table(space: LayerwiseSpace, values: Mapping[str, float]) -> np.ndarray:
    """The (layers x blocks) table of an entry's figure, `values` keyed by entry key."""
    return np.array([[values[entry_key("layer", layer.stage, layer=layer.name, op=op.name)] for op in space.ops] for layer in space.layers])


def least(space: LayerwiseSpace, values: Mapping[str, float]) -> float:
    """The least total `values` give any network of the space: the overhead and each layer's cheapest block."""
    return _least(float(values["overhead"]), layer_table(space, values))


def _least(overhead: float, table: np.ndarray) -> float:
    return overhead + float(table.min(axis=1).sum())


class LayerwisePredictor:
    def __init__(self, lut: Lut | Any, space: LayerwiseSpace) -> None:
        self.lut, self.space = as_lut(lut), space
        check_space(self.lut, space.name, space.hash)
        entries = self.lut.entries
        missing = [entry_key("layer", layer.stage, layer=layer.name, op=op.name) for layer in space.layers for op in space.ops]
        missing = [k for k in ["overhead", *missing] if k not in entries]
        if missing:
            raise LUTError(f"LUT {self.lut.id} has no entry {missing[0]!r} ({len(missing)} missing) of space {space.name}; fit it again with `bench lut fit --space {space.name}`")
        latency = {key: float(e["latency_ms"]) for key, e in entries.items()}
        self.overhead, self.table = latency["overhead"], layer_table(space, latency)
        if self.least() <= 0:
            raise LUTError(f"LUT {self.lut.id} prices its fastest {space.name} network at {self.least():.3g} ms, which no network takes; fit it from more timings")
        fit = self.lut.measurement.get("fit")
        record = fit.get("margin") if isinstance(fit, dict) else None
        self.margin = float(record["relative"]) if isinstance(record, dict) and isinstance(record.get("relative"), (int, float)) else 0.0

    def least(self) -> float:
        return _least(self.overhead, self.table)

    def indices(self, networks: Sequence[Sequence[Any]] | np.ndarray) -> np.ndarray:
        array = np.asarray(networks)
        if array.ndim == 2 and np.issubdtype(array.dtype, np.integer) and array.shape[1] == len(self.space.layers) and array.size and 0 <= array.min() and array.max() < len(self.space.ops):
            return array
        return np.array([self.space.indices(list(n), f"network {i}") for i, n in enumerate(networks)]).reshape(-1, len(self.space.layers))

    def predict(self, networks: Sequence[Sequence[Any]] | np.ndarray) -> np.ndarray:
        """Milliseconds per network (rows of op indices or names)."""
        idx = self.indices(networks)
        return self.overhead + self.table[np.arange(len(self.space.layers))[None, :], idx].sum(axis=1)

    def within(self, networks: Sequence[Sequence[Any]] | np.ndarray, budget_ms: float, margin: float | None = None) -> np.ndarray:
        """Whether each network is within the budget with the LUT's calibrated margin (or `margin`)."""
        return self.predict(networks) * (1.0 + (self.margin if margin is None else margin)) <= budget_ms
