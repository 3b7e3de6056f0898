"""`bench profile --from LUT --timings FILE`: a new device's LUT from a LUT of another device and
networks timed on the new one elsewhere (its timings file), for any space, a layer-wise one
(FBNet) included: the transfer of `transfer.py`, with the networks taken from the file instead of
measured here.

Of the file's networks, `networks` are chosen to tell the source's kinds apart (the greedy
D-optimal design `transfer.py` uses: first the one the source prices nearest its median, then each
adding most information about the factors); the fit is `transfer_fit.fit`. The file's other
networks, where it has more, are judged as a validation run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infra.errors import UserError
from orchestrator.lut.fitted import check_target, held_out_record
from orchestrator.lut.store import append_validation, finish_lut, save_lut
from orchestrator.lut.table_space import TableSpace
from orchestrator.lut.timings import Timings
from orchestrator.lut.transfer import Columns, greedy_design, scaled_entries, transfer_record
from orchestrator.lut.transfer_fit import fit
from search.nas.lut import Lut, check_space


@dataclass(frozen=True)
class SourceTable:
    """The source LUT's entries as the fit reads them: their keys, latencies, and what each adds to
    the fit's columns (`Columns.contributions`), read once for the design and the fit's check."""

    keys: list[str]
    latency: np.ndarray
    contribution: np.ndarray

    @classmethod
    def of(cls, source: Lut, columns: Columns) -> SourceTable:
        keys = list(columns.contributions)
        return cls(keys, np.array([source.entries[k]["latency_ms"] for k in keys]), np.array([columns.contributions[k] for k in keys]))

    def entries(self, f0: float, u: np.ndarray) -> dict[str, float]:
        """Each entry's latency on the new device as factors (f0, u) price it (`Fit.latency`)."""
        return dict(zip(self.keys, f0 * (self.latency + self.contribution @ u)))


def _design(source: Lut, table: SourceTable, space: TableSpace, networks: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per network: the source milliseconds in each column, and the source LUT's whole prediction."""
    counts = space.counts(networks)
    missing = [e.key for e, used in zip(space.entries, counts.sum(axis=0)) if used and e.key not in source.entries]
    if missing:
        raise UserError(f"LUT {source.id} has no entry {missing[0]!r}, which the timed networks need; transfer from a LUT of the whole space")
    mine = counts[:, [space.column[k] for k in table.keys]]
    return mine @ table.contribution, mine @ table.latency


def choose(x: np.ndarray, total: np.ndarray, count: int) -> list[int]:
    """Rows of the design: the median-priced network, then greedily the most informative."""
    return greedy_design(x / total[:, None], int(np.argsort(total)[len(total) // 2]), count)


def transfer_from_timings(
    source: Lut,
    space: TableSpace,
    timings: Timings,
    device: str,
    networks: int,
    *,
    platform: str = "other",
    backend: str = "external",
    description: str = "",
    luts_root: Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Lut, Path, dict[str, Any] | None]:
    check_target(device, platform, backend)
    if source.method == "transfer":
        raise UserError(f"LUT {source.id} is itself a transfer; transfer from a measured or fitted LUT so errors do not compound")
    check_space(source, space.name, space.hash)
    if not 1 <= networks <= len(timings):
        raise UserError(f"--networks {networks} is out of range; the timings file holds {len(timings)} networks, so choose 1 to {len(timings)}")
    columns = Columns.of(source, space.flops())
    table = SourceTable.of(source, columns)
    x, total = _design(source, table, space, timings.networks)
    if np.any(total <= 0):
        raise UserError(f"LUT {source.id} prices some timed network at 0 ms or less; transfer from a LUT fitted to more timings")
    chosen = choose(x, total, networks)
    log(f"transfer from LUT {source.id} ({source.device.name}) to {device}: {len(chosen)} of the {len(timings)} timed networks")
    measured = timings.latency_ms[chosen]
    entry_weights = np.array([c / e["latency_ms"] for key, c in columns.contributions.items() if (e := source.entries[key])["latency_ms"] > 0])

    def positive(f0: float, u: np.ndarray) -> bool:
        return space.least(table.entries(f0, u)) > 0

    fitted = fit(x[chosen], total[chosen], measured, columns.levels, entry_weights, positive)
    doc = finish_lut(_body(source, space, timings, device, platform, backend, description, chosen, columns, table, fitted, total, measured))
    path = save_lut(doc, luts_root)
    lut = Lut.of(doc, path)
    judged = np.setdiff1d(np.arange(len(timings)), chosen)
    record = None
    if len(judged) >= 3:
        record = held_out_record(lut, space, timings, judged, fitted.common * (total + x @ fitted.u), seed=0)
        append_validation(path, record)
    return lut.with_validation(record), path, record


def _body(
    source: Lut, space: TableSpace, timings: Timings, device: str, platform: str, backend: str, description: str, chosen: list[int],
    columns: Columns, table: SourceTable, fitted: Any, total: np.ndarray, measured: np.ndarray,
) -> dict[str, Any]:
    n = len(chosen)
    context = space.parse(source.context.get("ops", dict(source.context)), f"LUT {source.id}'s context network")
    x, base = _design(source, table, space, (context,))
    return {
        "device": {
            "name": device, "platform": platform, "backend": backend, "precision": source.device.precision, "runtime": {},
            "description": description or f"{device}: transferred from {source.device.name} with {n} networks timed in {Path(timings.source).name}",
            "facts": {"timings": {"file": Path(timings.source).name, "rows": len(timings)}},
        },
        "runtime_versions": {},
        "space": dict(source.doc["space"]),
        "resolution": source.resolution,
        "method": "transfer",
        "measurement": {
            "networks": n,
            "context_latency_ms": float(fitted.common * (base[0] + x[0] @ fitted.u)),
            "transfer": transfer_record(source, fitted, columns, [(timings.names[i], space.config(timings.networks[i])) for i in chosen], total[chosen], measured),
        },
        "context": dict(source.context),
        "entries": scaled_entries(source, fitted, columns),
    }
