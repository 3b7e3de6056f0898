"""The measurement loop shared by every in-process timing: warm-up, then interleaved rounds.

Rules from ARCHITECTURE.md: warm up for at least `warmup_runs` runs and `warmup_s` seconds, then
measure at least `runs` rounds and `min_s` seconds, one run of every model per round (A B C A B C),
so machine drift hits all models alike and removal deltas can be taken round by round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TimingPlan:
    warmup_runs: int = 10
    warmup_s: float = 0.5
    runs: int = 50
    min_s: float = 1.0


def _run_until(models: Mapping[str, Callable[[], object]], runs: int, seconds: float, record: bool) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in models}
    start = time.perf_counter()
    rounds = 0
    while rounds < runs or time.perf_counter() - start < seconds:
        for name, run in models.items():
            t0 = time.perf_counter_ns()
            run()
            elapsed = time.perf_counter_ns() - t0
            if record:
                samples[name].append(elapsed / 1e6)
        rounds += 1
    return samples


def interleaved_latencies(models: Mapping[str, Callable[[], object]], plan: TimingPlan) -> dict[str, list[float]]:
    """Per model, its steady-state latency samples in milliseconds, one per round."""
    _run_until(models, plan.warmup_runs, plan.warmup_s, record=False)
    return _run_until(models, plan.runs, plan.min_s, record=True)
