"""How many rounds a session of slow models measures, and how long a batch of sessions has left.

A session measures at least `runs` rounds and at least `min_s` seconds (`TimingPlan`, the rule of
ARCHITECTURE.md). For fast models that takes seconds; for slow ones it takes most of an hour: on
portable kernels an XXS network at 256 px runs 546 ms, so with bursts of 3 a round of a transfer's
10 networks takes 16 s, and its 10 warm-up and 50 measured rounds took 1,318 s. So a session has a
time budget for its measured rounds, 150 s, where TFLite's benchmark_model stops: when the plan's
rounds would take longer, it measures as many rounds as fit, never fewer than `floor`, and warms
up in the same proportion (at least one round: a round of such a session is seconds of work for
every model, longer than the warm-up's 0.5 s). A session whose rounds fit keeps its plan whole
(≥ 50 runs and ≥ 1 s).

The counts are chosen here and sent in the request, so no runner changes (the host child, the
Android and iOS apps run what the request says). Choosing them needs what a round costs before
the session starts: each model's latency on this device where it is known (a LUT's prediction,
or its median measured earlier in the job); where one is not, the session is preceded by a pilot,
one round of the same models with no warm-up (`pilot`), which costs about a round and a load.

Fewer rounds make intervals wider, never falsely narrow: an entry's repeat interval comes from
the spread between its sessions' medians and a bootstrap over its rounds, and both grow as rounds
fall. `FLOOR` is 10 rounds: the steady-round filter (`steady.py`) compares each round with the
session's quickest quarter, which at 10 rounds lies between the 3rd and 4th quickest, so one lucky
round cannot set it; the summary's trimmed mean drops a round at each end from 10 rounds on; and
the coverage benchmark (`benchmarks/interval_calibration.py --rounds 10`) finds repeat intervals
that cover a second profile for 95-97% of entries at 10 rounds a session, as at 25 (goal ≥ 90%).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace

from infra.shown import duration
from orchestrator.measure.timing import TimingPlan

BUDGET_S = 150.0
FLOOR = 10


@dataclass(frozen=True)
class TimeBudget:
    """Seconds a session's measured rounds may take when its models are slow, and the fewest rounds
    it measures all the same."""

    seconds: float = BUDGET_S
    floor: int = FLOOR

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and self.floor >= 1):
            raise ValueError(f"a time budget needs seconds above 0 and a floor of at least one round, not {self.seconds} s and {self.floor}")

    def fit(self, timing: TimingPlan, round_s: float) -> TimingPlan:
        """The counts to send for a session whose round takes `round_s` seconds: `timing` itself when
        its rounds fit the budget; else the rounds that fit (at least the floor, or the plan's own
        runs if fewer) and the warm-up cut in the same proportion, at least one round."""
        if timing.runs * round_s <= self.seconds:
            return timing
        runs = max(min(self.floor, timing.runs), int(self.seconds // round_s))
        return replace(timing, warmup_runs=max(1, math.ceil(timing.warmup_runs * runs / timing.runs)), runs=runs)

    def explain(self, full: TimingPlan, cut: TimingPlan, round_s: float) -> str:
        """The log's line for a session `fit` cut from `full` to `cut`."""
        return (
            f"a round takes {round_s:.1f} s here, so {cut.runs} rounds and {cut.warmup_runs} to warm up, not {full.runs} and "
            f"{full.warmup_runs} (a {self.seconds:g} s budget, at least {self.floor} rounds): about {duration(session_seconds(cut, round_s))}"
        )


def round_seconds(latency_ms: Iterable[float], burst: int) -> float:
    """What one round of these models takes: each runs `burst` times in it."""
    return burst * sum(latency_ms) / 1e3


def session_seconds(timing: TimingPlan, round_s: float) -> float:
    """How long a session of rounds of `round_s` seconds warms up and measures under `timing`: whole
    rounds, until both the runs and the seconds of each phase are met (loading is not counted)."""
    warmup = max(timing.warmup_runs, math.ceil(timing.warmup_s / round_s)) if round_s > 0 else timing.warmup_runs
    measured = max(timing.runs, math.ceil(timing.min_s / round_s)) if round_s > 0 else timing.runs
    return (warmup + measured) * round_s


def pilot(timing: TimingPlan) -> TimingPlan:
    """The pilot before a session whose models' cost is unknown: one round in the session's bursts, no warm-up."""
    return TimingPlan(warmup_runs=0, warmup_s=0.0, runs=1, min_s=0.0, burst=timing.burst)


class Timetable:
    """The sessions of a batch and the time they have left, for a progress bar: each session's
    expected seconds (None while the cost of its models is unknown), when it started, and how long
    finished ones took. A session takes more than its rounds (loading, a pilot, pushing models to a
    phone and its cool-down), so sessions still to come are expected to overrun their estimate by as
    much as finished ones did on average. `workers` sessions run at once (a shelf's phones). Sessions
    change from the threads that measure them while the bar reads them, so every method holds a lock."""

    def __init__(self, names: Iterable[str], workers: int = 1) -> None:
        self.workers = max(1, workers)
        self._expected: dict[str, float | None] = dict.fromkeys(names)
        self._started: dict[str, float] = {}
        self._overruns: list[float] = []
        self._first: float | None = None
        self._lock = threading.Lock()

    def expect(self, name: str, seconds: float | None) -> None:
        with self._lock:
            if name in self._expected:
                self._expected[name] = seconds

    def start(self, name: str, now: float) -> None:
        with self._lock:
            self._started[name] = now
            self._first = now if self._first is None else self._first

    def finish(self, name: str, now: float) -> None:
        """`name` is done: how far it overran its estimate counts for the sessions to come."""
        with self._lock:
            expected, started = self._expected.pop(name, None), self._started.pop(name, None)
            if expected is not None and started is not None:
                self._overruns.append(now - started - expected)

    def skip(self, name: str) -> None:
        """`name` needs no measuring (kept from an interrupted run)."""
        with self._lock:
            self._expected.pop(name, None)
            self._started.pop(name, None)

    @property
    def left(self) -> int:
        with self._lock:
            return len(self._expected)

    def left_s(self, now: float) -> float | None:
        """Seconds until the last session ends, or None while a session's cost is unknown."""
        with self._lock:
            overrun = sum(self._overruns) / len(self._overruns) if self._overruns else 0.0
            total = 0.0
            for name, seconds in self._expected.items():
                if seconds is None:
                    return None
                total += max(0.0, seconds + overrun - (now - self._started[name] if name in self._started else 0.0))
            return total / self.workers

    def done_fraction(self, now: float) -> float | None:
        """The share of the batch's time behind it: time since the first session started over that
        plus the time left."""
        left = self.left_s(now)
        with self._lock:
            if left is None or self._first is None:
                return None if left is None else 0.0
            elapsed = now - self._first
        return elapsed / (elapsed + left) if elapsed + left > 0 else 1.0
