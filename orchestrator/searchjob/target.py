"""A device the search holds to a budget (`Target`): its LUT, the LUT's latest validation, the budget
with its intervals calibrated on that validation, and the pricer of them; and the check that every
held LUT prices one space at one resolution, the supernet's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import UserError
from orchestrator.lut.store import latest_validation
from search.nas.budget import Budget, Pricer, make_budget
from search.nas.memory import MemoryPredictor
from search.nas.predictor import LatencyPredictor
from search.space import SearchSpace


@dataclass(frozen=True)
class Target:
    """A device the search holds to a budget: its LUT, the LUT's latest validation, the budget with
    its intervals calibrated on that validation, and the pricer of them."""

    lut_path: Path
    lut: dict[str, Any]
    validation: dict[str, Any] | None
    budget: Budget
    pricer: Pricer

    @property
    def name(self) -> str:
        return self.lut["device"]["name"]


def target_for(
    path: Path, lut: dict[str, Any], latency_ms: float, params_m: float | None, base_space: SearchSpace, space: SearchSpace,
    memory_mb: float | None = None,
) -> Target:
    """A device held to `latency_ms` (and to `memory_mb` of peak memory, which its LUT must record):
    its LUT's latest validation (beside the LUT at `path`) calibrates the budget's intervals; latency
    and memory priced in `base_space` (the space as profiled), parameters in `space` (as trained).
    What `bench search`, the API and the benchmarks price a budget with."""
    validation = latest_validation(path, lut["id"])
    predictor = LatencyPredictor(lut, base_space)
    budget = make_budget(latency_ms, params_m, validation, predictor, memory_mb)
    memory = MemoryPredictor(lut, base_space) if memory_mb is not None else None
    return Target(path, lut, validation, budget, Pricer(predictor, space, budget, memory))


def check_alike(first: dict[str, Any], other: dict[str, Any]) -> None:
    """Budgets of one search price one space at one resolution: the supernet's."""
    def shown(lut: dict[str, Any]) -> str:
        return f"LUT {lut['id'][:8]} ({lut['device']['name']}) is of space {lut['space']['name']!r} at {lut['resolution']} px"

    if (first["space"]["name"], first["space"]["hash"], first["resolution"]) != (other["space"]["name"], other["space"]["hash"], other["resolution"]):
        same = first["space"]["name"] == other["space"]["name"] and first["resolution"] == other["resolution"]
        raise UserError(
            f"{shown(other)}{' of another definition' if same else ''}, but {shown(first)}: the budgets of one search are priced in one space "
            "at one resolution, the supernet's; give LUTs of the checkpoint's space and resolution (`bench lut list`)"
        )
