"""Do the LUT's intervals cover a repeat, where sessions carry offsets? A synthetic check of the
attribution alone (no device, seconds): entries whose removal deltas are timed in sessions that
each add an offset proportional to the network's latency (as measured on host), profiled twice;
the share of entries whose value in profile B lies in profile A's 95% interval, for the bootstrap
over rounds (LUTs before `measurement.interval`) and for the repeat interval (`repeat-sessions-v1`),
with normal offsets and with heavy-tailed ones (one session in ten disturbed fivefold). `--rounds`
per session: the quick preset's 25 by default; slow networks' sessions measure as few as the time
budget's floor (orchestrator/measure/budget.py), whose intervals must stay as honest.

Run: .venv/bin/python -m benchmarks.interval_calibration [--entries 40] [--repeats 20] [--rounds 25]
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from orchestrator.cli.entry import run_main
from orchestrator.lut.attribution import attribute, entry_sessions, normalised, rounds_interval
from orchestrator.plan.spec import Entry


def synthetic_profile(rng: np.random.Generator, entries: list[Entry], refs: np.ndarray, true: np.ndarray, sessions: int,
                      between: float, within: float, heavy: bool, rounds: int) -> list[dict[str, list[float]]]:
    """Sessions of samples: every network `within` x its latency of noise per round, and each
    session's with-block network an offset of `between` x its latency (fivefold in one in ten when heavy)."""
    out = []
    for _ in range(sessions):
        samples = {"anchor": list(1 + rng.normal(0, 0.01, rounds))}
        for e, ref, t in zip(entries, refs, true):
            offset = rng.normal(0, between * ref) * (rng.choice([1, 5], p=[0.9, 0.1]) if heavy else 1)
            samples[e.variant] = list(ref - t + rng.normal(0, within * ref, rounds))
            samples[e.reference] = list(ref + offset + rng.normal(0, within * ref, rounds))
        out.append(samples)
    return out


def covered(a: dict[str, tuple[float, float, float]], b: dict[str, tuple[float, float, float]]) -> float:
    return float(np.mean([a[k][1] <= b[k][0] <= a[k][2] for k in a]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=20, help="pairs of profiles per row")
    parser.add_argument("--rounds", type=int, default=25, help="rounds per session (the quick preset's 25; the time budget's floor is 10)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    entries = [Entry(f"e{i}", "transformer_layer", "s", {}, f"with-{i}", f"without-{i}") for i in range(args.entries)]
    refs, true = rng.uniform(0.5, 2.0, args.entries), rng.uniform(0.01, 0.3, args.entries)
    table = Table(title=f"coverage of a repeat by 95% intervals: {args.entries} synthetic entries, {args.repeats} pairs of profiles, "
                        f"two sessions of {args.rounds} rounds each")
    for column in ("session offsets", "bootstrap over rounds", "repeat interval", "goal"):
        table.add_column(column, justify="right")
    for label, heavy in (("normal, 2% of the network", False), ("heavy-tailed (1 in 10 x5)", True)):
        old, new = [], []
        for _ in range(args.repeats):
            pair = [synthetic_profile(rng, entries, refs, true, 2, 0.02, 0.05, heavy, args.rounds) for _ in range(2)]
            rounds = [{e.key: rounds_interval(np.concatenate(entry_sessions(e, normalised(p, "anchor")).deltas), rng) for e in entries} for p in pair]
            repeat = [{k: (v.latency_ms, *v.ci_ms) for k, v in attribute(entries, p, "anchor")[0].items()} for p in pair]
            old.append(covered(rounds[0], rounds[1]))
            new.append(covered(repeat[0], repeat[1]))
        table.add_row(label, f"{np.mean(old):.0%}", f"{np.mean(new):.0%}", ">= 90%")
    Console(width=140).print(table)


if __name__ == "__main__":
    run_main(main)
