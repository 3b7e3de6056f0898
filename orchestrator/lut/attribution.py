"""Attribution: an entry's latency is the median of its paired removal deltas; its interval is where
a repeat of the profile would put it.

Reference and variant are timed in the same interleaved rounds, so each round gives one delta
(with - without) in which machine drift cancels. Deltas from every session that timed the entry
(each session group measured in two or more passes, plus adaptive re-measurements) pool, after
each session is scaled to the plan's anchor network's reference speed (see orchestrator/plan.py).

The interval. An entry's median moves from one session (one loading of the programs) to the next,
up to ±0.15 ms on an XXS transformer layer, and a bootstrap over the rounds pooled from all its
sessions gave intervals that a second profile's value fell inside for 72% of the entries (XXS,
benchmarks/lut_build.py): pooling hides how far each session's median moves, whether the session
or the jitter of its own rounds moves it (for XXS's stage-4 layers mostly the rounds:
benchmarks/load_offsets.py). So the interval is built from the spread *between* sessions: the variance of
an entry's per-session medians. Two sessions give that variance one degree of freedom, far too
few for one entry alone, so the LUT pools it: every entry's between-session variance, relative to
its reference network's latency squared (the offsets scale with the network timed, not with the
block removed from it), is pooled over the LUT, robustly (the median, made a mean for one degree
of freedom: a session that a burst of other work disturbed inflates its own entries, not the LUT's),
and an entry's variance is the larger of the pooled one and its own. Its point's variance is that
over its sessions, and never less than the rounds alone show (a bootstrap of the pooled median over
rounds: what sessions that happen to agree, or a simulated app's identical ones, cannot hide). The interval is a *repeat* interval: a
second profile's value differs from this one by both profiles' errors, so its half-width is
z x sqrt(2 x variance / sessions), the √2 a plain confidence interval of the mean lacks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.plan.spec import Entry

CONFIDENCE = 0.95
BOOTSTRAP = 2000
Z = 1.959963984540054  # the two-sided 95% normal quantile
CHI2_1_MEDIAN = 0.454936423119572  # median of a chi-square variable of one degree of freedom
INTERVAL_METHOD = "repeat-sessions-v1"
INTERVAL_DESCRIPTION = (
    "95% repeat interval: where a second profile's value would fall, from the spread between sessions "
    "(pooled over the LUT relative to each entry's network latency, never below the entry's own)"
)


@dataclass(frozen=True)
class Estimate:
    latency_ms: float
    ci_ms: tuple[float, float]
    samples: int
    sessions: int = 1

    @property
    def width_ms(self) -> float:
        return self.ci_ms[1] - self.ci_ms[0]

    @property
    def wide(self) -> bool:
        """ARCHITECTURE.md's flag: the interval is wider than the entry itself."""
        return self.width_ms > abs(self.latency_ms)


@dataclass(frozen=True)
class Tolerance:
    """When to measure an entry again: its interval is wider than `relative` x its latency and
    wider than `absolute_ms` (below which host timer noise dominates any entry), or its latency is
    not positive (a block cannot take no time: that is a measurement failure, not a value)."""

    relative: float = 0.2
    absolute_ms: float = 0.02

    def again(self, estimate: Estimate) -> bool:
        return estimate.latency_ms <= 0 or estimate.width_ms > max(self.relative * abs(estimate.latency_ms), self.absolute_ms)


@dataclass(frozen=True)
class SessionSpread:
    """The LUT-wide between-session spread: the variance of entries' per-session medians relative
    to the square of their reference network's latency, pooled over entries."""

    relative_variance: float
    entries: int  # entries with two or more sessions behind the pooled value

    def variance_ms2(self, reference_ms: float) -> float:
        return self.relative_variance * reference_ms**2

    def to_dict(self) -> dict[str, Any]:
        return {"relative_sd": math.sqrt(self.relative_variance), "entries": self.entries}


@dataclass(frozen=True)
class EntrySessions:
    """One entry's deltas, session by session (per copy of its block), and the latency its sessions'
    offsets scale with: the network it was removed from, over the copies removed (the delta is
    divided by them, so is its offset)."""

    deltas: list[np.ndarray]
    reference_ms: float

    @property
    def medians(self) -> np.ndarray:
        return np.array([np.median(d) for d in self.deltas])

    @property
    def own_variance(self) -> float | None:
        return float(np.var(self.medians, ddof=1)) if len(self.deltas) >= 2 else None


def entry_sessions(entry: Entry, sessions: Iterable[Mapping[str, np.ndarray]]) -> EntrySessions:
    """Per-session deltas of one entry from every session that timed both of its networks, per copy
    of the block (the slope of a layer timed as `copies` copies against none)."""
    deltas, references = [], []
    for samples in sessions:
        if entry.reference not in samples or (entry.variant is not None and entry.variant not in samples):
            continue
        with_block = np.asarray(samples[entry.reference])
        without = np.asarray(samples[entry.variant]) if entry.variant is not None else np.zeros_like(with_block)
        deltas.append((with_block - without) / entry.copies)
        references.append(float(np.median(with_block)))
    return EntrySessions(deltas, float(np.median(references)) / entry.copies if references else 0.0)


def session_spread(measured: Iterable[EntrySessions]) -> SessionSpread:
    """The between-session variance pooled over entries: the median relative variance over the
    one-degree-of-freedom median (entries with more sessions make it a little larger: conservative)."""
    relative = [own / m.reference_ms**2 for m in measured if (own := m.own_variance) is not None and m.reference_ms > 0]
    return SessionSpread(float(np.median(relative)) / CHI2_1_MEDIAN if relative else 0.0, len(relative))


def bootstrap_medians(pooled: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The median of `BOOTSTRAP` resamplings of the rounds: how far rounds alone move the median."""
    return np.median(pooled[rng.integers(0, pooled.size, size=(BOOTSTRAP, pooled.size))], axis=1)


def rounds_interval(deltas: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """(median, 2.5th, 97.5th percentile of `bootstrap_medians`): the interval LUTs recorded before
    `measurement.interval` (kept to compare the methods on the same runs, benchmarks/)."""
    return (float(np.median(deltas)), *(float(q) for q in np.percentile(bootstrap_medians(deltas, rng), [2.5, 97.5])))


def rounds_variance(pooled: np.ndarray, seed: int = 0) -> float:
    """The variance of the median over resampled rounds."""
    return float(np.var(bootstrap_medians(pooled, np.random.default_rng(seed))))


def estimate(measured: EntrySessions, spread: SessionSpread) -> Estimate:
    """The entry's median delta and its repeat interval; a point at or below zero gets an interval
    that reaches zero, so no LUT claims a tight negative latency."""
    if not measured.deltas:
        raise ValueError("no measurements for this entry")
    pooled = np.concatenate(measured.deltas)
    point = float(np.median(pooled))
    between = max(spread.variance_ms2(measured.reference_ms), measured.own_variance or 0.0) / len(measured.deltas)
    half = Z * math.sqrt(2 * max(between, rounds_variance(pooled)))
    lo, hi = point - half, point + half
    if point <= 0:
        lo, hi = min(lo, point), max(hi, 0.0)
    return Estimate(point, (lo, hi), int(pooled.size), len(measured.deltas))


def anchor_speed(sessions: list[Mapping[str, list[float]]], anchor: str) -> float:
    """The anchor network's reference latency: the median over sessions of its median there."""
    return float(np.median([np.median(s[anchor]) for s in sessions if anchor in s]))


def normalised(sessions: list[Mapping[str, list[float]]], anchor: str | None, reference_ms: float | None = None) -> list[dict[str, np.ndarray]]:
    """Every session's samples scaled so its anchor runs at the reference speed: a session that ran
    8% slow (machine state) would otherwise bias every entry measured in it by 8%. The reference is
    the sessions' own median unless given (a shelf of phones: its reference phone's)."""
    if anchor is None or not all(anchor in s for s in sessions):
        return [{k: np.asarray(v) for k, v in s.items()} for s in sessions]
    reference = anchor_speed(sessions, anchor) if reference_ms is None else reference_ms
    return [{k: np.asarray(v) * (reference / np.median(s[anchor])) for k, v in s.items()} for s in sessions]


def attribute(
    entries: Iterable[Entry], sessions: list[Mapping[str, list[float]]], anchor: str | None = None, reference_ms: float | None = None
) -> tuple[dict[str, Estimate], SessionSpread]:
    """Every entry's estimate, and the between-session spread their intervals were built from."""
    scaled = normalised(sessions, anchor, reference_ms)
    measured = {e.key: entry_sessions(e, scaled) for e in entries}
    spread = session_spread(measured.values())
    return {key: estimate(m, spread) for key, m in measured.items()}, spread
