"""Subnet-level latency intervals calibrated on a LUT's validation.

A subnet's interval from its entries' intervals (`LatencyPredictor.interval`) adds half-widths that
are mostly independent noise as if they were one error, so at the subnet level it is several times
too wide (on one quick LUT: ±26% median half-width against a validated MAPE of 2.9%), and a search
that keeps it under the budget leaves a fifth of the budget unused. The validated subnets say how
wide it should be: for each, the error of the prediction in units of its raw half-width,
s = (measured - predicted) / h. Their mean (the predictor's bias, in those units) and spread give a
95% prediction interval for the next subnet, point + h * (mean ± t * sd * sqrt(1 + 1/n)): the raw
interval's shape (which subnets are uncertain) is kept, its scale and centre come from measurements.
Leave-one-out coverage on the validated subnets is reported with it, so the calibration can fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from search.nas.lut import LUTError
from search.nas.predictor import LatencyPredictor
from search.space.config import SubnetConfig

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Calibration:
    centre: float  # mean of (measured - predicted) / half-width over the validated subnets
    spread: float  # t * sd * sqrt(1 + 1/n): the 95% prediction half-range, in half-widths
    points: int
    loo_coverage: float | None  # share of validated subnets inside the interval calibrated on the others
    source: str

    def bounds(self, point: Any, half: Any) -> tuple[Any, Any]:
        """Calibrated (low, high) for point predictions and raw half-widths (numbers or arrays),
        stretched to hold the point and cut at zero: a biased predictor's interval can lie wholly
        to one side of its point, which reads as a contradiction wherever the two are printed
        together, and no latency is negative. The budget is unchanged by it: a subnet's point must
        be within the budget anyway, and the ceiling is above the budget."""
        low, high = point + half * (self.centre - self.spread), point + half * (self.centre + self.spread)
        return np.maximum(np.minimum(low, point), 0.0), np.maximum(high, point)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


POINT_ONLY = Calibration(0.0, 0.0, 0, None, "none: point predictions only")


def _fit(scores: np.ndarray) -> tuple[float, float]:
    from scipy.stats import t  # here, not at import: commands that only read and print stay light

    n = len(scores)
    if n < 3:
        raise ValueError("at least three validated subnets are needed to calibrate intervals")
    return float(scores.mean()), float(t.ppf(0.5 + CONFIDENCE / 2, n - 1) * scores.std(ddof=1) * np.sqrt(1 + 1 / n))


def scores(predictor: LatencyPredictor, points: list[dict[str, Any]]) -> np.ndarray:
    """(measured - predicted) / raw half-width of every validated subnet; the prediction and the
    half-width at the validation session's speed (the record's predicted over raw predicted)."""
    out = []
    for p in points:
        lo, hi = predictor.interval(SubnetConfig.from_dict(p["config"]))
        speed = p["predicted_ms"] / p["raw_predicted_ms"] if p.get("raw_predicted_ms") else 1.0
        half = max((hi - lo) / 2 * speed, 1e-9)
        out.append((p["measured_ms"] - p["predicted_ms"]) / half)
    return np.array(out)


# How far off a LUT may be before its validation is refused, as measured / predicted over the
# validated subnets (their median, so a few disturbed ones do not count). A LUT of the device the
# subnets ran on predicts them within a few percent once the session's speed is divided out by the
# anchor (the quick LUT: 2.9% MAPE), and a throttled phone or a busy host moves them by tens of
# percent; subnets at a third of or three times their predictions ran on another device or runtime
# than the LUT describes (or the record was edited), and intervals calibrated on them would be
# nonsense: negative, or far from every subnet's point.
OFF_BY = 3.0


def _check_scale(predictor: LatencyPredictor, validation: dict[str, Any]) -> None:
    median = float(np.median([p["measured_ms"] / p["predicted_ms"] for p in validation["points"]]))
    if not 1 / OFF_BY <= median <= OFF_BY:
        lut = predictor.lut.id
        raise LUTError(
            f"LUT {lut}'s validation of {validation['created_at'][:10]} measured its subnets at {median:.3g}x their predicted latency "
            f"(median), beyond the {OFF_BY:g}x a LUT of the device they ran on is within; profile the device again (`bench profile`) and "
            f"validate the new LUT, or delete {lut}.validation.json beside the LUT and run `bench validate --lut {lut[:8]}` again"
        )


def calibrate(predictor: LatencyPredictor, validation: dict[str, Any]) -> Calibration:
    """Refused when the validation says the LUT is off by more than `OFF_BY`."""
    _check_scale(predictor, validation)
    return calibrated(scores(predictor, validation["points"]), validation)


def calibrated(s: np.ndarray, validation: Mapping[str, Any]) -> Calibration:
    """The calibration of validated subnets' scores `s` (errors in units of their raw half-widths),
    with its leave-one-out coverage; memory's intervals are calibrated by it too (`search.nas.memory`)."""
    centre, spread = _fit(s)
    inside = []
    for i in range(len(s)):
        if len(s) > 3:
            c, w = _fit(np.delete(s, i))
            inside.append(abs(s[i] - c) <= w)
    source = f"LUT validation of {validation['created_at'][:10]} ({len(s)} subnets)"
    return Calibration(centre, spread, len(s), float(np.mean(inside)) if inside else None, source)


def subnet_interval(predictor: LatencyPredictor, calibration: Calibration | None, config: SubnetConfig) -> tuple[float, float]:
    """A subnet's 95% interval: calibrated where a validation exists, else the raw one."""
    lo, hi = predictor.interval(config)
    if calibration is None:
        return lo, hi
    low, high = calibration.bounds(predictor.predict(config), (hi - lo) / 2)
    return float(low), float(high)
