"""`bench profile`: plan -> export -> measure -> attribute -> LUT, resumable.

A profile lives in a run directory. Measurement is split into sessions (the fixed parts, the
MBConv layers, each transformer stage's layers, then adaptive re-measurements); each session is a
run directory of its own whose `result.json` is written atomically by the runner. A session with a
valid result is never measured again, so after Ctrl-C, a crash or an unplugged phone,
`--resume` continues with the first unfinished session.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.export.backends import get_backend
from orchestrator.export.probes import export_probes
from orchestrator.lut.attribution import CONFIDENCE, INTERVAL_DESCRIPTION, INTERVAL_METHOD, Estimate, SessionSpread, anchor_speed, attribute
from orchestrator.lut.disturbance import disturbance, offending_entries, slow_sessions
from orchestrator.lut.lut_run import LutRun
from orchestrator.lut.memory import lut_memory
from orchestrator.lut.provenance import device_provenance, phones_provenance
from orchestrator.lut.reference import reference_ms, round_anchored, session_anchor_ms
from orchestrator.lut.removal_figures import removal_figures
from orchestrator.lut.rundir import RunDirectory, run_state
from orchestrator.lut.sessions import Sessions, budgeted, results_samples, session_name
from orchestrator.lut.settings import MeasureSettings
from orchestrator.lut.store import finish_lut, save_measured_lut
from orchestrator.measure.devices import Device
from orchestrator.measure.shelf import ShelfPhone
from orchestrator.measure.steady import DISTURBED
from orchestrator.plan.builder import build_plan
from orchestrator.plan.spec import Entry, Plan
from search.nas.constraints import CONSTRAINTS
from search.nas.lut import Lut
from search.nas.run_result import RunResult
from search.space import SearchSpace

SPLIT_FIXED = ("mbconv_transition", "transformer_shell")  # the fixed parts with a session of their own
SLOW_RETRIES = 2  # times a session slowed as a whole is measured again
AGAIN = "-again"  # a session measured again is `<session>-again<n>`


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


WORKING_SETS = "working-sets"  # the session of the networks measured for their memory alone


def working_sets(plan: Plan) -> list[tuple[str, list[str]]]:
    """The working-set networks (plan version 4) that no removal pair times, as a session group of
    their own: their latency is no entry's, so they are kept out of the pairs' sessions, whose
    rounds they would lengthen, and out of the adaptive rounds; the session's runner measures their
    memory as every session's, in each pass."""
    timed = {pid for e in plan.entries for pid in (e.reference, e.variant)}
    ids = list(dict.fromkeys(e.working for e in plan.entries if e.working is not None and e.working not in timed))
    return [(WORKING_SETS, ids)] if ids else []


def passes(groups: list[tuple[str, list[str]]], count: int) -> list[tuple[str, list[str]]]:
    """Every group's session `count` times: all groups once, then all again (`<group>-pass2`, ...), so
    an entry's sessions are apart in time and see the machine's session-to-session variation."""
    return [(name if p == 1 else f"{name}-pass{p}", ids) for p in range(1, count + 1) for name, ids in groups]


NOISE_TARGET = 0.01  # the relative standard error each network's median should reach over its sessions' rounds
MAX_NOISE_PASSES = 8  # passes a noisy device is measured beyond the settings' own, at most


def noise(results: list[dict[str, Any]]) -> float:
    """How much a network's time moves from one steady round to the next on this device, relative to
    it: each network's robust coefficient of variation (1.4826 MAD over the median) in each session,
    the median of them all. An x86 host: 1-3%; a phone's little core: 7-12% (docs/phone_conditions.md)."""
    cvs = []
    for samples in results_samples(results):
        for steady in samples.values():
            x = np.array(steady)
            if len(x) >= 5 and (median := float(np.median(x))) > 0:
                cvs.append(1.4826 * float(np.median(np.abs(x - median))) / median)
    return float(np.median(cvs)) if cvs else 0.0


def noise_passes(results: list[dict[str, Any]], settings: MeasureSettings) -> int:
    """Passes beyond the settings' own that a device this noisy needs for each network's median to
    reach `NOISE_TARGET` (a median of n rounds moves by about 1.25 cv / sqrt(n)): more sessions, not
    longer ones, so a phone rests between them (`Guards.noise_rounds`). None on a quiet device."""
    rounds = max(1, min(len(r["steady_rounds"]) for r in results)) if results else settings.timing.runs
    needed = math.ceil((1.2533 * noise(results) / NOISE_TARGET) ** 2 / rounds)
    return min(max(0, needed - settings.passes), MAX_NOISE_PASSES)


def adaptive_round(name: str, wide: list[Entry], phones: int, most: int | None = None) -> list[tuple[str, list[str]]]:
    """An adaptive round's entries as sessions: one, or one per phone measuring (consecutive entries
    in plan order, at least two entries each), so a shelf re-measures in parallel too; and, on a
    phone, none of more than about `most` networks, the plan's largest session, as a session longer
    than any it measured may heat it past what a rest undoes (the hard simulated phone's did)."""
    needed = phones if most is None else max(phones, math.ceil(len(probes_of(wide)) / most))
    parts = max(1, min(needed, len(wide) // 2))
    if parts == 1:
        return [(name, probes_of(wide))]
    bounds = [round(i * len(wide) / parts) for i in range(parts + 1)]
    return [(f"{name}-{i + 1}", probes_of(wide[lo:hi])) for i, (lo, hi) in enumerate(zip(bounds, bounds[1:]))]


class Profiler(LutRun):
    """A profile run: its plan's networks exported, timed in sessions in its run directory, attributed
    entry by entry, written as a LUT."""

    def __init__(
        self,
        device: Device,
        space: SearchSpace,
        resolution: int,
        settings: MeasureSettings,
        run_dir: Path,
        workers: int | None = None,
        luts_root: Path | None = None,
        log: Callable[[str], None] = print,
        show_progress: bool = True,
        plan: Plan | None = None,
        phones: list[ShelfPhone] | None = None,
    ) -> None:
        self.device, self.space, self.settings = device, space, settings
        self.workers, self.luts_root, self.log, self.show_progress = workers, luts_root, log, show_progress
        self.sessions = Sessions(device, run_dir, settings, log, phones, show_progress)
        self.plan = plan or build_plan(space, resolution)
        what = {"resolution": self.plan.resolution, "method": self.plan.method, "plan_id": self.plan.id}
        self.directory = RunDirectory(run_dir, run_state(device, space, what, settings), log)

    def _measured(self) -> tuple[Lut, Path]:
        plan = self.plan
        self.log(f"plan: {len(plan.entries)} entries, {len(plan.probes)} networks ({self.space.name}, {plan.resolution} px)")
        self.artifacts = export_probes(plan.probes, self.space.name, self.space.hash, self.device.backend, self.workers, show_progress=self.show_progress)
        groups = [(name, probes_of(entries)) for name, entries in session_groups(plan, self.settings.per_stage_sessions)] + working_sets(plan)
        self.results: list[dict[str, Any]] = []
        self.replaced: list[str] = []
        self._measure_sessions(passes(groups, self.settings.passes))
        if self.settings.guards.noise_rounds and (more := noise_passes(self.results, self.settings)) > 0:
            self.log(
                f"this device is noisy (a network's time moves {noise(self.results):.1%} from one round to the next): measuring every "
                f"session group {more} more times, so that each network's median averages {NOISE_TARGET:.0%} or less"
            )
            self._measure_sessions(passes(groups, self.settings.passes + more)[len(groups) * self.settings.passes:])
        estimates, spread = self._attribute()
        # a phone gets no session longer than the plan's largest: a longer one may heat it past what a rest undoes
        largest = max(len(ids) for _, ids in groups) if self.device.platform != "host" else None
        for round_index in range(self.settings.adaptive_sessions):
            wide = [e for e in plan.entries if self.settings.tolerance.again(estimates[e.key])]
            if not wide:
                break
            self.log(f"adaptive round {round_index + 1}: {len(wide)} entries have wide intervals or no positive latency, measuring them again")
            self._measure_sessions(adaptive_round(f"adaptive-{round_index + 1}", wide, self.sessions.phone_count, largest))
            estimates, spread = self._attribute()
        body = self._lut_body(estimates, spread)
        if (cause := disturbance(body)) and (offending := set(offending_entries(body))):
            self.log(f"the sessions look disturbed ({cause}); measuring those entries again")
            self._measure_sessions(adaptive_round("disturbed", [e for e in plan.entries if e.key in offending], self.sessions.phone_count, largest))
            estimates, spread = self._attribute()
            body = self._lut_body(estimates, spread)
        if cause := disturbance(body):
            body["measurement"]["disturbed"] = cause
        doc = finish_lut(body)
        path = save_measured_lut(doc, self.space, self.sessions.run_dir, self.luts_root)
        return Lut.of(doc, path), path

    def _measure_sessions(self, sessions: list[tuple[str, list[str]]]) -> None:
        """Measure `sessions`, then measure again, up to `SLOW_RETRIES` times, every session that ran
        slow as a whole (`slow_sessions`); a session measured again is left out of attribution and
        named in the LUT (`replaced_sessions`). One still slow after that stays, and the LUT's
        disturbance check speaks of it."""
        plan = self.plan
        self.results += self.sessions.measure_all(sessions, plan.probes, plan.anchor, self.artifacts)
        for _ in range(SLOW_RETRIES if self.settings.guards.slow_sessions else 0):
            machine = {name: facts.get("serial") for name, facts in self.sessions.phones.items()}
            slow = set(slow_sessions(session_anchor_ms(self.results, plan.anchor), machine))
            if not slow:
                return
            self.log(f"{len(slow)} sessions ran over {DISTURBED - 1:.0%} slower than the quickest (other work on the device): measuring them again")
            again = []
            for r in self.results:
                if (name := session_name(r)) in slow:
                    root = name.split(AGAIN)[0]
                    self.replaced.append(name)
                    again.append((f"{root}{AGAIN}{sum(n.split(AGAIN)[0] == root for n in self.replaced)}", list(RunResult.of(r).models)))
            self.results = [r for r in self.results if session_name(r) not in slow]
            self.results += self.sessions.measure_all(again, plan.probes, plan.anchor, self.artifacts)

    def _attribute(self) -> tuple[dict[str, Estimate], SessionSpread]:
        guards = self.settings.guards
        samples = results_samples(self.results, guards.steady_rounds)
        return attribute(
            self.plan.entries, round_anchored(samples, self.plan.anchor) if guards.round_anchor else samples, self.plan.anchor if guards.anchor else None,
            reference_ms(self.sessions, self.results, self.plan.anchor) if guards.anchor else None,
        )

    def _lut_body(self, estimates: dict[str, Estimate], spread: SessionSpread) -> dict[str, Any]:
        results, artifacts = self.results, self.artifacts
        anchor_ms = session_anchor_ms(results, self.plan.anchor)
        thermal = {session_name(r): r["thermal"] for r in results if "thermal" in r}  # phones report it
        reference = reference_ms(self.sessions, results, self.plan.anchor)
        memory = lut_memory(self.plan.entries, results, self.plan.method)
        figures = removal_figures(self.plan.entries, results, {pid: a.path for pid, a in artifacts.items()}, self.plan.method, get_backend(self.device.backend).suffix)
        return {
            **device_provenance(self.device, results[0]),
            "space": {"name": self.space.name, "hash": self.space.hash},
            "resolution": self.plan.resolution,
            "method": self.plan.method,
            "measurement": {
                **self.settings.to_dict(),
                "sessions": len(results),
                "rounds": sum(r["rounds"] for r in results),
                "networks": len(self.plan.probes),
                "plan_id": self.plan.id,
                "layer_copies": self.plan.layer_copies,
                "plan_version": self.plan.version,
                "context_latency_ms": reference or anchor_speed(results_samples(results), self.plan.anchor),
                "anchor": {"probe": self.plan.anchor, "session_median_ms": anchor_ms},
                **({"replaced_sessions": self.replaced} if self.replaced else {}),
                **budgeted(results, self.settings),
                "interval": {"method": INTERVAL_METHOD, "confidence": CONFIDENCE, "description": INTERVAL_DESCRIPTION, "session_spread": spread.to_dict()},
                "export_partitions_max": max((a.meta.get("partitions", 0) for a in artifacts.values()), default=0),
                **({"session_thermal": thermal} if thermal else {}),
                **phones_provenance(self.sessions, results, self.plan.anchor, self.log),
                **({"memory": memory[1]} if memory else {}),
                **{name: record for name, (_, record) in figures.items()},
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
                    "sessions": estimates[e.key].sessions,
                    "wide": estimates[e.key].wide,
                    **({"memory": memory[0][e.key]} if memory else {}),
                    **{CONSTRAINTS[name].entry_field: values[e.key] for name, (values, _) in figures.items()},
                }
                for e in self.plan.entries
            },
        }
