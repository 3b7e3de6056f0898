"""`bench measure --lut`: any model timed on a LUT's device beside the LUT's anchor network, as a
search's finish times its winner (`delivery.time_models`). A budget is in the LUT's milliseconds
(its device's when it was profiled, another CPU's for a host LUT measured elsewhere), so a latency
compared with one must be read at the LUT's speed, not this session's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import UserError
from orchestrator.measure.devices import get_device
from orchestrator.measure.model import program_for
from orchestrator.measure.platforms import runner_for
from orchestrator.searchjob.delivery import Timed, time_models
from orchestrator.searchjob.measured import check_device_backend
from search.nas.budget import measures_within
from search.nas.constraints import get_constraint
from search.nas.lut import Lut, check_space
from search.space import load_space

MODEL = "model"  # the timed model's id in its session, beside the anchor's


@dataclass(frozen=True)
class AtLutSpeed:
    """One model timed beside a LUT's anchor network, and the budget it is read against (None: none given)."""

    lut: Lut
    timed: Timed
    run_dir: Path
    budget_ms: float | None

    @property
    def measured_ms(self) -> float:
        return self.timed.measured_ms[MODEL]

    @property
    def at_lut_ms(self) -> float:
        """Its latency at the LUT's speed (as measured where the LUT records no anchor latency)."""
        return self.timed.at_lut_speed(MODEL)

    @property
    def ratio(self) -> float | None:
        return None if self.budget_ms is None else self.at_lut_ms / self.budget_ms

    @property
    def within(self) -> bool | None:
        """Within the budget as a search's finish holds its winner to it (`measures_within`: its tolerance included)."""
        return None if self.budget_ms is None else measures_within(self.at_lut_ms, self.budget_ms, get_constraint("latency").tolerance)

    def document(self) -> dict[str, Any]:
        """`bench measure --lut --json`: the search's figures of a model (`Timed.record`) with its budget."""
        return {"lut": self.lut.id, "run_dir": str(self.run_dir), **self.timed.record(MODEL), "budget_ms": self.budget_ms,
                "budget_ratio": self.ratio, "within_budget": self.within}


def measure_at_lut_speed(
    model: str, lut: Lut, device_name: str | None = None, budget_ms: float | None = None, devices_file: Path | None = None,
    root: Path = Path("runs"),
) -> AtLutSpeed:
    """Time `model` (a file or timm:NAME, as `bench measure` takes it) on `lut`'s device, which
    `device_name` may only repeat: the anchor's speed there is what scales a session to the LUT's."""
    name = lut.device.name
    if device_name is not None and device_name != name:
        raise UserError(
            f"LUT {lut.short} was measured on {name}, not {device_name}, and its milliseconds are {name}'s; leave --device out "
            f"to time the model on {name} beside the LUT's anchor network, or give a LUT of {device_name} (`bench lut list`)"
        )
    device = get_device(name, devices_file)
    check_device_backend(device, lut)
    space = load_space(lut.space_name)
    check_space(lut, space.name, space.hash)
    program = program_for(model, device, runner_for(device), root, devices_file)
    timed = time_models({MODEL: program.path}, lut.resolution, lut, space, device, program.run_dir, shapes={MODEL: program.shape})
    return AtLutSpeed(lut, timed, program.run_dir, budget_ms)
