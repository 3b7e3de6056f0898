"""`bench lut fit`: a LUT fitted to whole-network timings made elsewhere, stored, validated and
listed as a profiled LUT is, with its method recorded as `fitted`.

The rows are split: `holdout` of them (drawn with the seed, spread over the measurement order) are
kept out of the fit and judged as `bench validate` judges subnets; the rest, or the first
`networks` of them in measurement order (as a user times a run of networks), are fitted. A held-out
network's timing carries the drift of its moment; that drift is read from its neighbours in order
(every other row, itself left out) against the fitted table, as a profile reads it from its
anchor, and taken out (`figures`); `raw_figures` judge the timings as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from infra.errors import UserError
from infra.files import check_name
from orchestrator.lut.fit_table import (
    MARGIN_QUANTILE,
    NEIGHBOURS,
    Z95,
    TableFit,
    fit_table,
    margin,
    neighbour_drift,
    out_of_fold,
    rounding_step,
)
from orchestrator.lut.store import append_validation, finish_lut, save_lut
from orchestrator.lut.table_space import TableSpace
from orchestrator.lut.timings import Timings
from search.nas.agreement import figures
from search.nas.lut import Lut

PLATFORMS = ("android", "ios", "host", "other")
HELD_OUT_NOTE = (
    "networks held out of the fit: anchored, each timing with the drift of its moment taken out (read from its neighbours in measurement "
    "order against this LUT, as a profile reads it from its anchor); raw, the timings as they are"
)
NO_ORDER_NOTE = "networks held out of the fit, judged as timed: the file gives no measurement order, so no drift could be taken out"


@dataclass(frozen=True)
class Fitted:
    lut: Lut
    path: Path
    validation: dict[str, Any] | None  # the held-out networks' record, None without a hold-out
    notes: tuple[str, ...]


def check_target(device: str, platform: str, backend: str) -> None:
    """The device a fitted or transferred LUT is filed under, and what it says ran the timings."""
    from orchestrator.export.backends import BACKENDS

    check_name(device, "device name")
    if platform not in PLATFORMS:
        raise UserError(f"--platform {platform!r} is not one of {', '.join(PLATFORMS)}")
    if backend != "external" and backend not in BACKENDS:
        raise UserError(f"--backend {backend!r} is not a registered backend ({', '.join(BACKENDS)}) nor external")


def split(timings: Timings, holdout: float, networks: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit and rows to judge. The fitted rows are the first `networks` of the rest in
    measurement order (file order where none is given)."""
    n = len(timings)
    if not 0 <= holdout < 1:
        raise UserError(f"--holdout {holdout} is out of range; keep a share between 0 and 0.9 of the networks out of the fit")
    judged = np.sort(np.random.default_rng(seed).permutation(n)[: int(round(holdout * n))])
    rest = np.setdiff1d(np.arange(n), judged)
    if timings.order is not None:
        rest = rest[np.argsort(timings.order[rest], kind="stable")]
    if networks is not None:
        if networks > len(rest):
            raise UserError(f"--networks {networks} is more than the {len(rest)} networks left to fit after the hold-out; ask for at most {len(rest)}")
        rest = rest[:networks]
    if len(rest) < 2:
        raise UserError(f"{len(rest)} network(s) left to fit; a table needs at least 2 timed networks (give more rows or a smaller --holdout)")
    return np.sort(rest), judged


def _notes(space: TableSpace, timings: Timings, counts: np.ndarray, fit: TableFit) -> list[str]:
    """One sentence per figure the data cannot support."""
    notes = []
    n, p = counts.shape
    unseen = int(np.sum(counts.sum(axis=0) == 0))
    if n < p:
        notes.append(
            f"{n} networks cannot fix {p} entries one by one: each is priced mostly by its groups (its kind of block, its shape, its arithmetic), "
            f"so time at least {p} networks, better {5 * p}, for a table that tells the places of one block apart"
        )
    if unseen:
        notes.append(f"{unseen} of {p} entries appear in no timed network and are priced by their groups alone; add networks that use them")
    step = rounding_step(timings.latency_ms)
    blocks = np.abs(fit.latency_ms[[e.kind != "overhead" for e in space.entries]])
    if step is not None and blocks.size and step > np.median(blocks):
        notes.append(
            f"the timings are rounded to {step:g} ms, more than the fitted cost of {np.mean(blocks < step):.0%} of the blocks, "
            "so a block's cost is told only from many networks' sums and ±5% figures are capped by the rounding"
        )
    if timings.order is None:
        notes.append("the timings give no measurement order (`order` or `time_s`), so the device's drift cannot be fitted and stays in the error")
    return notes


def fit_lut(
    space: TableSpace,
    timings: Timings,
    device: str,
    *,
    platform: str = "other",
    backend: str = "external",
    description: str = "",
    holdout: float = 0.2,
    networks: int | None = None,
    seed: int = 0,
    luts_root: Path | None = None,
    log: Callable[[str], None] = print,
) -> Fitted:
    check_target(device, platform, backend)
    fit_rows, judged = split(timings, holdout, networks, seed)
    counts = space.counts(timings.networks)
    prior = space.prior()
    train = timings.subset(fit_rows)
    log(f"fitting {len(space.entries)} entries of {space.name} to {len(fit_rows)} networks" + (f", {len(judged)} held out" if len(judged) else ""))
    table = fit_table(counts[fit_rows], train.latency_ms, train.order, prior, train.repeats, seed)
    oof = out_of_fold(counts[fit_rows], train.latency_ms, train.order, prior, train.repeats, seed, table.penalties)
    the_margin = margin(train.latency_ms / table.drift, oof)
    notes = _notes(space, train, counts[fit_rows], table)
    predicted = table.predict(counts)
    if np.any(predicted[fit_rows] <= 0):
        raise UserError("the fitted table prices some timed network at 0 ms or less; the timings are too few or too noisy for a table (give more networks)")
    doc = finish_lut(_body(space, timings, device, platform, backend, description, fit_rows, judged, counts, predicted, table, the_margin, notes, oof))
    path = save_lut(doc, luts_root)
    lut = Lut.of(doc, path)
    record = None
    if len(judged):
        record = held_out_record(lut, space, timings, judged, predicted, seed)
        append_validation(path, record)
    return Fitted(lut.with_validation(record), path, record, tuple(notes))


def _sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _body(
    space: TableSpace, timings: Timings, device: str, platform: str, backend: str, description: str, fit_rows: np.ndarray,
    judged: np.ndarray, counts: np.ndarray, predicted: np.ndarray, table: TableFit, the_margin: float | None, notes: list[str], oof: np.ndarray,
) -> dict[str, Any]:
    """The LUT's body; `predicted`: every row's latency by the table, the context network being the
    fitted network it prices at the median."""
    seen = counts[fit_rows].sum(axis=0)
    context = int(fit_rows[np.argsort(predicted[fit_rows])[len(fit_rows) // 2]])
    entries = {}
    for i, e in enumerate(space.entries):
        latency, half = float(table.latency_ms[i]), float(Z95 * table.se_ms[i])
        entries[e.key] = {
            "kind": e.kind, "stage": e.stage, "params": e.params, "latency_ms": latency, "ci_ms": [latency - half, latency + half],
            "samples": max(int(seen[i]), 1), "wide": 2 * half > abs(latency),
        }
    drift = table.drift
    return {
        "device": {
            "name": device, "platform": platform, "backend": backend, "precision": "float32", "runtime": {},
            "description": description or f"{device}: fitted to whole-network timings from {Path(timings.source).name}",
            "facts": {"timings": {"file": Path(timings.source).name, "sha256": _sha256(timings.source), "rows": len(timings),
                                  "order": timings.order_field, "repeats": timings.repeats is not None}},
        },
        "runtime_versions": {},
        "space": {"name": space.name, "hash": space.hash},
        "resolution": space.resolution,
        "method": "fitted",
        "measurement": {
            "networks": len(fit_rows),
            "held_out": len(judged),
            "context_latency_ms": float(predicted[context]),
            "fit": {
                "model": "additive table by ridge regression on relative error, each entry shrunk towards its groups (arithmetic, kind of block, shape)" + (", the device's drift fitted jointly from the measurement order" if timings.order is not None else ""),
                "penalties": table.penalties,
                "residual_sd": table.residual_sd,
                "drift": None if timings.order is None else {
                    "order": timings.order_field, "neighbours": NEIGHBOURS,
                    "factor_range": [float(drift.min()), float(drift.max())], "factor_sd": float(np.std(np.log(drift))),
                    "lag1_before": table.lag1_before, "lag1_after": table.lag1_after,
                },
                "margin": None if the_margin is None else {"quantile": MARGIN_QUANTILE, "relative": the_margin,
                                                            "out_of_fold_within_10": float(np.mean(np.abs(oof[np.isfinite(oof)] / (timings.latency_ms[fit_rows] / drift)[np.isfinite(oof)] - 1) <= 0.10))},
                "rounding_ms": rounding_step(timings.latency_ms[fit_rows]),
                "notes": notes,
            },
            "interval": {
                "method": "ridge sandwich",
                "confidence": 0.95,
                "description": "95% interval of each entry from the ridge fit's sandwich covariance and the relative residuals after the drift",
            },
        },
        "context": space.config(timings.networks[context]),
        "entries": entries,
    }


def held_out_quiet(timings: Timings, judged: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The held-out timings with the drift of their moment taken out: read from every other row's
    residual against the table, nearest in measurement order (1 where no order is given)."""
    if timings.order is None:
        return np.ones(len(judged))
    residual = np.log(timings.latency_ms) - np.log(np.maximum(predicted, 1e-9))
    return np.exp(neighbour_drift(timings.order, residual, timings.order[judged]))


def held_out_record(lut: Lut, space: TableSpace, timings: Timings, judged: np.ndarray, predicted: np.ndarray, seed: int) -> dict[str, Any]:
    """The validation record of the networks of `timings` that `judged` names, as `bench validate`
    writes one: `predicted` (every row's, by the LUT) against each timing with the drift of its moment
    taken out (`figures`) and as it is (`raw_figures`). A fitted LUT's held-out rows and a timed
    transfer's unchosen rows are judged so."""
    drift = held_out_quiet(timings, judged, predicted)
    measured, raw = timings.latency_ms[judged] / drift, timings.latency_ms[judged]
    mine = predicted[judged]
    return {
        "lut_id": lut.id,
        "device": lut.device.name,
        "device_facts": {"held_out_of": Path(timings.source).name, "drift_taken_out": timings.order is not None},
        "seed": seed,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "figures": figures(mine, measured),
        "raw_figures": figures(mine, raw),
        "anchor": {"lut_reference_ms": None, "speed_factor": float(np.median(drift)), "note": HELD_OUT_NOTE if timings.order is not None else NO_ORDER_NOTE},
        "points": [
            {"config": space.config(timings.networks[i]), "predicted_ms": float(p), "raw_predicted_ms": float(p), "measured_ms": float(m)}
            for i, p, m in zip(judged, mine, measured)
        ],
    }
