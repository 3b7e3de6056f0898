"""How a simulated phone's speed moves while it is measured: drift, DVFS steps, heat and throttling,
each run's noise, and other work's bursts, each a process in the phone's own time (seconds since it
started, advanced by its work and its rests: `Clock`), seeded, so that one phone file and one seed
give one history whatever machine runs it.

The phone's time for a run is the network's quiet time times `Conditions.factor()` at the moment the
run starts: exp(drift) x the DVFS level's factor x the throttle's slowdown x a burst's slowdown,
times the run's own log-normal jitter. Heat rises while the phone works and falls at rest; its
thermal status (Android's 0-6, iOS's nominal..critical) is what a runner reads before a session.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

# The throttle's slowdown from which the phone reports each Android thermal status (0 none, 1 light,
# ... 4 critical) and iOS thermal state: a phone's thermal HAL reports the throttling it applies.
ANDROID_STATUS = ((1.7, 4), (1.35, 3), (1.15, 2), (1.0 + 1e-9, 1))
IOS_STATE = ((1.7, "critical"), (1.35, "serious"), (1.0 + 1e-9, "fair"))
HOT = 1.25  # the heat sustained work approaches: beyond full throttle (1), so that a phone working long enough reaches it


class Clock:
    """The phone's time in seconds: it moves only by what the phone does (`advance`)."""

    def __init__(self) -> None:
        self.now = 0.0


class Conditions:
    """Every condition of a phone file's `conditions`, stepped in the phone's time. `rng` seeds them all."""

    def __init__(self, conditions: Mapping[str, Any], rng: np.random.Generator) -> None:
        self.rng = rng
        self.clock = Clock()
        self.drift = conditions.get("drift")
        self.dvfs = conditions.get("dvfs")
        self.throttle = conditions.get("throttle")
        self.noise = conditions.get("noise")
        self.interference = conditions.get("interference")
        self.log_drift = self.rng.normal(0.0, self.drift["sd"]) if self.drift else 0.0
        self.level = 0
        self.level_ends = self._dwell() if self.dvfs else math.inf
        self.heat = 0.0
        self.burst_ends = -math.inf
        self.next_burst = self._arrival(0.0) if self.interference else math.inf

    def _dwell(self) -> float:
        return self.clock.now + float(self.rng.exponential(self.dvfs["dwell_s"]))

    def _arrival(self, after: float) -> float:
        rate = self.interference["rate_per_min"] / 60.0
        return after + float(self.rng.exponential(1.0 / rate)) if rate > 0 else math.inf

    def advance(self, seconds: float, working: bool) -> None:
        """Let `seconds` of the phone's time pass, working (a run) or at rest."""
        if seconds <= 0:
            return
        self.clock.now += seconds
        if self.drift:
            keep = math.exp(-seconds / self.drift["timescale_s"])
            self.log_drift = self.log_drift * keep + self.drift["sd"] * math.sqrt(1 - keep * keep) * float(self.rng.normal())
        while self.dvfs and self.clock.now >= self.level_ends:
            self.level = int(self.rng.integers(len(self.dvfs["levels"])))
            self.level_ends += float(self.rng.exponential(self.dvfs["dwell_s"]))
        if self.throttle:
            self._heat(seconds, working)
        while self.interference and self.next_burst <= self.clock.now:
            self.burst_ends = max(self.burst_ends, self.next_burst + self.interference["duration_s"])
            self.next_burst = self._arrival(self.next_burst)

    def _heat(self, seconds: float, working: bool) -> None:
        """Working, heat approaches `HOT` with the time constant heat_s (full throttle, heat 1, after
        1.6 heat_s of sustained work from cold); at rest it falls by exp(-t / cool_s) (never, without cool_s)."""
        if working:
            self.heat = HOT + (self.heat - HOT) * math.exp(-seconds / self.throttle["heat_s"])
        elif self.throttle["cool_s"] is not None:
            self.heat *= math.exp(-seconds / self.throttle["cool_s"])

    def slowdown(self) -> float:
        """The throttle's factor now: 1 below the onset, up to max_slowdown at heat 1."""
        if not self.throttle:
            return 1.0
        onset = self.throttle["onset"]
        share = min(max((self.heat - onset) / (1.0 - onset), 0.0), 1.0)
        return 1.0 + (self.throttle["max_slowdown"] - 1.0) * share

    def factor(self) -> float:
        """The phone's time over its quiet time for a run starting now (its own jitter apart)."""
        f = math.exp(self.log_drift)
        if self.dvfs:
            f *= self.dvfs["levels"][self.level]
        f *= self.slowdown()
        if self.interference and self.clock.now < self.burst_ends:
            f *= self.interference["slowdown"]
        return f

    def jitter(self) -> float:
        """One run's own log-normal jitter, of mean 1 and the core's coefficient of variation."""
        if not self.noise or self.noise["cv"] == 0:
            return 1.0
        sigma = math.sqrt(math.log(1 + self.noise["cv"] ** 2))
        return float(math.exp(self.rng.normal(-sigma * sigma / 2, sigma)))

    def android_status(self) -> int:
        slowdown = self.slowdown()
        return next((status for bound, status in ANDROID_STATUS if slowdown >= bound), 0)

    def ios_state(self) -> str:
        slowdown = self.slowdown()
        return next((state for bound, state in IOS_STATE if slowdown >= bound), "nominal")
