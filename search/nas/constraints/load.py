"""Load time: one budget (ms) held on every device, the time from opening a program to its first
inference's result (the runner's `load_ms` plus `first_inference_ms`, which every runner of the
contract reports: the host's, the Android app's, the iPhone app's), what a user waits for when an
app opens the model; Qualcomm AI Hub reports the same (first load). Runners also report a warm
load (`warm_load_ms`: the program opened again once it has run, AI Hub's second figure), said
beside the measured figure; the budget holds the first, what a user meets at an app's launch. Predicted by each device's LUT
(its entries' `load_ms`, profiled by removal from the networks' runs, as program size is) and
measured on every reachable device at the finish. A LUT profiled before load times were recorded
cannot price it, and says how to get one that does.

This module is the whole of the budget: its option, pricing, measurement, finish line, result
field and validation come from its registration (docs/architecture.md, "Adding a budget")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from search.nas.constraints.base import Constraint, Limit, Observed, Price, Subject, register
from search.nas.constraints.entry_sum import EntrySumPrice
from search.space.config import SubnetConfig


class LoadPrice(EntrySumPrice):
    impossible = "a program cannot load in no time"

    def describe(self, limit: Limit) -> str:
        return f"a program that loads and gives its first result in {limit.value:g} ms or less, predicted"


@register
class LoadTime(Constraint):
    name = "load"
    noun = "load time"
    unit = "ms"
    option = "--load-ms"
    argument = "load_ms"
    help = "the budget of load time in ms on every device: opening the program to its first inference's result, predicted by each LUT, measured by each device's runner"
    order = 50
    tolerance = 0.10  # a load reads the file and packs the weights: it moves more between sessions than steady inference does
    bounds = (0.0, 1e6)
    entry_field = "load_ms"
    recorded_since = "load times"
    profile_method = "each network's load plus first inference as its runner reported them (median over sessions), by removal: the entry is the difference per copy of its block"

    def price(self, subject: Subject) -> Price:
        return LoadPrice(self, subject)

    def of(self, observed: Observed) -> float | None:
        return observed.run.load_ms + observed.run.first_inference_ms

    def entry_value(self, observed: Observed) -> float | None:
        return self.of(observed)

    def measured_words(self, observed: Observed, measured: float) -> str:
        """The first load is what the budget holds; a warm reopen (AI Hub's second figure) is said
        beside it where the runner measured one."""
        warm = observed.run.warm_load_ms
        return f"{measured:.{self.digits}g} {self.unit} measured" + (f" (reopened warm: {warm:.{self.digits}g} {self.unit} to load)" if warm is not None else "")

    def validation(self, subject: Subject, configs: Sequence[SubnetConfig], observed: Sequence[Observed]) -> dict[str, Any] | None:
        """The LUT's load times against the subnets' loads in the validation's session."""
        from search.nas.agreement import figures

        if not self.recorded(subject.lut):
            return {"record": {"skipped": self.not_recorded(subject.lut)}, "points": [{} for _ in configs]}
        price = LoadPrice(self, subject)
        predicted = np.array([price.point(c) for c in configs])
        measured = np.array([self.of(o) for o in observed], dtype=float)
        record = {"method": "each subnet's load plus first inference in the validation's session", **figures(predicted, measured)}
        return {"record": record, "points": [{"predicted_load_ms": float(p), "measured_load_ms": float(m)} for p, m in zip(predicted, measured)]}
