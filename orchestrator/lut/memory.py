"""A LUT's memory: what each entry's block adds to a model's memory on the device, by removal, as its
latency is attributed.

Every session's runner reports each network's memory (`models[].memory` of the result contract:
what its load added and its peak, above the process's level before the load). Memory moves little
from one session to the next (on the host a network's figures repeat to the page), so a network's
memory is its median over the sessions that measured it, and an entry's is the difference between
its two networks, per copy of the block, as its latency is: what loading it adds (weights add up).
An entry of a plan with working-set networks (version 4) also records `working_bytes`, the working
memory of its own network (its peak less its load, the median over the sessions that measured it):
a model's peak is its load plus the largest working set of any one part, which the removal
differences cannot show (`orchestrator/plan/builder.py`, `search/nas/memory.py`).

A LUT records no memory when a runner reported none for a network an entry needs (apps before the
contract had memory, a host other than Linux) or when the entries were measured alone (the
isolated method: each block's network carries the runtime's base again).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from orchestrator.plan.spec import Entry
from search.nas.memory import KINDS
from search.nas.run_result import read_all


def network_memory(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each network's memory as every session that measured it reported it."""
    seen: dict[str, list[dict[str, Any]]] = {}
    for run in read_all(results):
        for mid, memory in run.memory().items():
            if memory is not None:
                seen.setdefault(mid, []).append(memory)
    return seen


def relative_sd(seen: dict[str, list[dict[str, Any]]]) -> float:
    """How far a network's peak moves between sessions, relative to it: the median over the networks
    measured twice or more (0 when none was)."""
    spreads = [float(np.std([m["peak_bytes"] for m in ms], ddof=1) / np.mean([m["peak_bytes"] for m in ms])) for ms in seen.values() if len(ms) >= 2]
    return statistics.median(spreads) if spreads else 0.0


def lut_memory(entries: Sequence[Entry], results: Sequence[dict[str, Any]], method: str) -> tuple[dict[str, dict[str, float]], dict[str, Any]] | None:
    """Each entry's memory and the LUT's `measurement.memory` record, or None where the LUT can
    record none (see the module's docstring)."""
    if method != "removal":
        return None
    seen = network_memory(results)
    needed = {pid for e in entries for pid in (e.reference, e.variant, e.working) if pid is not None}
    if not needed <= seen.keys():
        return None
    median = {pid: {k: statistics.median(m[k] for m in seen[pid]) for k in KINDS} for pid in needed}
    working = {pid: statistics.median(m["peak_bytes"] - m["load_bytes"] for m in seen[pid]) for pid in {e.working for e in entries if e.working is not None}}
    memory = {
        e.key: {
            **{k: (median[e.reference][k] - (median[e.variant][k] if e.variant is not None else 0.0)) / e.copies for k in KINDS},
            **({"working_bytes": working[e.working]} if e.working is not None else {}),
        }
        for e in entries
    }
    record = {"method": next(iter(seen.values()))[0]["method"], "relative_sd": relative_sd(seen), "networks": len(needed)}
    return memory, record
