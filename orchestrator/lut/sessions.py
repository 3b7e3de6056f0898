"""A LUT-building run's measurement sessions: each an interleaved session of a few networks with the
anchor network among them, in a folder of its own (`<run>/sessions/<name>/`), kept once measured so
that `--resume` never measures it again.

Given a shelf of phones, sessions run on all of them at once (`orchestrator.lut.spread`); each
session then records the phone it ran on in its folder (`phone.json`), so the LUT names, for every
session, the phone that measured it, resumed runs included. Without one, sessions run one after
another on the device's single runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from infra.files import write_json_atomic
from infra.strict_json import load_json
from orchestrator.export.cache import CachedExport
from orchestrator.lut.settings import MeasureSettings
from orchestrator.lut.spread import SessionJob, Spread
from orchestrator.measure.contract import ContractError, check_result, read_json
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.session import run_session
from orchestrator.measure.shelf import ShelfPhone
from orchestrator.plan.spec import ProbeSpec

PHONE_FACTS = ("serial", "model", "os", "build")


class Sessions:
    """The sessions of one run directory; `finished` names those done (measured or kept) and
    `phones` the facts of the shelf phone that measured each (none without a shelf)."""

    def __init__(
        self, device: Device, run_dir: Path, settings: MeasureSettings, log: Callable[[str], None], phones: list[ShelfPhone] | None = None
    ) -> None:
        self.device, self.run_dir, self.settings, self.log = device, run_dir, settings, log
        self.runner = runner_for(device)
        self.spread = Spread(phones, log) if phones else None
        self.finished: list[str] = []
        self.phones: dict[str, dict[str, Any]] = {}  # session -> the facts of the phone that measured it

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
            self.finished.append(name)
            return kept
        where = f"phone {phone.serial}" if phone else self.device.name
        self.log(f"session {name}: measuring {len(probe_ids)} networks on {where}")
        models = {pid: (artifacts[pid].path, probes[pid].input_shape) for pid in probe_ids}
        result = run_session(
            self.device, session_dir, models, self.settings.timing, self.settings.seed, f"{self.run_dir.name}/{name}",
            phone.runner if phone else self.runner,
        )
        if phone is not None:
            write_json_atomic(session_dir / "phone.json", phone.facts())
            self.phones[name] = phone.facts()
        self.finished.append(name)
        return result

    def measure_all(
        self, sessions: list[tuple[str, list[str]]], probes: dict[str, ProbeSpec], anchor: str, artifacts: dict[str, CachedExport]
    ) -> list[dict[str, Any]]:
        """Every session's result in the order given: one after another on the device, or at once
        across the shelf's phones."""
        if self.spread is None:
            return [self.measure(name, ids, probes, anchor, artifacts) for name, ids in sessions]
        jobs = [SessionJob(name, ids) for name, ids in sessions]
        return self.spread.run(jobs, lambda job, phone: self.measure(job.name, job.probe_ids, probes, anchor, artifacts, phone))


def session_name(result: dict[str, Any]) -> str:
    """The session a result belongs to: the last part of its run id (`<run>/<session>`)."""
    return result["run_id"].rsplit("/", 1)[-1]


def results_samples(results: list[dict[str, Any]]) -> list[dict[str, list[float]]]:
    """Each session's samples per network, of its steady rounds (`check_result`)."""
    return [{m["id"]: [m["samples_ms"][i] for i in r["steady_rounds"]] for m in r["models"]} for r in results]


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
