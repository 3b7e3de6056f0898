"""The latency predictor: L(m) = Σ l_i·o_i(m) + Σ t_j·d_j(m) from a chosen LUT.

The l_i are the layer entries (counted o_i times in a subnet), the t_j the fixed parts a subnet
contains (overhead, stem, each stage's transition or shell for its input/output widths, head).
`parts` lists them for one config and is the definition; `predict_batch` evaluates the same sum
for many configs with array lookups. A config needing an entry the LUT lacks, or a LUT of another
space or resolution, is an error naming what is missing: never a silent zero.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from search.nas.lut import Lut, LUTError, as_lut, check_space, entry_key
from search.space import SearchSpace
from search.space.additive import AdditiveTable, least_total
from search.space.config import SubnetConfig, validate
from search.space.encoding import ConfigBatch, decode, encode, random_batch
from search.space.params import count_params
from search.space.sampling import min_config

FIXED, SHELL, LAYERS = "stem / head / overhead", "transition / shell", "layers"


class Part(NamedTuple):
    stage: str
    part: str  # FIXED, SHELL or LAYERS
    key: str


def parts(config: SubnetConfig, space: SearchSpace) -> list[Part]:
    """Every LUT entry a subnet's latency sums, in network order, repeated layers repeated."""
    out = [Part("overhead", FIXED, entry_key("overhead")), Part("stem", FIXED, entry_key("stem", width=config.stem))]
    width = config.stem
    for st, ss in zip(config.mbconv, space.mbconv):
        out.append(Part(ss.name, SHELL, entry_key("mbconv_transition", ss.name, in_width=width, width=st.width)))
        layer = entry_key("mbconv_layer", ss.name, width=st.width, expansion=st.expansion)
        out += [Part(ss.name, LAYERS, layer)] * (st.depth - 1)
        width = st.width
    for st, ss in zip(config.transformer, space.transformer):
        out.append(Part(ss.name, SHELL, entry_key("transformer_shell", ss.name, in_width=width, width=st.width)))
        out += [
            Part(ss.name, LAYERS, entry_key("transformer_layer", ss.name, width=st.width, heads=h, mlp_ratio=r))
            for h, r in zip(st.heads, st.mlp_ratio)
        ]
        width = st.width
    out.append(Part("head", FIXED, entry_key("head", width=width)))
    return out


def missing_entries(lut: Lut, keys: list[str], config: SubnetConfig) -> LUTError:
    """The error of a config that needs entries `keys` the LUT lacks: a predictor of any quantity
    the LUT records (latency, memory) says it so."""
    return LUTError(
        f"LUT {lut.id} has no entry {', '.join(repr(k) for k in keys)}, which config {config.hash} needs; "
        "rebuild the LUT with `bench profile` for this space"
    )


QUANTILE_SAMPLES = 5000


def random_subnet_quantiles(predictor: Any, quantiles: float | Sequence[float], samples: int = QUANTILE_SAMPLES) -> np.ndarray:
    """The `quantiles` of what `predictor` (a latency or memory predictor) gives `samples` random subnets
    of its space at its LUT's resolution, from one fixed draw (seed 0): a budget that a share `q` of
    the space meets. `bench profile`'s suggested budget and the benchmarks' budgets are these, so
    one LUT gives every one of them the same budget for the same `q`."""
    batch = random_batch(predictor.space, samples, np.random.default_rng(0), predictor.lut.resolution)
    return np.quantile(predictor.predict_batch(batch), quantiles)


class LatencyPredictor:
    def __init__(self, lut: Lut | Mapping[str, Any], space: SearchSpace) -> None:
        lut = as_lut(lut)  # a document built in Python (a benchmark's) is checked as a file's is
        check_space(lut, space.name, space.hash)
        self.lut, self.space = lut, space
        self.resolution: int = lut.resolution
        self.latency = {k: float(e["latency_ms"]) for k, e in lut.entries.items()}
        self.table = AdditiveTable(space, self._value)
        self._check_positive()

    def _check_positive(self) -> None:
        """A LUT that prices any subnet at nothing (or less) would let it fit every budget. The
        smallest subnet is the usual culprit, named as such; negative layer entries can make a
        larger subnet cheaper still, so the least prediction over the whole space is checked too."""
        if self.resolution not in self.space.resolutions:
            return
        smallest = min_config(self.space, self.resolution)
        if not self.missing(smallest) and (predicted := self.predict(smallest)) <= 0:
            raise LUTError(
                f"LUT {self.lut.id} predicts {predicted:.4g} ms for the space's smallest subnet, and a latency cannot be zero "
                "or negative; rebuild it with `bench profile`"
            )
        if (least := self.least_prediction()) <= 0:
            raise LUTError(
                f"LUT {self.lut.id} predicts as little as {least:.4g} ms for subnets of space {self.space.name!r} (its negative "
                "entries add up), and a latency cannot be zero or negative; rebuild it with `bench profile`"
            )

    def least_prediction(self) -> float:
        """The least latency this LUT predicts for any subnet of the space, exactly (`least_total`)."""
        return least_total(self.table, self.space)

    def _value(self, kind: str, stage: str | None = None, **params: Any) -> float:
        return self.latency.get(entry_key(kind, stage, **params), np.nan)

    def _check_resolution(self, resolutions: np.ndarray) -> None:
        wrong = resolutions[resolutions != self.resolution]
        if wrong.size:
            raise LUTError(
                f"LUT {self.lut.id} was measured at {self.resolution} px, but a config is at {int(wrong[0])} px; "
                f"use a LUT of {int(wrong[0])} px (bench profile --resolution {int(wrong[0])})"
            )

    def missing(self, config: SubnetConfig) -> list[str]:
        return sorted({p.key for p in parts(config, self.space) if p.key not in self.latency})

    def _raise_missing(self, config: SubnetConfig) -> None:
        raise missing_entries(self.lut, self.missing(config), config)

    def predict(self, config: SubnetConfig) -> float:
        validate(config, self.space)
        self._check_resolution(np.array([config.resolution]))
        terms = parts(config, self.space)
        if any(p.key not in self.latency for p in terms):
            self._raise_missing(config)
        return float(sum(self.latency[p.key] for p in terms))

    def interval(self, config: SubnetConfig) -> tuple[float, float]:
        """One subnet's 95% interval from its entries' (read as the LUT's own: a repeat interval in
        LUTs that record one). Entries of one stage were timed in the same sessions and share their
        anchor scaling, so their half-widths add (as if fully correlated: an upper bound); the fixed
        parts and each stage were timed in sessions of their own, so those groups add in quadrature.
        `interval_batch` is the same, vectorised."""
        point = self.predict(config)
        below: dict[str, float] = {}
        above: dict[str, float] = {}
        for p in parts(config, self.space):
            lo, hi = self.lut.entries[p.key]["ci_ms"]
            group = FIXED if p.part == FIXED else p.stage
            below[group] = below.get(group, 0.0) + max(0.0, self.latency[p.key] - lo)
            above[group] = above.get(group, 0.0) + max(0.0, hi - self.latency[p.key])
        return point - math.hypot(*below.values()), point + math.hypot(*above.values())

    def interval_batch(self, b: ConfigBatch) -> tuple[np.ndarray, np.ndarray]:
        """`interval` for every config of a batch: the half-widths summed per group (the fixed parts,
        each stage: `AdditiveTable.stage_totals`), the groups in quadrature."""
        point = self.predict_batch(b)
        below, above = (np.sqrt(np.sum(np.square(t.stage_totals(b)), axis=0)) for t in self._half_widths)
        return point - below, point + above

    @functools.cached_property
    def _half_widths(self) -> tuple[AdditiveTable, AdditiveTable]:
        """Tables of the entries' lower and upper half-widths."""
        half: dict[str, tuple[float, float]] = {
            k: (max(0.0, e["latency_ms"] - e["ci_ms"][0]), max(0.0, e["ci_ms"][1] - e["latency_ms"])) for k, e in self.lut.entries.items()
        }

        def table(end: int) -> AdditiveTable:
            return AdditiveTable(self.space, lambda kind, stage=None, **p: half.get(entry_key(kind, stage, **p), (0.0, 0.0))[end])

        return table(0), table(1)

    def breakdown(self, config: SubnetConfig) -> list[tuple[Part, float]]:
        self.predict(config)
        return [(p, self.latency[p.key]) for p in parts(config, self.space)]

    def predict_batch(self, b: ConfigBatch) -> np.ndarray:
        """Predicted latency (ms) of every config in the batch; same sum as `parts`, vectorised."""
        self._check_resolution(b.resolution)
        total = self.table.total(b)
        bad = np.flatnonzero(np.isnan(total))
        if bad.size:
            self._raise_missing(decode(b, int(bad[0]), self.space))
        return total

    def predict_many(self, configs: list[SubnetConfig]) -> np.ndarray:
        return self.predict_batch(encode(configs, self.space))

    def params(self, config: SubnetConfig) -> int:
        return count_params(config, self.space)
