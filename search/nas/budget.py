"""Latency and parameter budgets, and pricing candidates against them (vectorised).

The budget the user asks for is `latency_ms`; predictions must stay at or below `limit_ms`, which
is tighter when the LUT's validation shows the predictor under-predicting (see `margin_from_validation`),
and each subnet's predicted interval (from its entries' intervals, `LatencyPredictor.interval`) must
stay at or below `ceiling_ms`, the budget plus the tolerance: a subnet whose entries are too
uncertain to promise the tolerance is not taken, however good its point prediction.
Latency comes from the LUT's predictor (the space as profiled); parameters from the space as trained
(its classifier sized for the data's classes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from infra.errors import UserError
from search.nas.predictor import LatencyPredictor
from search.space import SearchSpace
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch, decode, random_batch
from search.space.params import count_params, params_batch
from search.space.sampling import min_config

TOLERANCE = 0.05  # a found model may measure up to 5% over the budget


class BudgetError(UserError):
    """A budget no subnet can meet; the message says what the smallest subnet needs."""


@dataclass(frozen=True)
class Budget:
    latency_ms: float
    limit_ms: float  # what predictions must not exceed
    params: int | None = None
    margin: float = 0.0  # predicted under-prediction the limit allows for (0.041 = 4.1%)
    margin_source: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms, "limit_ms": self.limit_ms, "params": self.params,
            "margin": self.margin, "margin_source": self.margin_source, "ceiling_ms": self.ceiling_ms,
        }

    @property
    def ceiling_ms(self) -> float:
        """What a subnet's predicted interval must not exceed."""
        return self.latency_ms * (1 + TOLERANCE)


def margin_from_validation(points: list[dict[str, Any]], confidence: float = 0.99) -> float:
    """How much the predictor may under-predict the next subnet: the one-sided `confidence`
    prediction bound of measured / predicted - 1 over the validated subnets (anchored to the
    validation session's speed), mean + t * sd * sqrt(1 + 1/n), floored at 0. A bound for one new
    subnet rather than the validated subnets' own 95th percentile: with 20 points that percentile is
    their second largest, and a found model sits at the limit by construction, so a 95% rule left
    one found model in 10-20 over the tolerance (the quick path measured 1.05-1.10x at it)."""
    from scipy.stats import t

    ratios = np.array([p["measured_ms"] / p["predicted_ms"] - 1 for p in points])
    if len(ratios) < 2:
        return max(0.0, float(ratios.max(initial=0.0)))
    n = len(ratios)
    bound = ratios.mean() + t.ppf(confidence, n - 1) * ratios.std(ddof=1) * np.sqrt(1 + 1 / n)
    return max(0.0, float(bound))


def make_budget(latency_ms: float, params_m: float | None, validation: dict[str, Any] | None) -> Budget:
    """The prediction limit that keeps a found model within `latency_ms` x (1 + TOLERANCE) when the
    predictor under-predicts by up to its validated margin; never looser than the budget itself."""
    params = int(params_m * 1e6) if params_m is not None else None
    if validation is None:
        return Budget(latency_ms, latency_ms, params)
    margin = margin_from_validation(validation["points"])
    limit = min(latency_ms, latency_ms * (1 + TOLERANCE) / (1 + margin))
    source = f"LUT validation of {validation['created_at'][:10]}: 99% prediction bound of measured/predicted over {len(validation['points'])} subnets"
    return Budget(latency_ms, limit, params, margin, source)


@dataclass(frozen=True)
class Priced:
    batch: ConfigBatch
    ms: np.ndarray
    params: np.ndarray
    feasible: np.ndarray  # bool: within both budgets


class Pricer:
    """Predicted latency and parameters of configs, and whether they meet the budget."""

    def __init__(self, predictor: LatencyPredictor, trained_space: SearchSpace, budget: Budget) -> None:
        self.predictor, self.space, self.budget = predictor, trained_space, budget
        self.resolution = predictor.resolution
        self._params_batch = params_batch(trained_space)

    def latency(self, config: SubnetConfig) -> float:
        return self.predictor.predict(config)

    def params(self, config: SubnetConfig) -> int:
        return count_params(config, self.space)

    def feasible(self, config: SubnetConfig) -> bool:
        ok = self.latency(config) <= self.budget.limit_ms and self.predictor.interval(config)[1] <= self.budget.ceiling_ms
        return ok and (self.budget.params is None or self.params(config) <= self.budget.params)

    def check_reachable(self, latency: str = "--latency-ms", params_name: str = "--params-m") -> None:
        """Refuse a budget that not even the smallest subnet meets, naming what it needs and the
        argument that sets it as the caller took it (the CLI's options, the API's `latency_ms`)."""
        smallest = min_config(self.space, self.resolution)
        ms, params, high = self.latency(smallest), self.params(smallest), self.predictor.interval(smallest)[1]
        if ms <= self.budget.limit_ms and high > self.budget.ceiling_ms:
            raise BudgetError(
                f"no subnet meets {self.budget.latency_ms:g} ms within its predicted interval: the smallest subnet's reaches {high:.2f} ms, "
                f"over the budget plus {TOLERANCE:.0%}; raise {latency} to at least {high / (1 + TOLERANCE):.2f}, or profile again for tighter entries"
            )
        if ms > self.budget.limit_ms:
            allowance = f" (the limit is {self.budget.limit_ms:.2f} ms after a {self.budget.margin:.1%} predictor margin)" if self.budget.margin else ""
            raise BudgetError(
                f"no subnet meets {self.budget.latency_ms:g} ms{allowance}: the smallest subnet is predicted at {ms:.2f} ms; "
                f"raise {latency} to at least {ms * self.budget.latency_ms / self.budget.limit_ms:.2f}"
            )
        if self.budget.params is not None and params > self.budget.params:
            raise BudgetError(
                f"no subnet meets {self.budget.params / 1e6:g}M parameters: the smallest subnet has {params / 1e6:.3f}M; "
                f"raise {params_name} to at least {params / 1e6:.3f}"
            )

    def price(self, n: int, seed: int) -> Priced:
        """Draw `n` random subnets and price them all at once (nothing decoded to configs yet)."""
        batch = random_batch(self.space, n, np.random.default_rng(seed), self.resolution)
        ms, params = self.predictor.predict_batch(batch), self._params_batch(batch)
        ok = (ms <= self.budget.limit_ms) & (self.predictor.interval_batch(batch)[1] <= self.budget.ceiling_ms)
        if self.budget.params is not None:
            ok &= params <= self.budget.params
        return Priced(batch, ms, params, ok)

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
