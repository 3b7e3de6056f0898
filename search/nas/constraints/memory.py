"""Peak memory: one budget (MiB) held on every device, predicted by each device's LUT (its entries'
memory, `search.nas.memory`) and measured by each device's runner where it measures memory (the
host's child process, Android's `/proc/self/status`, the iPhone's `phys_footprint`). A LUT that
records no memory cannot price it, and says how to get one that does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from search.nas.constraints.base import Constraint, Limit, Observed, Price, Subject, register
from search.nas.memory import MIB, Memory, MemoryPredictor, memory_record, no_memory
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch


class MemoryPrice(Price):
    """The LUT's memory, rescaled to this machine where it was measured on another CPU (`Subject.memory_here`)."""

    def __init__(self, constraint: Constraint, subject: Subject) -> None:
        super().__init__(constraint, subject)
        self.predictor = MemoryPredictor(subject.lut, subject.base_space)
        here = subject.memory_here
        self.load_scale, self.peak_scale = (here.load, here.peak) if here is not None else (1.0, 1.0)

    def point(self, config: SubnetConfig) -> float:
        return self.predictor.predict(config).peak_bytes * self.peak_scale / MIB

    def point_batch(self, batch: ConfigBatch) -> np.ndarray:
        return self.predictor.predict_batch(batch) * self.peak_scale / MIB

    def details(self, config: SubnetConfig) -> dict[str, float]:
        return {"load_predicted": self.predictor.predict(config).load_bytes * self.load_scale / MIB}

    def interval(self, config: SubnetConfig) -> tuple[float, float]:
        """Where the subnet's peak would be measured, 95%: calibrated on the LUT's latest validation where it measured memory,
        else the LUT's sessions' spread (`MemoryPredictor.interval`); both relative to the prediction, so rescaled with it."""
        low, high = self.predictor.interval(self.predictor.predict(config).peak_bytes)
        return low * self.peak_scale / MIB, high * self.peak_scale / MIB

    def excess(self, config: SubnetConfig, limit: float, slack: float = 0.0) -> str | None:
        mib = self.point(config)
        if mib > limit * (1 + slack):
            return f"predicted to need {mib:.2f} MiB at its peak, over the {limit:g} MiB memory budget"
        return None

    def floor(self) -> float:
        return self.predictor.least() / MIB

    def describe(self, limit: Limit) -> str:
        here = self.subject.memory_here
        if here is None:
            return f"peak memory predicted at or below {limit.value:g} MiB"
        return (f"peak memory predicted at or below {limit.value:g} MiB on this machine (LUT {self.subject.lut.short}'s, x{here.peak:.3f}: its anchor "
                f"network's peak measured here over its prediction)")

    def record(self, limit: Limit) -> dict[str, Any]:
        here = self.subject.memory_here
        return {"reanchored": here.to_dict()} if here is not None else {}


@register
class PeakMemory(Constraint):
    name = "memory"
    order = 20
    noun = "peak memory"
    unit = "MiB"
    option = "--memory-mb"
    argument = "memory_mb"
    help = "the budget of peak memory in MiB: predicted by each LUT (which must record memory), measured at the finish"
    bounds = (0.0, 1e6)

    def price(self, subject: Subject) -> Price:
        return MemoryPrice(self, subject)

    def of(self, observed: Observed) -> float | None:
        return None if observed.memory is None else observed.memory["peak_bytes"] / MIB

    def validation(self, subject: Subject, configs: Sequence[SubnetConfig], observed: Sequence[Observed]) -> dict[str, Any] | None:
        """The LUT's memory predictions against the memory measured with the subnets' latency: figures
        per kind (`load`, `peak`) and each subnet's pair, where the LUT records memory and the runner
        measured it for every subnet; otherwise none, and the record says why."""
        lut = subject.lut
        if lut.memory is None or any(o.memory is None for o in observed):
            why = no_memory(lut) if lut.memory is None else f"the runner of {lut.device.name} measured no memory"
            return {"record": {"skipped": why}, "points": [{} for _ in configs]}
        predictor = MemoryPredictor(lut, subject.base_space)
        predicted = [predictor.predict(c) for c in configs]
        measured = [Memory.of(o.memory) for o in observed]
        record = memory_record(predicted, measured, observed[0].memory["method"])
        points = [{"predicted_memory_mib": p.to_dict(), "measured_memory_mib": m.to_dict()} for p, m in zip(predicted, measured)]
        return {"record": record, "points": points}

    def measured_words(self, observed: Observed, measured: float) -> str:
        assert observed.memory is not None
        return f"{measured:.2f} MiB measured at its peak (load {observed.memory['load_bytes'] / MIB:.2f})"

    def validation_figures(self, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
        section = record.get(self.name)
        if not isinstance(section, dict) or "skipped" in section:
            return {}
        return {kind: section[kind] for kind in ("load", "peak") if isinstance(section.get(kind), dict)}
