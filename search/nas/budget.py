"""Latency and parameter budgets, and pricing candidates against them (vectorised).

The budget the user asks for is `latency_ms`. A subnet is within it when its point prediction is at
or below `limit_ms` (the budget) and the upper end of its 95% interval at or below `ceiling_ms`, the
budget plus the tolerance: a found model then measures at most 5% over the budget unless it is one
of the 2.5% whose latency falls above its interval. With a LUT validation the interval is the
calibrated one (`search.nas.calibration`), whose width is what the validated subnets needed; without
one it is the raw interval from the entries' intervals, which is several times wider and so leaves
part of the budget unused (the search says to validate the LUT).
Latency comes from the LUT's predictor (the space as profiled); parameters from the space as trained
(its classifier sized for the data's classes).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from infra.errors import UserError
from search.nas.calibration import Calibration, calibrate, subnet_interval
from search.nas.memory import MIB, MemoryPredictor
from search.nas.predictor import LatencyPredictor
from search.space import SearchSpace
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch, decode, random_batch
from search.space.params import count_params, params_batch
from search.space.sampling import min_config

TOLERANCE = 0.05  # a found model may measure up to 5% over the budget
REACHABLE_SAMPLES = 50_000  # random subnets a budget is checked against before a search (about a quarter of a second, all of them)
# priced at a time, each chunk drawn with its own seed: a budget that a thousandth of the subnets
# meet is known reachable after the first chunk (~5 ms; a search checks twice), and one no subnet
# meets is refused after them all
REACHABLE_CHUNK = 1_000


def round_up(value: float, digits: int = 3) -> float:
    """`value` rounded up at its `digits`-th significant digit, so the number a message names passes."""
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return math.ceil(value * scale - 1e-9) / scale


class BudgetError(UserError):
    """A budget no subnet can meet; the message says what the smallest subnet needs."""


@dataclass(frozen=True)
class Budget:
    latency_ms: float
    limit_ms: float  # what point predictions must not exceed
    params: int | None = None
    calibration: Calibration | None = None  # None: the raw intervals
    memory_mib: float | None = None  # what a subnet's predicted peak memory must not exceed

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms, "limit_ms": self.limit_ms, "params": self.params, "ceiling_ms": self.ceiling_ms,
            "interval_calibration": self.calibration.to_dict() if self.calibration else None, "memory_mib": self.memory_mib,
        }

    @property
    def ceiling_ms(self) -> float:
        """What a subnet's predicted interval must not exceed."""
        return self.latency_ms * (1 + TOLERANCE)


def measures_within(measured_ms: float, budget_ms: float) -> bool:
    """The finish's rule: a model measured (at its LUT's speed) is within its budget up to the
    tolerance. Every door's finish asks this one function, so the rule changes in one place."""
    return measured_ms <= budget_ms * (1 + TOLERANCE)


def finish_pick(timed: Sequence[Mapping[str, float]], budgets: Mapping[str, float]) -> tuple[int, bool]:
    """The finish's choice among candidates, most accurate first, each measured against `budgets`
    (a name -> its budget: a device's latency at its LUT's speed, a device's peak memory; a figure a
    candidate lacks, memory its runner measured none of, is not held): the first within every one
    (True), else the one whose largest share of a budget is least, marked over (False)."""
    for i, t in enumerate(timed):
        if all(measures_within(value, budgets[name]) for name, value in t.items()):
            return i, True
    return min(range(len(timed)), key=lambda i: max(value / budgets[name] for name, value in timed[i].items())), False


def positive(value: Any, argument: str) -> float:
    """A budget as a finite number above zero; a string, a bool, NaN or infinity is refused naming
    `argument` as the caller took it (the API's `latency_ms`), since a NaN budget compares false
    with every prediction and a negative one is met by none."""
    if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise UserError(f"{argument} must be a finite number above 0, not {value!r}")
    return float(value)


def make_budget(
    latency_ms: float, params_m: float | None, validation: dict[str, Any] | None, predictor: LatencyPredictor | None = None,
    memory_mib: float | None = None,
) -> Budget:
    """The budget, with the subnet intervals calibrated on `validation` (which needs the LUT's `predictor`)."""
    latency_ms = positive(latency_ms, "latency_ms")
    params = int(positive(params_m, "params_m") * 1e6) if params_m is not None else None
    memory = positive(memory_mib, "memory_mb") if memory_mib is not None else None
    calibration = calibrate(predictor, validation) if validation is not None and predictor is not None and len(validation["points"]) >= 3 else None
    return Budget(latency_ms, latency_ms, params, calibration, memory)


@dataclass(frozen=True)
class Priced:
    batch: ConfigBatch
    ms: np.ndarray
    params: np.ndarray
    feasible: np.ndarray  # bool: within both budgets
    load: np.ndarray  # the share of its latency budget each uses (on the device that binds it, where several are held)


class Pricer:
    """Predicted latency, parameters and memory of configs, and whether they meet the budget. A
    memory budget needs the LUT's `memory` predictor (`search.nas.memory`)."""

    def __init__(self, predictor: LatencyPredictor, trained_space: SearchSpace, budget: Budget, memory: MemoryPredictor | None = None) -> None:
        if budget.memory_mib is not None and memory is None:
            raise ValueError("a memory budget needs the LUT's memory predictor")
        self.predictor, self.space, self.budget, self.memory = predictor, trained_space, budget, memory
        self.resolution = predictor.resolution
        self._params_batch = params_batch(trained_space)

    def memory_mib(self, config: SubnetConfig) -> float:
        """The subnet's predicted peak memory (MiB); only with a memory predictor."""
        assert self.memory is not None
        return self.memory.predict(config).peak_bytes / MIB

    def _fits_memory(self, batch: ConfigBatch) -> np.ndarray:
        if self.budget.memory_mib is None or self.memory is None:
            return np.ones(len(batch), dtype=bool)
        return self.memory.predict_batch(batch) / MIB <= self.budget.memory_mib

    def latency(self, config: SubnetConfig) -> float:
        return self.predictor.predict(config)

    def params(self, config: SubnetConfig) -> int:
        return count_params(config, self.space)

    def interval(self, config: SubnetConfig) -> tuple[float, float]:
        """The subnet's 95% interval as the budget reads it (calibrated where the LUT was validated)."""
        return subnet_interval(self.predictor, self.budget.calibration, config)

    def _upper_batch(self, b: ConfigBatch, ms: np.ndarray) -> np.ndarray:
        lo, hi = self.predictor.interval_batch(b)
        return hi if self.budget.calibration is None else self.budget.calibration.bounds(ms, (hi - lo) / 2)[1]

    def feasible(self, config: SubnetConfig) -> bool:
        return self.excess(config) is None

    def excess(self, config: SubnetConfig, slack: float = 0.0) -> str | None:
        """What puts `config` outside the budget, in words, or None when it is within it (what
        `feasible` asks), so that a refusal can name it. `slack` (relative) lets latencies pass that
        are over only by rounding: `price` sums a batch's predictions in another order, which
        differs from this one's in the last digits."""
        ms = self.latency(config)
        if ms > self.budget.limit_ms * (1 + slack):
            return f"predicted at {ms:.3f} ms, over the {self.budget.limit_ms:g} ms budget"
        high = self.interval(config)[1]
        if high > self.budget.ceiling_ms * (1 + slack):
            return f"whose 95% interval reaches {high:.3f} ms, over the budget plus {TOLERANCE:.0%} ({self.budget.ceiling_ms:.3f} ms)"
        if self.budget.params is not None and (params := self.params(config)) > self.budget.params:
            return f"of {params / 1e6:.3f}M parameters, over the {self.budget.params / 1e6:g}M budget"
        if self.budget.memory_mib is not None and (mib := self.memory_mib(config)) > self.budget.memory_mib * (1 + slack):
            return f"predicted to need {mib:.2f} MiB at its peak, over the {self.budget.memory_mib:g} MiB memory budget"
        return None

    def _reachable_draws(self) -> Iterator[ConfigBatch]:
        """The random subnets a budget's reachability is judged on, chunk by chunk: the same for
        `check_reachable` and `least_budget`, so that a budget the latter names passes the former."""
        for seed in range(REACHABLE_SAMPLES // REACHABLE_CHUNK):
            yield random_batch(self.space, REACHABLE_CHUNK, np.random.default_rng(seed), self.resolution)

    def least_budget(self) -> float | None:
        """The least budget that admits a subnet by every check (its point, its interval over the
        budget plus the tolerance, the parameter budget), over the reachability draws, rounded up to
        three significant digits so that it admits one when named; None when no subnet meets the
        parameter budget."""
        least = min(float(self.needed(batch).min()) for batch in self._reachable_draws())
        return None if not np.isfinite(least) else round_up(least)

    def needed(self, batch: ConfigBatch) -> np.ndarray:
        """The least latency budget each subnet of `batch` passes every check at (infinite where the
        parameter budget refuses it)."""
        ms = self.predictor.predict_batch(batch)
        needed = np.maximum(ms, self._upper_batch(batch, ms) / (1 + TOLERANCE))
        if self.budget.params is not None:
            needed = np.where(self._params_batch(batch) <= self.budget.params, needed, np.inf)
        return np.where(self._fits_memory(batch), needed, np.inf)

    def least_memory(self) -> float:
        """The least peak memory (MiB) the memory predictor gives any subnet of the reachability draws."""
        assert self.memory is not None
        return min(float(self.memory.predict_batch(batch).min()) / MIB for batch in self._reachable_draws())

    def check_reachable(self, latency: str = "--latency-ms", params_name: str = "--params-m", memory_name: str = "--memory-mb") -> None:
        """Refuse a budget that no subnet meets, naming a budget that every check passes and the
        argument that sets it as the caller took it (the CLI's options, the API's `latency_ms`); the
        fastest subnet is the LUT's (the narrowest is not always the fastest under a LUT), and when
        the point fits but no subnet's interval does, the message names the LUT's noise, not only the budget."""
        smallest = min_config(self.space, self.resolution)
        if self.budget.params is not None and (params := self.params(smallest)) > self.budget.params:
            raise BudgetError(
                f"no subnet meets {self.budget.params / 1e6:g}M parameters: the smallest subnet has {params / 1e6:.3f}M; "
                f"raise {params_name} to at least {params / 1e6:.3f}"
            )
        if self.budget.memory_mib is not None and (least := self.least_memory()) > self.budget.memory_mib:
            raise BudgetError(
                f"no subnet fits in {self.budget.memory_mib:g} MiB: the least peak memory LUT {self.predictor.lut.short} predicts for a "
                f"subnet is {least:.2f} MiB; raise {memory_name} to at least {round_up(least):g}"
            )
        if any(self._priced(batch).feasible.any() for batch in self._reachable_draws()):
            return
        fastest, least = self.predictor.least_prediction(), self.least_budget()
        raise_to = f"raise {latency} to at least {least:.3g}" if least is not None else f"raise {params_name}"
        if fastest > self.budget.limit_ms:
            raise BudgetError(
                f"no subnet meets {self.budget.latency_ms:g} ms: the fastest subnet is predicted at {fastest:.3g} ms by LUT "
                f"{self.predictor.lut.short}; {raise_to} (the least budget that every check admits a subnet at)"
            )
        lut = self.predictor.lut.id
        fix = (
            f"profile the device again on a quiet machine (`bench profile`), or validate LUT {lut} (`bench validate --lut {lut[:8]}`) "
            "so the search calibrates its intervals on measured subnets"
            if self.budget.calibration is None else "profile the device again on a quiet machine (`bench profile`)"
        )
        raise BudgetError(
            f"LUT {lut}'s entries are too uncertain for a {self.budget.latency_ms:g} ms budget: the fastest subnet is predicted at "
            f"{fastest:.3g} ms, but no subnet's 95% interval stays under the budget plus {TOLERANCE:.0%} (the LUT's sessions were "
            f"disturbed, or its entries are small against the timer's noise); {raise_to}, or {fix}"
        )

    def price(self, n: int, seed: int) -> Priced:
        """Draw `n` random subnets and price them all at once (nothing decoded to configs yet)."""
        return self._priced(random_batch(self.space, n, np.random.default_rng(seed), self.resolution))

    def _priced(self, batch: ConfigBatch) -> Priced:
        ms, params = self.predictor.predict_batch(batch), self._params_batch(batch)
        ok = (ms <= self.budget.limit_ms) & (self._upper_batch(batch, ms) <= self.budget.ceiling_ms) & self._fits_memory(batch)
        if self.budget.params is not None:
            ok &= params <= self.budget.params
        return Priced(batch, ms, params, ok, ms / self.budget.limit_ms)

    def random_feasible(self, rng: random.Random, count: int, exclude: set[str]) -> list[SubnetConfig]:
        """`count` distinct feasible random subnets not in `exclude` (drawn in vectorised chunks)."""
        out: list[SubnetConfig] = []
        if count <= 0:
            return out
        seen = set(exclude)
        for _ in range(50):
            priced = self.price(max(1000, 20 * count), rng.randrange(2**32))
            for row in np.flatnonzero(priced.feasible):
                c = decode(priced.batch, int(row), self.space)
                if c.hash not in seen:
                    seen.add(c.hash)
                    out.append(c)
                    if len(out) == count:
                        return out
        return out
