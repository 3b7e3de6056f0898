"""`bench profile`: plan -> export -> measure -> attribute -> LUT, resumable.

A profile lives in a run directory. Measurement is split into sessions (the fixed parts, the
MBConv layers, each transformer stage's layers, then adaptive re-measurements); each session is a
run directory of its own whose `result.json` is written atomically by the runner. A session with a
valid result is never measured again, so after Ctrl-C, a crash or an unplugged phone,
`--resume` continues with the first unfinished session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.errors import UserError
from orchestrator.export.cache import CachedExport
from orchestrator.lut.attribution import Estimate, Tolerance, anchor_speed, attribute
from orchestrator.lut.resumable import ResumableRun, session_anchor_ms, session_name
from orchestrator.lut.store import finish_lut, save_lut
from orchestrator.measure.devices import Device
from orchestrator.measure.shelf import ShelfPhone
from orchestrator.measure.timing import TimingPlan
from orchestrator.plan.builder import build_plan
from orchestrator.plan.spec import Entry, Plan
from search.space import SearchSpace


@dataclass(frozen=True)
class MeasureSettings:
    timing: TimingPlan = TimingPlan()
    # Noise-floor entries move by up to ~1% of the network from one session (one loading of the
    # programs) to the next, which the bootstrap within a session cannot see; more sessions average
    # it out. XXS profiled twice: p95 difference of predicted subnet latency 7.0% with 2, 3.6% with 4.
    adaptive_sessions: int = 4
    tolerance: Tolerance = Tolerance()
    seed: int = 0
    per_stage_sessions: bool = True  # finer resume granularity; each session costs a runner start

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FULL = MeasureSettings()
QUICK = MeasureSettings(TimingPlan(warmup_runs=5, warmup_s=0.2, runs=50, min_s=1.0), adaptive_sessions=1)


@dataclass(frozen=True)
class Preset:
    """What `bench profile` measures unless told otherwise: a space, a resolution, measurement settings."""

    space: str
    resolution: int | None  # None: the space's default
    settings: MeasureSettings


# The quick preset is the first command's: the tiny space, whose 77 networks export in about two
# minutes on two cores, at 128 px (networks 0.6-1.4 ms, entries up to 0.25 ms; at 64 px they are
# 5-50 us, at the timer's noise floor, and the LUT mispredicts), timed in per-stage sessions of
# ~10 networks so each removal pair is measured among few others (README: "Choosing the preset").
PRESETS = {"full": Preset("xxs", None, FULL), "quick": Preset("tiny", 128, QUICK)}


SPLIT_FIXED = ("mbconv_transition", "transformer_shell")  # the fixed parts with a session of their own


def session_groups(plan: Plan, per_stage: bool = True) -> list[tuple[str, list[Entry]]]:
    """Sessions of about ten networks, so each removal pair is timed among few others: the fixed
    parts (overhead, stems, heads), the MBConv transitions, the transformer shells, the MBConv
    layers, then one session per transformer stage's layers. Without `per_stage`: the fixed parts
    in one session and all layers in another."""
    groups: dict[str, list[Entry]] = {}
    for entry in plan.entries:
        if not entry.kind.endswith("_layer"):
            name = f"{entry.kind.replace('_', '-')}s" if per_stage and entry.kind in SPLIT_FIXED else "fixed-parts"
        elif not per_stage:
            name = "layers"
        elif entry.kind == "transformer_layer":
            name = f"{entry.stage}-layers"
        else:
            name = "mbconv-layers"
        groups.setdefault(name, []).append(entry)
    return list(groups.items())


def probes_of(entries: list[Entry]) -> list[str]:
    ids: list[str] = []
    for e in entries:
        for pid in (e.reference, e.variant):
            if pid is not None and pid not in ids:
                ids.append(pid)
    return ids


def adaptive_round(name: str, wide: list[Entry], phones: int) -> list[tuple[str, list[str]]]:
    """An adaptive round's entries as sessions: one, or one per phone measuring (consecutive entries
    in plan order, at least two entries each), so a shelf re-measures in parallel too."""
    parts = max(1, min(phones, len(wide) // 2))
    if parts == 1:
        return [(name, probes_of(wide))]
    bounds = [round(i * len(wide) / parts) for i in range(parts + 1)]
    return [(f"{name}-{i + 1}", probes_of(wide[lo:hi])) for i, (lo, hi) in enumerate(zip(bounds, bounds[1:]))]


def results_samples(results: list[dict[str, Any]]) -> list[dict[str, list[float]]]:
    return [{m["id"]: m["samples_ms"] for m in r["models"]} for r in results]


def default_run_dir(device: str, space: str, resolution: int, method: str = "removal") -> Path:
    return Path("runs") / f"profile-{method}-{device}-{space}-{resolution}-{datetime.now():%Y%m%d-%H%M%S}"


def latest_run_dir(device: str, space: str, resolution: int, method: str = "removal") -> Path:
    candidates = sorted(Path("runs").glob(f"profile-{method}-{device}-{space}-{resolution}-*"))
    if not candidates:
        raise UserError(f"there is no {method} profile run of {device}/{space}/{resolution} under runs/ to resume; run without --resume")
    return candidates[-1]


class Profiler(ResumableRun):
    def __init__(
        self,
        device: Device,
        space: SearchSpace,
        resolution: int,
        settings: MeasureSettings,
        run_dir: Path,
        workers: int = 2,
        luts_root: Path | None = None,
        log: Callable[[str], None] = print,
        show_progress: bool = True,
        plan: Plan | None = None,
        phones: list[ShelfPhone] | None = None,
    ) -> None:
        super().__init__(device, space, settings, run_dir, workers, luts_root, log, show_progress, phones)
        self.plan = plan or build_plan(space, resolution)

    def _what(self) -> dict[str, Any]:
        return {"resolution": self.plan.resolution, "method": self.plan.method, "plan_id": self.plan.id}

    def _measure(self) -> tuple[dict[str, Any], Path]:
        plan = self.plan
        self.log(f"plan: {len(plan.entries)} entries, {len(plan.probes)} networks ({self.space.name}, {plan.resolution} px)")
        artifacts = self._export(plan.probes)
        groups = session_groups(plan, self.settings.per_stage_sessions)
        results = self._sessions([(name, probes_of(entries)) for name, entries in groups], plan.probes, plan.anchor, artifacts)
        samples = results_samples(results)
        estimates = attribute(plan.entries, samples, plan.anchor, self._reference(results, plan.anchor)[0])
        for round_index in range(self.settings.adaptive_sessions):
            wide = [e for e in plan.entries if self.settings.tolerance.too_wide(estimates[e.key])]
            if not wide:
                break
            self.log(f"adaptive round {round_index + 1}: {len(wide)} entries have wide intervals, measuring them again")
            sessions = adaptive_round(f"adaptive-{round_index + 1}", wide, self.phone_count)
            new = self._sessions(sessions, plan.probes, plan.anchor, artifacts)
            results += new
            samples += results_samples(new)
            estimates = attribute(plan.entries, samples, plan.anchor, self._reference(results, plan.anchor)[0])
        doc = finish_lut(self._lut_body(estimates, results, artifacts))
        path = save_lut(doc, self.luts_root)
        self._done(doc, path)
        return doc, path

    def _lut_body(self, estimates: dict[str, Estimate], results: list[dict[str, Any]], artifacts: dict[str, CachedExport]) -> dict[str, Any]:
        anchor_ms = session_anchor_ms(results, self.plan.anchor)
        thermal = {session_name(r): r["thermal"] for r in results if "thermal" in r}  # phones report it
        reference_ms = self._reference(results, self.plan.anchor)[0]
        return {
            **self._provenance(results[0]),
            "space": {"name": self.space.name, "hash": self.space.hash},
            "resolution": self.plan.resolution,
            "method": self.plan.method,
            "measurement": {
                **self.settings.to_dict(),
                "sessions": len(results),
                "rounds": sum(r["rounds"] for r in results),
                "networks": len(self.plan.probes),
                "plan_id": self.plan.id,
                "context_latency_ms": reference_ms or anchor_speed(results_samples(results), self.plan.anchor),
                "anchor": {"probe": self.plan.anchor, "session_median_ms": anchor_ms},
                "export_partitions_max": max((a.meta.get("partitions", 0) for a in artifacts.values()), default=0),
                **({"session_thermal": thermal} if thermal else {}),
                **self._phones_provenance(results, self.plan.anchor),
            },
            "context": self.plan.context.to_dict(),
            "entries": {
                e.key: {
                    "kind": e.kind,
                    "stage": e.stage,
                    "params": e.params,
                    "latency_ms": estimates[e.key].latency_ms,
                    "ci_ms": list(estimates[e.key].ci_ms),
                    "samples": estimates[e.key].samples,
                    "wide": estimates[e.key].wide,
                }
                for e in self.plan.entries
            },
        }
