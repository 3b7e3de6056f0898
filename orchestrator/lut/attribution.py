"""Attribution: an entry's latency is the median of its paired removal deltas.

Reference and variant are timed in the same interleaved rounds, so each round gives one delta
(with - without) in which machine drift cancels. The confidence interval of the median comes from
a bootstrap over those deltas. Deltas from several sessions (adaptive re-measurement) pool, after
each session is scaled to the plan's anchor network's reference speed (see orchestrator/plan.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from orchestrator.plan.spec import Entry

BOOTSTRAP = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    latency_ms: float
    ci_ms: tuple[float, float]
    samples: int

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
    wider than `absolute_ms` (below which host timer noise dominates any entry)."""

    relative: float = 0.2
    absolute_ms: float = 0.02

    def too_wide(self, estimate: Estimate) -> bool:
        return estimate.width_ms > max(self.relative * abs(estimate.latency_ms), self.absolute_ms)


def entry_deltas(entry: Entry, sessions: Iterable[Mapping[str, list[float]]]) -> np.ndarray:
    """Per-round deltas of one entry from every session that timed both of its networks."""
    deltas = []
    for samples in sessions:
        if entry.reference not in samples or (entry.variant is not None and entry.variant not in samples):
            continue
        with_block = np.asarray(samples[entry.reference])
        without = np.asarray(samples[entry.variant]) if entry.variant is not None else np.zeros_like(with_block)
        deltas.append(with_block - without)
    return np.concatenate(deltas) if deltas else np.empty(0)


def estimate(deltas: np.ndarray, seed: int = 0) -> Estimate:
    if deltas.size == 0:
        raise ValueError("no measurements for this entry")
    rng = np.random.default_rng(seed)
    resampled = np.median(deltas[rng.integers(0, deltas.size, size=(BOOTSTRAP, deltas.size))], axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    lo, hi = np.percentile(resampled, [tail, 100 - tail])
    return Estimate(float(np.median(deltas)), (float(lo), float(hi)), int(deltas.size))


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
) -> dict[str, Estimate]:
    scaled = normalised(sessions, anchor, reference_ms)
    return {e.key: estimate(entry_deltas(e, scaled)) for e in entries}
