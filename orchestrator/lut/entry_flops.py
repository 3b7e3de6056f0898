"""The arithmetic in each LUT entry, counted the way the entry was measured: the FLOPs of the
network with the block minus those of the network without it (the block alone for isolated
LUTs), by torch's FlopCounterMode (matrix multiplications and convolutions).

A transfer fit uses them because a new device's cost can follow the work rather than the source
device's latency. Counting builds every network of the plan (a few seconds for tiny, ~20 s for
XXS; the networks run on the meta device, shapes without arithmetic), so the counts are kept in
the export cache under the plan's id, and a process that needs counts another one is making waits
for them, as for an export.
"""

from __future__ import annotations

from pathlib import Path

from infra.errors import UserError
from infra.files import write_json_atomic
from infra.locks import held
from infra.strict_json import load_json
from orchestrator.export.cache import cache_root
from orchestrator.plan.builder import build_plan
from orchestrator.plan.networks import build_probe
from orchestrator.plan.spec import Plan
from search.space import SearchSpace


def _count(plan: Plan, space: SearchSpace) -> dict[str, float]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    flops: dict[str, float] = {}
    for pid, spec in plan.probes.items():
        # On the meta device: the counter needs only the shapes, so no arithmetic is done.
        model = build_probe(spec, space).eval().to("meta")
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.zeros(spec.input_shape, device="meta"))
        flops[pid] = float(counter.get_total_flops())
    return {e.key: max(flops[e.reference] - (flops[e.variant] if e.variant else 0.0), 0.0) for e in plan.entries}


def entry_flops(space: SearchSpace, resolution: int, method: str) -> dict[str, float]:
    """FLOPs per entry key of the plan a LUT of (space, resolution, method) was measured with."""
    plan = build_plan(space, resolution, method)
    path = cache_root() / "flops" / f"{plan.id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with held(path.with_name(f".{path.name}.lock"), f"the FLOP count of plan {plan.id}", wait=True):
        if (saved := _saved(path, plan)) is not None:
            return saved
        counted = _count(plan, space)
        write_json_atomic(path, counted)
        return counted


def _saved(path: Path, plan: Plan) -> dict[str, float] | None:
    """The counts kept for `plan`, or None when there are none or they are damaged (counted again,
    like a damaged export)."""
    try:
        saved = load_json(path, "the FLOP counts", "they are counted again") if path.exists() else None
    except UserError:
        return None
    if isinstance(saved, dict) and all(isinstance(saved.get(e.key), (int, float)) for e in plan.entries):
        return {e.key: float(saved[e.key]) for e in plan.entries}
    return None
