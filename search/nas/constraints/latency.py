"""Latency: each device its own budget (ms at its LUT's speed), priced by the LUT's entries with
the interval calibrated on its latest validation, measured beside the LUT's anchor network.

A subnet is within a latency budget when its point prediction is at or below it and the upper end
of its 95% interval at or below the budget plus the tolerance: a found model then measures at most
5% over the budget unless it is one of the 2.5% whose latency falls above its interval. With a LUT
validation the interval is the calibrated one (`search.nas.calibration`), whose width is what the
validated subnets needed; without one it is the raw interval from the entries' intervals, several
times wider, which leaves part of the budget unused (the search says to validate the LUT).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from infra.shown import apart
from search.nas.calibration import Calibration, calibrate, subnet_interval
from search.nas.constraints.base import Constraint, Limit, Observed, Price, Subject, register
from search.nas.lut import interval_method
from search.nas.predictor import LatencyPredictor
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch

MIN_VALIDATED = 3  # validated subnets a calibration needs


class LatencyPrice(Price):
    def __init__(self, constraint: Constraint, subject: Subject) -> None:
        super().__init__(constraint, subject)
        self.predictor = LatencyPredictor(subject.lut, subject.base_space)
        validation = subject.lut.validation
        self.calibration: Calibration | None = (
            calibrate(self.predictor, dict(validation)) if validation is not None and len(validation["points"]) >= MIN_VALIDATED else None
        )

    def point(self, config: SubnetConfig) -> float:
        return self.predictor.predict(config)

    def point_batch(self, batch: ConfigBatch) -> np.ndarray:
        return self.predictor.predict_batch(batch)

    def interval(self, config: SubnetConfig) -> tuple[float, float]:
        """The subnet's 95% interval as the budget reads it (calibrated where the LUT was validated)."""
        return subnet_interval(self.predictor, self.calibration, config)

    def _upper(self, batch: ConfigBatch, ms: np.ndarray) -> np.ndarray:
        lo, hi = self.predictor.interval_batch(batch)
        return hi if self.calibration is None else self.calibration.bounds(ms, (hi - lo) / 2)[1]

    def fits_batch(self, batch: ConfigBatch, limit: float) -> np.ndarray:
        ms = self.point_batch(batch)
        return (ms <= limit) & (self._upper(batch, ms) <= limit * (1 + self.constraint.tolerance))

    def needed_batch(self, batch: ConfigBatch) -> np.ndarray:
        ms = self.point_batch(batch)
        return np.maximum(ms, self._upper(batch, ms) / (1 + self.constraint.tolerance))

    def excess(self, config: SubnetConfig, limit: float, slack: float = 0.0) -> str | None:
        ms = self.point(config)
        if ms > limit * (1 + slack):
            return f"predicted at {ms:.3f} ms, over the {limit:g} ms budget"
        tolerance = self.constraint.tolerance
        ceiling = limit * (1 + tolerance)
        if (high := self.interval(config)[1]) > ceiling * (1 + slack):
            return f"whose 95% interval reaches {high:.3f} ms, over the budget plus {tolerance:.0%} ({ceiling:.3f} ms)"
        return None

    def unreachable(self, limit: Limit, least: float | None) -> str:
        """The fastest subnet is the LUT's (the narrowest is not always the fastest under a LUT), and
        where the point fits but no subnet's interval does, the message names the LUT's noise."""
        lut = self.subject.lut
        fastest = self.predictor.least_prediction()
        raise_to = f"raise {limit.given_as} to at least {least:.3g}" if least is not None else "raise the other budgets"
        beyond = limit.beyond(least) if least is not None else None
        if fastest > limit.value:
            return (
                f"no subnet meets {limit.value:g} ms: the fastest subnet is predicted at {fastest:.3g} ms by LUT {lut.short}; "
                + (f"the least budget that every check admits a subnet at is {least:.3g} ms, {beyond}" if beyond else
                   f"{raise_to} (the least budget that every check admits a subnet at)")
            )
        if beyond:
            return f"LUT {lut.id}'s entries are too uncertain for a {limit.value:g} ms budget: the least budget that admits a subnet is {least:.3g} ms, {beyond}"
        fix = (
            f"profile the device again on a quiet machine (`bench profile`), or validate LUT {lut.id} (`bench validate --lut {lut.short}`) "
            "so the search calibrates its intervals on measured subnets"
            if self.calibration is None else "profile the device again on a quiet machine (`bench profile`)"
        )
        return (
            f"LUT {lut.id}'s entries are too uncertain for a {limit.value:g} ms budget: the fastest subnet is predicted at "
            f"{fastest:.3g} ms, but no subnet's 95% interval stays under the budget plus {self.constraint.tolerance:.0%} (the LUT's sessions were "
            f"disturbed, or its entries are small against the timer's noise); {raise_to}, or {fix}"
        )

    def describe(self, limit: Limit) -> str:
        head = f"{limit.value:g} ms: predictions at or below {limit.value:g} ms, each subnet's 95% interval at or below {limit.value * (1 + self.constraint.tolerance):.3g} ms (+{self.constraint.tolerance:.0%})"
        c, lut = self.calibration, self.subject.lut
        if c is None:
            return (
                f"{head}; LUT {lut.short} has no validation, so the intervals are the entries' own, several times wider than "
                f"needed, and part of the budget goes unused: run `bench validate --lut {lut.short}` to calibrate them"
            )
        coverage = f", {c.loo_coverage:.0%} of them inside when left out" if c.loo_coverage is not None else ""
        return f"{head}; intervals calibrated on the {c.source}{coverage}: a subnet's is its prediction {c.centre:+.2f} ± {c.spread:.2f} raw half-widths"

    def record(self, limit: Limit) -> dict[str, Any]:
        return {
            "ceiling": limit.value * (1 + self.constraint.tolerance),
            "interval_calibration": self.calibration.to_dict() if self.calibration else None,
            "interval_method": (
                f"calibrated on the {self.calibration.source}" if self.calibration else f"raw, from the LUT's entries: {interval_method(self.subject.lut)}"
            ),
        }


@register
class Latency(Constraint):
    name = "latency"
    order = 10
    noun = "latency"
    unit = "ms"
    option = "--latency-ms"
    argument = "latency_ms"
    help = "the latency budget in ms, at the LUT's speed (with --lut; for several devices give --budget LUT=MS once per device)"
    per_device = True
    ranks = True
    at_lut_speed = True

    def price(self, subject: Subject) -> Price:
        return LatencyPrice(self, subject)

    def of(self, observed: Observed) -> float | None:
        """At the LUT's speed: the budget was set against the LUT, and a machine's speed drifts
        between sessions (±5-10% on our CI VM), which the anchor network timed beside it measures."""
        return observed.median_ms / observed.speed if observed.speed else observed.median_ms

    def finish_line(
        self, device: str, predicted: float, interval: tuple[float, float], observed: Observed | None, limit: Limit | None, not_measured: str | None,
    ) -> str | None:
        """As measured and at the LUT's speed (the anchor's ratio), inside or outside its interval, and
        its share of the budget, each figure printed with the digits that show its verdict; None
        where nothing was measured (the search's own lines say why, and give the prediction)."""
        if observed is None:
            return None
        speed, at_lut = observed.speed, self.of(observed)
        assert at_lut is not None
        judged, low, high = apart(at_lut, *interval)
        shown = f" ({judged} ms at the LUT's speed: the anchor network ran at x{speed:.3f} its LUT latency)" if speed else ""
        inside = "inside" if interval[0] <= at_lut <= interval[1] else "outside"
        line = f"measured on {device}: {judged if not speed else f'{observed.median_ms:.2f}'} ms{shown}, {inside} the predicted interval {low}-{high} ms"
        if limit is None:
            return line
        tolerance = self.tolerance
        ratio = apart(at_lut / limit.value, 1 + tolerance)[0]
        standing = "within" if at_lut <= limit.value * (1 + tolerance) else "OVER"
        return f"{line}: {ratio}x, {standing} the {limit.value:g} ms budget (+{tolerance:.0%})"

    def validation_figures(self, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {"": record["figures"]} if isinstance(record.get("figures"), dict) else {}
