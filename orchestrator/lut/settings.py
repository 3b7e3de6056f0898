"""How a LUT-building run measures (`MeasureSettings`), the presets `bench profile` picks from, and how
many networks a transfer measures. Light to import: `bench` builds its options from it at start-up.

Profiles and transfers both take these settings; a run directory records them, and a resumed run
must agree with them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from orchestrator.lut.attribution import Tolerance
from orchestrator.measure.budget import TimeBudget
from orchestrator.measure.timing import TimingPlan
from search.nas.lut import Lut

# Each model runs three times back to back in a round and the third is timed, as a deployed model
# runs: with its own weights in the caches (orchestrator/measure/timing.py).
BURST = 3


@dataclass(frozen=True)
class Guards:
    """The protocol's defences against what a device does while it is measured, each switchable so
    its worth can be measured (`benchmarks/phone_conditions.py`, docs/phone_conditions.md); all on by
    default, as a profile runs. The cool-down between sessions is the phone runner's (`cooldown_s`)."""

    anchor: bool = True  # each session's samples scaled to the anchor network's speed in it (drift, throttling, another phone of the model)
    round_anchor: bool = True  # each round's samples scaled to the anchor's speed around that round (`reference.round_anchored`)
    steady_rounds: bool = True  # rounds a burst of other work slowed are left out of attribution (`orchestrator.measure.steady`)
    slow_sessions: bool = True  # a session the anchor shows slowed as a whole is measured again (`disturbance.slow_sessions`)
    noise_rounds: bool = True  # a noisy device is measured in more passes (more sessions, each after a rest) until each median is steady (`profile.noise_passes`)
    thermal_budget: bool = True  # a session that throttles the phone twice makes every later session shorter, rather than ending the profile (`Sessions._shorten`)

    def to_dict(self) -> dict[str, bool]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MeasureSettings:
    timing: TimingPlan = TimingPlan(burst=BURST)
    # A session whose rounds would take longer than this measures fewer of them, at least its floor
    # (orchestrator/measure/budget.py): slow devices and large spaces at full resolution.
    budget: TimeBudget = TimeBudget()
    # Noise-floor entries move by up to ~1% of the network from one session (one loading of the
    # programs) to the next, which the bootstrap within a session cannot see; more sessions average
    # it out. XXS profiled twice: p95 difference of predicted subnet latency 7.0% with 2, 3.6% with 4.
    adaptive_sessions: int = 4
    # Every session group is measured this many times, in separate sessions (all groups once, then
    # all again), so every entry has the between-session spread its interval needs (two or more).
    passes: int = 2
    tolerance: Tolerance = Tolerance()
    seed: int = 0
    per_stage_sessions: bool = True  # finer resume granularity; each session costs a runner start
    guards: Guards = Guards()

    def __post_init__(self) -> None:
        if self.passes < 2:
            raise ValueError(f"passes must be at least 2 (an entry's interval needs two sessions), not {self.passes}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FULL = MeasureSettings()
QUICK = MeasureSettings(TimingPlan(warmup_runs=5, warmup_s=0.2, runs=25, min_s=0.5, burst=BURST), adaptive_sessions=1)


@dataclass(frozen=True)
class Preset:
    """What `bench profile` measures unless told otherwise: a space, a resolution, measurement settings."""

    space: str
    resolution: int | None  # None: the space's default
    settings: MeasureSettings


# The quick preset is the first command's: the tiny space, whose 77 networks export in about two
# minutes on two cores, at 128 px (networks 0.6-1.4 ms, entries up to 0.25 ms; at 64 px they are
# 5-50 us, which only bursts, the widest context network and slow sessions measured again keep
# within ±10%: docs/guide.md), timed in per-stage sessions of ~10 networks so each removal pair is
# measured among few others (docs/guide.md: "Choosing the preset").
PRESETS = {"full": Preset("xxs", None, FULL), "quick": Preset("tiny", 128, QUICK)}
# The quick preset's committed LUT (this repository's development VM): the README's printed steps use
# it, and a quick profile that came out disturbed offers it instead of a path on its own LUT.
QUICK_LUT = "aa5a9101d4e5b51a"

def end_to_end_timing(lut: Lut) -> TimingPlan:
    """How whole models are timed against a LUT (`bench validate`, a search's finish): the default
    counts, in bursts of the LUT's own length, since a model timed with cold caches and a LUT timed
    with warm ones differ by more than any error the comparison is there to find. A LUT measured
    before bursts existed ran one run a round. Slow models get fewer rounds where the caller passes
    a `TimeBudget` to `run_session` (`bench validate` does, with the LUT's predictions as their cost)."""
    return TimingPlan(burst=int(lut.measurement.get("timing", {}).get("burst", 1)))


# A transfer (`bench profile --from`) measures this many networks unless told otherwise, and at most MAX_NETWORKS.
DEFAULT_NETWORKS = 10
MAX_NETWORKS = 50
