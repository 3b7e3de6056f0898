"""Where a session's offset lives: in the process, or in each loading of a program.

A noise-floor entry moves by up to ±0.15 ms (about 1% of an XXS network) from one session to the
next (README, "How repeatable a profile is"). Two remedies for small entries differ in what they
assume about that offset. Loading the shared variant network more than once per session averages
it out only if each *loading* of a program carries an offset of its own; a slope fitted over
several removal points (one, two, three copies of the layer) helps either way, at the cost of a
network per point.

This times the networks of one profile session (the last transformer stage's layers, with the
anchor), every one loaded twice (two programs of one file), in several sessions, and reports per
network, relative to its latency and after anchor scaling (as attribution scales): the spread
between its two loadings within a session (the per-load offset), and the spread of the pair's
mean from session to session, of which what the per-load part does not explain is the process's.
Then per entry of the session, in ms: how far its median delta moves from session to session (one
loading, and the mean of two), against how far the jitter of its rounds alone moves it within a
session (the bootstrap over rounds that attribution floors an entry's variance with). Where the two
agree, the session adds nothing to the rounds' noise, and only more rounds, or more signal per
round, narrow the entry.

Run: .venv/bin/python -m benchmarks.load_offsets [--space xxs] [--sessions 6] [--cache DIR]
(`--cache` an export cache holding the space's plan, e.g. the one benchmarks/lut_build.py filled.)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from orchestrator.cli.entry import run_main
from orchestrator.export.probes import export_probes
from orchestrator.lut.attribution import rounds_variance
from orchestrator.lut.profile import probes_of, session_groups
from orchestrator.lut.settings import FULL
from orchestrator.measure.devices import get_device
from orchestrator.measure.session import run_session
from orchestrator.plan.builder import build_plan
from search.space import load_space

COPIES = ("a", "b")


def samples(result: dict) -> dict[str, np.ndarray]:
    return {m["id"]: np.asarray(m["samples_ms"]) for m in result["models"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="xxs")
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--cache", type=Path, help="export cache to use (default: a fresh one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="load-offsets-"))
    os.environ["BENCH_CACHE"] = str(args.cache or work / "cache")

    space = load_space(args.space)
    plan = build_plan(space, version=1)  # the plan whose one-copy entries this measured
    name, entries = [group for group in session_groups(plan) if group[0].endswith("-layers")][-1]
    ids = probes_of(entries)
    ids = ids if plan.anchor in ids else [*ids, plan.anchor]
    artifacts = export_probes({pid: plan.probes[pid] for pid in ids}, space.name, space.hash, "pte", workers=2, show_progress=True)
    device = get_device("host")
    runs = []
    for s in range(args.sessions):
        models = {f"{pid}-{c}": (artifacts[pid].path, plan.probes[pid].input_shape) for pid in ids for c in COPIES}
        runs.append(samples(run_session(device, work / f"session-{s}", models, FULL.timing, seed=s)))
        print(f"session {s + 1}/{args.sessions} done")

    medians = [{mid: float(np.median(values)) for mid, values in r.items()} for r in runs]
    anchor = np.array([np.mean([r[f"{plan.anchor}-{c}"] for c in COPIES]) for r in medians])
    scale = anchor.mean() / anchor  # each session at the anchor's mean speed
    table = Table(title=f"{space.name} session '{name}': {len(ids)} networks, each loaded twice, {args.sessions} sessions (σ relative to the network)")
    for column in ("network", "ms", "per-load σ", "pair mean σ between sessions", "process σ (the rest)"):
        table.add_column(column, justify="right")
    load_all, process_all = [], []
    for pid in ids:
        pair = np.array([[r[f"{pid}-{c}"] for c in COPIES] for r in medians]) * scale[:, None]
        level = pair.mean()
        per_load = np.std((pair[:, 0] - pair[:, 1]) / level, ddof=1) / np.sqrt(2)
        between = np.std(pair.mean(axis=1) / level, ddof=1)
        process = np.sqrt(max(between**2 - per_load**2 / 2, 0.0))
        load_all.append(per_load)
        process_all.append(process)
        label = "anchor" if pid == plan.anchor else pid[:8]
        table.add_row(label, f"{level:.3f}", f"{per_load:.2%}", f"{between:.2%}", f"{process:.2%}")
    table.add_row("median", "", f"{np.median(load_all):.2%}", "", f"{np.median(process_all):.2%}")
    console = Console(width=140)
    console.print(table)

    deltas = Table(title="its entries: median delta (ms) and its spread from session to session against the rounds' own")
    for column in ("entry", "ms", "between sessions, one load", "between sessions, mean of two", "rounds alone"):
        deltas.add_column(column, justify="right")
    for e in entries:
        one, two, alone = [], [], []
        for s, r in enumerate(runs):
            per_copy = [np.median(r[f"{e.reference}-{c}"] - r[f"{e.variant}-{c}"]) * scale[s] for c in COPIES]
            one.append(per_copy[0])
            two.append(np.mean(per_copy))
            alone.append(np.sqrt(rounds_variance((r[f"{e.reference}-a"] - r[f"{e.variant}-a"]) * scale[s], seed=s)))
        deltas.add_row(e.key, f"{np.mean(two):.3f}", f"{np.std(one, ddof=1):.3f}", f"{np.std(two, ddof=1):.3f}", f"{np.mean(alone):.3f}")
    console.print(deltas)
    print(f"work folder: {work}")


if __name__ == "__main__":
    run_main(main)
