"""`bench profile --from LUT`: a new device's LUT from a few networks measured on it.

The source LUT already says how much each block costs relative to the others on its device. A new
device keeps much of that order but scales kinds of blocks differently (a phone's GPU speeds up
convolutions more than attention; portable kernels are slow in proportion to the arithmetic,
where XNNPACK's speed-up differs from op to op). So: time the source LUT's anchor and N-1
networks chosen so their mixes of entry kinds and arithmetic differ as much as possible (greedy
D-optimal design over a pool of random subnets), in one interleaved session; fit per kind of entry
a factor on its source latency and a cost per FLOP, finer per stage where the networks support it
(`transfer_fit`); write the source's entries as the fit prices them, as a LUT with
`method: transfer`, the networks, the factors with their uncertainty and the residuals. With
N = 1 it is the source LUT anchored: one common factor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infra.errors import UserError
from orchestrator.export.probes import export_probes
from orchestrator.lut.entry_flops import entry_flops
from orchestrator.lut.lut_run import LutRun
from orchestrator.lut.provenance import device_provenance
from orchestrator.lut.rundir import RunDirectory, run_state
from orchestrator.lut.sessions import Sessions, budgeted, results_samples
from orchestrator.lut.settings import MAX_NETWORKS, MeasureSettings
from orchestrator.lut.store import finish_lut, save_measured_lut
from orchestrator.lut.transfer_fit import Fit, fit
from orchestrator.measure.devices import Device
from orchestrator.plan.spec import ProbeSpec
from search.nas.lut import ENTRY_KINDS, Lut, check_space
from search.nas.predictor import parts
from search.space import SearchSpace, load_space
from search.space.config import SubnetConfig
from search.space.encoding import decode, random_batch
from search.space.sampling import max_config, min_config

POOL = 400  # random subnets the networks are chosen from
FLOPS = "flops"
LEVELS = ("kind", "stage", FLOPS)  # the penalty groups of the columns, in `Columns.levels` order
RIDGE = 1e-3  # keeps the design's information matrix invertible before it has as many networks as columns
Z95 = 1.96


@dataclass(frozen=True)
class Columns:
    """What the fit may scale separately: one column per entry kind, one per kind and stage, and one
    per kind for its FLOPs; and what each source entry contributes to them (`transfer_fit`)."""

    names: tuple[str, ...]
    levels: np.ndarray  # penalty group: 0 kind, 1 kind in one stage, 2 a kind's FLOPs
    contributions: dict[str, np.ndarray]  # entry key -> source milliseconds it adds to each column
    ms_per_flop: float  # the source LUT's average: FLOPs columns are in source milliseconds

    @classmethod
    def of(cls, lut: Lut, flops: dict[str, float]) -> Columns:
        entries = lut.entries
        missing = sorted(set(entries) - set(flops))
        if missing:
            raise UserError(f"LUT {lut.id} has entries its plan does not ({missing[0]!r}, ...); transfer from a LUT that `bench profile` wrote")
        kinds = [k for k in ENTRY_KINDS if any(e["kind"] == k for e in entries.values())]
        staged = sorted({f"{e['kind']}/{e['stage']}" for e in entries.values() if e["stage"] is not None}, key=_kind_order)
        worked = [k for k in kinds if any(flops[key] > 0 for key, e in entries.items() if e["kind"] == k)]
        names = (*kinds, *staged, *(f"{FLOPS}/{k}" for k in worked))
        total_flops = sum(flops[k] for k in entries)
        ms_per_flop = sum(max(e["latency_ms"], 0.0) for e in entries.values()) / total_flops if total_flops else 0.0
        index = {name: i for i, name in enumerate(names)}
        contributions = {}
        for key, e in entries.items():
            c = np.zeros(len(names))
            for name in (e["kind"], f"{e['kind']}/{e['stage']}"):
                if name in index:
                    c[index[name]] = e["latency_ms"]
            if f"{FLOPS}/{e['kind']}" in index:
                c[index[f"{FLOPS}/{e['kind']}"]] = flops[key] * ms_per_flop
            contributions[key] = c
        levels = np.array([0] * len(kinds) + [1] * len(staged) + [2] * len(worked))
        return cls(names, levels, contributions, ms_per_flop)

    def column(self, name: str) -> np.ndarray:
        return np.eye(len(self.names))[self.names.index(name)]


def _kind_order(name: str) -> tuple[int, str]:
    return ENTRY_KINDS.index(name.split("/")[0]), name


def design(lut: Lut, columns: Columns, configs: list[SubnetConfig], space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
    """Per network: the source milliseconds in each column, and the source LUT's whole prediction."""
    x = np.zeros((len(configs), len(columns.names)))
    total = np.zeros(len(configs))
    for n, config in enumerate(configs):
        for part in parts(config, space):
            if part.key not in lut.entries:
                raise UserError(f"LUT {lut.id} has no entry {part.key!r}; transfer from a LUT that `bench profile` wrote for the whole space")
            x[n] += columns.contributions[part.key]
            total[n] += lut.entries[part.key]["latency_ms"]
    return x, total


def choose_networks(lut: Lut, columns: Columns, space: SearchSpace, count: int, seed: int) -> list[SubnetConfig]:
    """The anchor, then greedily the network that adds most information about the factors (the
    largest xᵀM⁻¹x over each candidate's share of each column): networks whose mixes of entry kinds
    differ, so the fit is well conditioned."""
    resolution = lut.resolution
    anchor = SubnetConfig.from_dict(lut.context)
    batch = random_batch(space, POOL, np.random.default_rng(seed), resolution)
    pool = [anchor, min_config(space, resolution), max_config(space, resolution)]
    pool += [c for c in (decode(batch, i, space) for i in range(len(batch))) if c not in pool]
    x, total = design(lut, columns, pool, space)
    return [pool[i] for i in greedy_design(x / total[:, None], 0, count)]


def greedy_design(shares: np.ndarray, first: int, count: int) -> list[int]:
    """Rows of `shares` (each network's share of each column): `first`, then greedily the row that
    adds most information about the factors (the largest xᵀM⁻¹x), up to `count` rows."""
    information = RIDGE * np.eye(shares.shape[1]) + np.outer(shares[first], shares[first])
    chosen = [first]
    while len(chosen) < min(count, len(shares)):
        gain = np.einsum("nc,cd,nd->n", shares, np.linalg.inv(information), shares)
        gain[chosen] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        information += np.outer(shares[best], shares[best])
    return chosen


def check_source(lut: Lut) -> SearchSpace:
    """The source LUT's space, as defined now; refuse one that cannot be transferred."""
    if lut.method == "transfer":
        raise UserError(
            f"LUT {lut.id} is itself a transfer; transfer from a measured LUT (its source is {lut.measurement['transfer']['source_lut']}) "
            "so errors do not compound"
        )
    space = load_space(lut.space_name)
    check_space(lut, space.name, space.hash)
    return space


class Transferer(LutRun):
    """A transfer run: the source LUT's anchor and networks chosen to tell its kinds apart, timed in
    one session in its run directory, the fit written as a LUT."""

    def __init__(
        self,
        device: Device,
        source: Lut,
        networks: int,
        settings: MeasureSettings,
        run_dir: Path,
        workers: int | None = None,
        luts_root: Path | None = None,
        log: Callable[[str], None] = print,
        show_progress: bool = True,
    ) -> None:
        if not 1 <= networks <= MAX_NETWORKS:
            raise UserError(f"--networks {networks} is out of range; measure between 1 and {MAX_NETWORKS} networks")
        self.space = check_source(source)
        self.device, self.source, self.settings = device, source, settings
        self.workers, self.luts_root, self.log, self.show_progress = workers, luts_root, log, show_progress
        self.sessions = Sessions(device, run_dir, settings, log, show_progress=show_progress)
        self.columns = Columns.of(source, entry_flops(self.space, source.resolution, source.method))
        self.configs = choose_networks(source, self.columns, self.space, networks, settings.seed)
        self.probes = {s.id: s for s in (ProbeSpec("net", c.resolution, c.to_json(), True) for c in self.configs)}
        self.anchor = next(iter(self.probes))
        what = {"resolution": source.resolution, "method": "transfer", "source_lut": source.id, "networks": list(self.probes)}
        self.directory = RunDirectory(run_dir, run_state(device, self.space, what, settings), log)

    def _measured(self) -> tuple[Lut, Path]:
        self.log(
            f"transfer from LUT {self.source.id} ({self.source.device.name}): {len(self.probes)} networks "
            f"({self.space.name}, {self.source.resolution} px)"
        )
        artifacts = export_probes(self.probes, self.space.name, self.space.hash, self.device.backend, self.workers, show_progress=self.show_progress)
        [result] = self.sessions.measure_all([("transfer", list(self.probes))], self.probes, self.anchor, artifacts)
        measured = {pid: float(np.median(samples)) for pid, samples in results_samples([result])[0].items()}
        columns = self.columns
        x, total = design(self.source, columns, self.configs, self.space)
        entry_weights = np.array([c / e["latency_ms"] for key, c in columns.contributions.items()
                                  if (e := self.source.entries[key])["latency_ms"] > 0])
        measured_ms = np.array([measured[pid] for pid in self.probes])
        fitted = fit(x, total, measured_ms, columns.levels, entry_weights)
        doc = finish_lut(self._lut_body(result, columns, fitted, total, measured_ms))
        path = save_measured_lut(doc, self.space, self.sessions.run_dir, self.luts_root)
        return Lut.of(doc, path), path

    def _lut_body(self, result: dict[str, Any], columns: Columns, fitted: Fit, total: np.ndarray, measured: np.ndarray) -> dict[str, Any]:
        n = len(measured)
        return {
            **device_provenance(self.device, result),
            "space": dict(self.source.doc["space"]),
            "resolution": self.source.resolution,
            "method": "transfer",
            "measurement": {
                **self.settings.to_dict(),
                "sessions": 1,
                "rounds": result["rounds"],
                **budgeted([result], self.settings),
                "networks": n,
                "context_latency_ms": float(measured[0]),
                "anchor": {"probe": self.anchor, "session_median_ms": {"transfer": float(measured[0])}},
                "transfer": transfer_record(self.source, fitted, columns, list(zip(self.probes, (c.to_dict() for c in self.configs))), total, measured),
            },
            "context": dict(self.source.context),
            "entries": scaled_entries(self.source, fitted, columns),
        }


def transfer_record(
    source: Lut, fitted: Fit, columns: Columns, networks: list[tuple[str, dict[str, Any]]], total: np.ndarray, measured: np.ndarray,
) -> dict[str, Any]:
    """A transfer LUT's `measurement.transfer`: its source, the fitted factors with their
    uncertainty, and each network (name, config) with its source prediction, its measured latency,
    the fit's and the fit's without it; a transfer measured here and one from a file of timings
    (`transfer_timed.py`) record the same."""
    n = len(measured)
    return {
        "source_lut": source.id,
        "source_device": source.device.name,
        "source_method": source.method,
        "common_factor": fitted.common,
        "penalties": {LEVELS[level]: fitted.lambdas[level] for level in range(len(fitted.lambdas))},
        "residual_sd": fitted.sigma,
        "ms_per_flop_source": columns.ms_per_flop,
        "factors": {name: _factor(fitted, columns, name, n) for name in columns.names},
        "networks": [
            {
                "probe": name,
                "config": config,
                "source_predicted_ms": float(t),
                "measured_ms": float(m),
                "fitted_ms": float(f),
                "residual": float((f - m) / m),
                "loo_ms": None if np.isnan(loo) else float(loo),
                "loo_residual": None if np.isnan(loo) else float((loo - m) / m),
            }
            for (name, config), t, m, f, loo in zip(networks, total, measured, fitted.fitted_ms, fitted.loo_ms)
        ],
    }


def scaled_entries(source: Lut, fitted: Fit, columns: Columns) -> dict[str, dict[str, Any]]:
    """The source's entries as the fit prices them on the new device."""
    n = len(fitted.fitted_ms)
    return {key: _scaled(e, fitted, columns.contributions[key], n) for key, e in source.entries.items()}


def _factor(fitted: Fit, columns: Columns, name: str, networks: int) -> dict[str, Any]:
    """A kind's factor (its entries' latency on the new device over the source's), a stage's (its
    kind's refined), or a kind's milliseconds per GFLOP added on top."""
    if name.startswith(f"{FLOPS}/"):
        per_gflop = columns.column(name) * columns.ms_per_flop * 1e9
        return {"level": "flops", "unit": "ms/GFLOP", "factor": fitted.latency(0.0, per_gflop), "sd": fitted.latency_sd(0.0, per_gflop, networks)}
    weights = columns.column(name) + (columns.column(name.split("/")[0]) if "/" in name else 0.0)
    level = "stage" if "/" in name else "kind"
    return {"level": level, "unit": "x source", "factor": fitted.latency(1.0, weights), "sd": fitted.latency_sd(1.0, weights, networks)}


def _scaled(entry: dict[str, Any], fitted: Fit, contribution: np.ndarray, networks: int) -> dict[str, Any]:
    """The source entry as the fit prices it on the new device. Its interval keeps the source
    interval's half-widths, scaled as the entry was, and widens by the fit's 95% interval (not at
    all when the fit's uncertainty cannot be estimated)."""
    base = entry["latency_ms"]
    latency = fitted.latency(base, contribution)
    spread = Z95 * (fitted.latency_sd(base, contribution, networks) or 0.0)
    scale = abs(latency / base) if base else fitted.common
    lo, hi = entry["ci_ms"]
    ci = [latency - (base - lo) * scale - spread, latency + (hi - base) * scale + spread]
    return {
        "kind": entry["kind"],
        "stage": entry["stage"],
        "params": entry["params"],
        "latency_ms": latency,
        "ci_ms": ci,
        "samples": entry["samples"],
        "wide": ci[1] - ci[0] > abs(latency),
    }
