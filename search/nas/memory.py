"""The memory predictor: a subnet's memory on a device, from the memory its LUT's entries record.

Both figures are sums over the subnet's entries (`search.nas.predictor.parts`), as latency is:
`load_bytes` (what loading the model adds: weights, their packed copies, planned buffers) and
`peak_bytes` (the most memory while it loads and runs). Weights add up by nature; the peak adds up
because each fixed part of the LUT was measured as a truncation of the network before it, so the
parts' peak differences telescope to the peak of the whole skeleton, and a layer, whose shapes
leave the working set as it was, adds its weights (`orchestrator.lut.memory`). How well that holds
is what `bench validate` reports for memory, and `benchmarks/memory.py` on unseen subnets.

A LUT profiled before memory was measured, by a runner that measures none, by the isolated method
or by transfer, records none: asking it for memory is an error naming how to get a LUT that has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from search.nas.lut import Lut, LUTError, as_lut, check_space, entry_key
from search.nas.predictor import missing_entries, parts
from search.space import SearchSpace
from search.space.additive import AdditiveTable, least_total
from search.space.config import SubnetConfig, validate
from search.space.encoding import ConfigBatch, decode

MIB = 2**20
Z = 1.959963984540054  # the two-sided 95% normal quantile
KINDS = ("load_bytes", "peak_bytes")


class Memory(NamedTuple):
    load_bytes: float
    peak_bytes: float

    @classmethod
    def of(cls, measured: dict[str, Any]) -> Memory:
        """A model's memory as a runner reports it (`models[].memory` of the result contract)."""
        return cls(measured["load_bytes"], measured["peak_bytes"])

    def to_dict(self) -> dict[str, float]:
        return {"load_mib": self.load_bytes / MIB, "peak_mib": self.peak_bytes / MIB}


def no_memory(lut: Lut) -> str:
    """Why a LUT has no memory and how to get one that has, in one sentence's worth."""
    why = {"transfer": "a transfer LUT scales latency only", "isolated": "its blocks were measured alone"}.get(lut.method, "it was profiled before memory was measured, or its device's runner measures none")
    return f"LUT {lut.id} records no memory ({why}); profile the device with `bench profile --device {lut.device.name}` for a LUT that does"


def memory_words(lut: Lut) -> str:
    """How a LUT's memory was measured, in words, or why it has none."""
    if (record := lut.memory) is None:
        return no_memory(lut)
    return (f"each entry's load and peak by removal, as its latency ({record['method']}; a network's peak moved "
            f"{record['relative_sd']:.2%} from one session to the next)")


class MemoryPredictor:
    def __init__(self, lut: Lut | Mapping[str, Any], space: SearchSpace) -> None:
        lut = as_lut(lut)  # a document built in Python (a benchmark's) is checked as a file's is
        check_space(lut, space.name, space.hash)
        if lut.memory is None:
            raise LUTError(no_memory(lut))
        self.lut, self.space = lut, space
        self.record: dict[str, Any] = lut.measurement["memory"]
        self.memory = {k: {key: float(e["memory"][k]) for key, e in lut.entries.items()} for k in KINDS}
        self.tables = {k: AdditiveTable(space, self._value(k)) for k in KINDS}
        self._check_positive()

    def _check_positive(self) -> None:
        """A LUT whose memory entries add up to nothing or less for some subnet would let it pass
        any memory budget (a hand-edited LUT with negative entries, its id recomputed): the least
        total over the whole space (`least_total`) must be above zero, for each kind."""
        for kind in KINDS:
            if (least := least_total(self.tables[kind], self.space)) <= 0:
                raise LUTError(
                    f"LUT {self.lut.id} predicts as little as {least / MIB:.4g} MiB of {kind.split('_')[0]} memory for subnets of space "
                    f"{self.space.name!r} (its negative entries add up), and a model's memory cannot be zero or negative; rebuild it with `bench profile`"
                )

    def least(self, kind: str = "peak_bytes") -> float:
        """The least memory (bytes) of one kind this LUT predicts for any subnet of the space, exactly."""
        return least_total(self.tables[kind], self.space)

    def _value(self, kind: str) -> Any:
        return lambda part, stage=None, **params: self.memory[kind].get(entry_key(part, stage, **params), np.nan)

    def predict(self, config: SubnetConfig) -> Memory:
        validate(config, self.space)
        keys = [p.key for p in parts(config, self.space)]
        if missing := sorted({k for k in keys if k not in self.memory["peak_bytes"]}):
            raise missing_entries(self.lut, missing, config)
        load, peak = (sum(self.memory[k][key] for key in keys) for k in KINDS)
        return Memory(load, peak)

    def predict_batch(self, b: ConfigBatch, kind: str = "peak_bytes") -> np.ndarray:
        """One kind of memory (bytes) of every config of a batch; the same sum as `predict`, vectorised."""
        total = self.tables[kind].total(b)
        if (bad := np.flatnonzero(np.isnan(total))).size:
            self.predict(decode(b, int(bad[0]), self.space))
        return total

    def interval(self, value: float) -> tuple[float, float]:
        """Where a repeat measurement of a model predicted at `value` bytes would fall, from how far the
        LUT's networks moved between sessions: the measurement's spread, not the predictor's error
        (which `bench validate` measures)."""
        half = Z * self.record["relative_sd"] * value
        return value - half, value + half
