"""The figures beside latency a profile attributes to entries by removal, one loop over the
registered constraints that declare it (`Constraint.entry_field`: program size, load time): each
network's figure (`Constraint.entry_value` of its run in every session; the median over them), and
each entry the difference between its two networks per copy of its block, as latency's. A
constraint measured this way needs no line here or in the profile: its registration is enough.
Memory has a method of its own (`orchestrator.lut.memory`: working sets)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.plan.spec import Entry
from search.nas.constraints import CONSTRAINTS, Observed
from search.nas.constraints.size import program_bytes
from search.nas.run_result import read_all


def removal_figures(
    entries: Sequence[Entry], results: Sequence[Mapping[str, Any]], programs: Mapping[str, Path], method: str, form: str,
) -> dict[str, tuple[dict[str, float], dict[str, Any]]]:
    """Per constraint that a profile attributes by removal: each entry's figure and the LUT's
    `measurement.<name>` record. None of them for the isolated method (each block's network carries
    the program's fixed parts again), and none for a constraint some needed network gave no figure of."""
    if method != "removal":
        return {}
    sizes = {pid: program_bytes(path) for pid, path in programs.items()}
    seen: dict[str, list[Observed]] = {}
    for run in read_all(results):
        for pid, model in run.models.items():
            seen.setdefault(pid, []).append(Observed(model, None, sizes.get(pid)))
    needed = {pid for e in entries for pid in (e.reference, e.variant) if pid is not None}
    out = {}
    for name, constraint in CONSTRAINTS.items():
        if constraint.entry_field is None:
            continue
        values = {pid: [v for o in seen.get(pid, []) if (v := constraint.entry_value(o)) is not None] for pid in needed}
        if any(not v for v in values.values()):
            continue
        median = {pid: statistics.median(v) for pid, v in values.items()}
        per_entry = {e.key: (median[e.reference] - (median[e.variant] if e.variant is not None else 0.0)) / e.copies for e in entries}
        out[name] = (per_entry, constraint.profile_record(form))
    return out
