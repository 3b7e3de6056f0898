"""The measurement loop shared by every in-process timing: warm-up, then interleaved rounds.

Rules from ARCHITECTURE.md: warm up for at least `warmup_runs` runs and `warmup_s` seconds, then
measure at least `runs` rounds and `min_s` seconds, every model once per round (A B C A B C),
so machine drift hits all models alike and removal deltas can be taken round by round.

`burst`: in each round a model runs that many times back to back and only the last run is timed.
A deployed model runs alone, again and again, with its weights in the CPU's caches; interleaved one
run at a time, every run starts with the caches full of the other models' weights. At 64 px, where
a whole network takes 0.2-0.3 ms, that is most of the cost: one network measured 1.59-1.72x its
latency alone among 40 others, 1.06-1.08x with bursts of 3 (`benchmarks/context_cost.py`,
docs/figures.md), and a validation's 41 networks ran 2.3x the speed its LUT's sessions of 10 had
measured. One run before the timed one is not enough (1.17-1.67x).
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
    burst: int = 1

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError(f"a burst is at least one run, not {self.burst}")


def _run_until(models: Mapping[str, Callable[[], object]], runs: int, seconds: float, burst: int, record: bool) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in models}
    start = time.perf_counter()
    rounds = 0
    while rounds < runs or time.perf_counter() - start < seconds:
        for name, run in models.items():
            for _ in range(burst - 1):
                run()
            t0 = time.perf_counter_ns()
            run()
            elapsed = time.perf_counter_ns() - t0
            if record:
                samples[name].append(elapsed / 1e6)
        rounds += 1
    return samples


def interleaved_latencies(models: Mapping[str, Callable[[], object]], plan: TimingPlan) -> dict[str, list[float]]:
    """Per model, its steady-state latency samples in milliseconds, one per round (the last run of its burst)."""
    _run_until(models, plan.warmup_runs, plan.warmup_s, plan.burst, record=False)
    return _run_until(models, plan.runs, plan.min_s, plan.burst, record=True)
