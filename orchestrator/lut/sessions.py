"""A LUT-building run's measurement sessions: each an interleaved session of a few networks with the
anchor network among them, in a folder of its own (`<run>/sessions/<name>/`), kept once measured so
that `--resume` never measures it again.

Given a shelf of phones, sessions run on all of them at once (`orchestrator.lut.spread`); each
session then records the phone it ran on in its folder (`phone.json`), so the LUT names, for every
session, the phone that measured it, resumed runs included. Without one, sessions run one after
another on the device's single runner.

Slow networks get fewer rounds (`orchestrator.measure.budget`): a session's counts are fitted to
what its networks cost here, known from the sessions measured before it in the run. A network not
measured yet is taken to cost as much as the slowest one measured where that still gives the
session its full counts (a profile's networks are variants of its context network, the anchor,
which every session times); otherwise a pilot round measures what they cost before the session.
So a fast device pays one pilot, before its first session, and a slow one a pilot per session
that has networks new to it. A batch of sessions shows a bar with the time it has left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from infra.files import write_json_atomic
from infra.shown import duration
from infra.strict_json import load_json
from orchestrator.export.cache import CachedExport
from orchestrator.lut.settings import MeasureSettings
from orchestrator.lut.spread import SessionJob, Spread
from orchestrator.measure.budget import Timetable, round_seconds, session_seconds
from orchestrator.measure.contract import ContractError, check_result, read_json
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.progress import shown
from orchestrator.measure.runners.base import Throttled
from orchestrator.measure.session import run_session
from orchestrator.measure.shelf import ShelfPhone
from orchestrator.measure.timing import TimingPlan
from orchestrator.plan.spec import ProbeSpec
from search.nas.run_result import RunResult, read_all, session_of

PHONE_FACTS = ("serial", "model", "os", "build")


class Sessions:
    """The sessions of one run directory; `finished` names those done (measured or kept),
    `phones` the facts of the shelf phone that measured each (none without a shelf) and
    `latency_ms` each network's median in the latest session that timed it."""

    def __init__(
        self, device: Device, run_dir: Path, settings: MeasureSettings, log: Callable[[str], None], phones: list[ShelfPhone] | None = None,
        show_progress: bool = True,
    ) -> None:
        self.device, self.run_dir, self.settings, self.log, self.show_progress = device, run_dir, settings, log, show_progress
        self.runner = runner_for(device)
        self.spread = Spread(phones, log) if phones else None
        self.finished: list[str] = []
        self.phones: dict[str, dict[str, Any]] = {}  # session -> the facts of the phone that measured it
        self.latency_ms: dict[str, float] = {}
        self.timetable = Timetable([])  # the batch `measure_all` measures, and its sessions not started
        self.budget = settings.budget  # shortened where the phone throttles within a session (`_shorten`)
        self._waiting: dict[str, list[str]] = {}

    @contextmanager
    def unattended(self) -> Iterator[None]:
        """Every runner that measures (each phone's of the shelf, or the device's own) held ready
        for the whole run (`Runner.unattended`): from before its exports to its LUT."""
        with ExitStack() as held:
            for runner in [p.runner for p in self.spread.phones] if self.spread else [self.runner]:
                held.enter_context(runner.unattended(self.run_dir))
            yield

    @property
    def phone_count(self) -> int:
        """Phones measuring now: sessions that can run at once."""
        return len(self.spread.live) if self.spread else 1

    def measure(
        self, name: str, probe_ids: list[str], probes: dict[str, ProbeSpec], anchor: str, artifacts: dict[str, CachedExport],
        phone: ShelfPhone | None = None,
    ) -> dict[str, Any]:
        """One interleaved session of `probe_ids`, with the anchor network among them, on `phone`
        (a phone of the shelf) or on the device's runner; a session measured before is kept."""
        probe_ids = probe_ids if anchor in probe_ids else [*probe_ids, anchor]
        session_dir = self.run_dir / "sessions" / name
        kept = _kept(name, session_dir, probe_ids) if (session_dir / "result.json").exists() else None
        if kept is not None:
            self.log(f"session {name}: already measured, kept")
            if (facts := _phone_record(session_dir / "phone.json")) is not None:
                self.phones[name] = facts
            self._learn(kept)
            self._waiting.pop(name, None)
            self.timetable.skip(name)
            self.finished.append(name)
            return kept
        where = f"phone {phone.serial}" if phone else self.device.name
        left = self.timetable.left_s(time.monotonic())
        self.log(f"session {name}: measuring {len(probe_ids)} networks on {where}" + ("" if left is None else f" (about {duration(left)} left)"))
        models = {pid: (artifacts[pid].path, probes[pid].input_shape) for pid in probe_ids}
        self._waiting.pop(name, None)
        self.timetable.start(name, time.monotonic())
        while True:
            try:
                result = run_session(
                    self.device, session_dir, models, self.settings.timing, self.settings.seed, f"{self.run_dir.name}/{name}",
                    phone.runner if phone else self.runner, self.budget, self._estimates(probe_ids),
                    lambda timing, round_s: self._timed(name, timing, round_s),
                )
                break
            except Throttled as hot:
                self._shorten(name, hot, probe_ids)
        self.timetable.finish(name, time.monotonic())
        if phone is not None:
            write_json_atomic(session_dir / "phone.json", phone.facts())
            self.phones[name] = phone.facts()
        self._learn(result)
        self._expect_waiting()
        self.finished.append(name)
        return result

    def _shorten(self, name: str, hot: Throttled, probe_ids: list[str]) -> None:
        """A session that throttled the phone twice: every session from now on measures at most half
        as long as it did (`Guards.thermal_budget`), which a phone that heats within a session needs;
        refused in one sentence where the guard is off or sessions are at their fewest rounds already.
        What a round costs: the networks measured so far, else the throttled session's own medians."""
        costs = self._bounded(probe_ids) or (hot.medians_ms if set(probe_ids) <= set(hot.medians_ms) else None)
        if not self.settings.guards.thermal_budget or not costs or not hot.rounds:
            raise hot
        round_s = round_seconds([costs[p] for p in probe_ids], self.settings.timing.burst)
        floor_s, worked = round_s * self.budget.floor, min(self.budget.seconds, round_s * hot.rounds)
        if worked <= floor_s * 1.05:
            raise hot
        self.budget = replace(self.budget, seconds=max(worked / 2, floor_s))
        self.log(
            f"session {name}: the phone throttled in it twice after {worked:.0f} s of rounds; sessions now measure at most "
            f"{self.budget.seconds:.0f} s of rounds (at least {self.budget.floor}), with a cool-down before each"
        )

    def _estimates(self, probe_ids: list[str]) -> dict[str, float]:
        """What each network costs here, as far as the session's counts may rest on it: those
        measured, and the others at the slowest one measured when even that lets the session run
        its full counts. Otherwise only those measured, and `run_session` times a pilot round."""
        known = {pid: self.latency_ms[pid] for pid in probe_ids if pid in self.latency_ms}
        bounded = self._bounded(probe_ids)
        if bounded is None or len(known) == len(probe_ids):
            return known
        timing = self.settings.timing
        return bounded if self.budget.fit(timing, round_seconds(bounded.values(), timing.burst)) == timing else known

    def _bounded(self, probe_ids: list[str]) -> dict[str, float] | None:
        """Every network's cost, those not measured at the slowest one measured; None before any is."""
        if not self.latency_ms:
            return None
        slowest = max(self.latency_ms.values())
        return {pid: self.latency_ms.get(pid, slowest) for pid in probe_ids}

    def _expect_waiting(self) -> None:
        """The time of every session of the batch not started yet, from what is known now."""
        for name, probe_ids in list(self._waiting.items()):  # a shelf's threads start sessions meanwhile
            bounded = self._bounded(probe_ids)
            if bounded is not None:
                round_s = round_seconds(bounded.values(), self.settings.timing.burst)
                self.timetable.expect(name, session_seconds(self.budget.fit(self.settings.timing, round_s), round_s))

    def _timed(self, name: str, timing: TimingPlan, round_s: float) -> None:
        """A session's counts are chosen: its time goes into the timetable, and a cut is said."""
        self.timetable.expect(name, session_seconds(timing, round_s))
        if timing.runs < self.settings.timing.runs:
            self.log(f"session {name}: {self.budget.explain(self.settings.timing, timing, round_s)}")

    def _learn(self, result: dict[str, Any]) -> None:
        self.latency_ms.update(RunResult.of(result).medians_ms())

    def measure_all(
        self, sessions: list[tuple[str, list[str]]], probes: dict[str, ProbeSpec], anchor: str, artifacts: dict[str, CachedExport]
    ) -> list[dict[str, Any]]:
        """Every session's result in the order given: one after another on the device, or at once
        across the shelf's phones; with a bar of the time they have left."""
        self.timetable = Timetable([name for name, _ in sessions], self.phone_count)
        self._waiting = {name: ids if anchor in ids else [*ids, anchor] for name, ids in sessions}
        self._expect_waiting()
        with shown(self.timetable, f"{len(sessions)} session{'s' if len(sessions) != 1 else ''}", self.show_progress):
            if self.spread is None:
                return [self.measure(name, ids, probes, anchor, artifacts) for name, ids in sessions]
            jobs = [SessionJob(name, ids) for name, ids in sessions]
            return self.spread.run(jobs, lambda job, phone: self.measure(job.name, job.probe_ids, probes, anchor, artifacts, phone))


def session_name(result: dict[str, Any]) -> str:
    """The session a result belongs to: the last part of its run id (`<run>/<session>`)."""
    return session_of(result)


def budgeted(results: list[dict[str, Any]], settings: MeasureSettings) -> dict[str, Any]:
    """The LUT's record of the sessions whose networks were too slow for the settings' rounds within
    the time budget: `budgeted_sessions`, each one's rounds (fewer, so its entries' intervals are
    wider); nothing when every session measured them all."""
    cut = {run.session: run.rounds for run in read_all(results) if run.rounds < settings.timing.runs}
    return {"budgeted_sessions": cut} if cut else {}


def results_samples(results: list[dict[str, Any]], steady: bool = True) -> list[dict[str, list[float]]]:
    """Each session's samples per network, of its steady rounds (`check_result`), or of all of them (`steady` off)."""
    return [run.samples(steady) for run in read_all(results)]


def _kept(name: str, session_dir: Path, probe_ids: list[str]) -> dict[str, Any] | None:
    """The result of a session measured before an interruption, if it is whole and answers its request."""
    try:
        request = read_json(session_dir / "request.json", "request")
        result = read_json(session_dir / "result.json", "result")
        if result["status"] == "ok" and [m["id"] for m in request["models"]] == probe_ids:
            return check_result(result, request, f"session {name}")
    except ContractError:
        pass
    return None


def _phone_record(path: Path) -> dict[str, str | None] | None:
    """The phone a kept session ran on, if its record is whole (it is written after the result, so a
    run cut off between the two has none, and the LUT names no phone for that session)."""
    if not path.exists():
        return None
    doc = load_json(path, "the session's phone record", f"delete {path.parent} and resume to measure that session again")
    if not isinstance(doc, dict) or not isinstance(doc.get("serial"), str):
        return None
    return {key: doc[key] if isinstance(doc.get(key), str) else None for key in PHONE_FACTS}
