"""Program size: one budget (MiB) held on every device, for the program each device is given (the
`.pte`, the int8 `.pte`, the `.mlpackage`): app stores and over-the-air download limits make it a
real budget, and int8 halves it. Predicted by each device's LUT (its entries' `size_bytes`, profiled
by removal from the programs as exported for the device: `orchestrator.lut.size`) and measured as
the bytes of the program delivered in each device's form; a LUT profiled before sizes were
recorded cannot price it, and says how to get one that does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from search.nas.constraints.base import Constraint, Limit, Observed, Price, Subject, register
from search.nas.constraints.entry_sum import EntrySumPrice
from search.nas.memory import MIB
from search.space.config import SubnetConfig


def program_bytes(path: Path) -> int:
    """A program's size: a file's bytes, or the bytes of every file in a package folder."""
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


class SizePrice(EntrySumPrice):
    scale, impossible = MIB, "a program cannot be empty"

    def describe(self, limit: Limit) -> str:
        return f"a program ({self.subject.lut.measurement['size']['form']}) predicted at or below {limit.value:g} MiB"


@register
class ProgramSize(Constraint):
    name = "size"
    order = 40
    entry_field = "size_bytes"
    recorded_since = "program sizes"
    profile_method = "each network's program bytes as exported for the device, by removal: the entry is the difference per copy of its block"
    noun = "program size"
    unit = "MiB"
    option = "--size-mb"
    argument = "size_mb"
    help = "the budget of program size in MiB, each device's in its own form (.pte, int8 .pte, .mlpackage): predicted by each LUT, measured as the delivered file's bytes"
    bounds = (0.0, 1e5)

    def price(self, subject: Subject) -> Price:
        return SizePrice(self, subject)

    def of(self, observed: Observed) -> float | None:
        return None if observed.program_bytes is None else observed.program_bytes / MIB

    def entry_value(self, observed: Observed) -> float | None:
        return None if observed.program_bytes is None else float(observed.program_bytes)

    def profile_record(self, form: str) -> dict[str, Any]:
        return {"method": self.profile_method, "form": form}

    def validation(self, subject: Subject, configs: Sequence[SubnetConfig], observed: Sequence[Observed]) -> dict[str, Any] | None:
        """The LUT's program sizes against the bytes of the programs the validation exported."""
        from search.nas.agreement import figures

        if not self.recorded(subject.lut) or any(o.program_bytes is None for o in observed):
            why = self.not_recorded(subject.lut) if not self.recorded(subject.lut) else "the validation kept no program files"
            return {"record": {"skipped": why}, "points": [{} for _ in configs]}
        price = SizePrice(self, subject)
        predicted = np.array([price.point(c) for c in configs])
        measured = np.array([self.of(o) for o in observed], dtype=float)
        got = figures(predicted, measured)
        record = {"method": "each subnet's program bytes as exported for the device", **{k: v for k, v in got.items() if k != "rmse_ms"}, "rmse_mib": got["rmse_ms"]}
        return {"record": record, "points": [{"predicted_size_mib": float(p), "measured_size_mib": float(m)} for p, m in zip(predicted, measured)]}
