"""A price that is the sum of one field of a LUT's entries over a subnet's parts (program size's
`size_bytes`, load time's `load_ms`), vectorised by the additive table, with the least total
over the space known exactly: what a constraint profiled per entry by removal prices with."""

from __future__ import annotations

import numpy as np

from search.nas.constraints.base import Constraint, Price, Subject
from search.nas.lut import LUTError, entry_key
from search.nas.predictor import missing_entries, parts
from search.space.additive import AdditiveTable, least_total
from search.space.config import SubnetConfig, validate
from search.space.encoding import ConfigBatch, decode


class EntrySumPrice(Price):
    """The constraint's `entry_field` summed over the parts, divided by `scale` (bytes to MiB);
    refused where the LUT records no such field (`Constraint.not_recorded`), and where its least
    subnet sums to 0 or less (`impossible`: what such a total would mean, in words)."""

    scale: float = 1.0
    impossible: str

    def __init__(self, constraint: Constraint, subject: Subject) -> None:
        super().__init__(constraint, subject)
        lut, space = subject.lut, subject.base_space
        if not constraint.recorded(lut):
            raise LUTError(constraint.not_recorded(lut))
        self.values = {key: float(e[constraint.entry_field]) for key, e in lut.entries.items()}
        self.table = AdditiveTable(space, lambda kind, stage=None, **p: self.values.get(entry_key(kind, stage, **p), np.nan))
        if (least := least_total(self.table, space)) <= 0:
            raise LUTError(
                f"LUT {lut.id} predicts as little as {least / self.scale:.4g} {constraint.unit} of {constraint.noun} for subnets of space "
                f"{space.name!r} (its negative entries add up), and {self.impossible}; rebuild it with `bench profile`"
            )

    def point(self, config: SubnetConfig) -> float:
        space = self.subject.base_space
        validate(config, space)
        keys = [p.key for p in parts(config, space)]
        if missing := sorted({k for k in keys if k not in self.values}):
            raise missing_entries(self.subject.lut, missing, config)
        return sum(self.values[k] for k in keys) / self.scale

    def point_batch(self, batch: ConfigBatch) -> np.ndarray:
        total = self.table.total(batch)
        if (bad := np.flatnonzero(np.isnan(total))).size:
            self.point(decode(batch, int(bad[0]), self.subject.base_space))
        return total / self.scale

    def floor(self) -> float:
        return least_total(self.table, self.subject.base_space) / self.scale
