"""What every LUT-building run shares: a run directory whose `profile.json` records what shapes the
LUT, sessions kept once measured, and resuming after Ctrl-C, a crash or an unplugged phone.

`Profiler` (removal and isolated profiles) and `Transferer` (a LUT fitted from another device's)
say what they measure and how they turn sessions into a LUT; this class owns the rest.

Given a shelf of phones, sessions run on all of them at once (`orchestrator.lut.spread`); each
session then records the phone it ran on in its folder (`phone.json`), so the LUT names, for every
session, the phone that measured it, resumed runs included. Without one, sessions run one after
another on the device's single runner, as they always did.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from infra.errors import UserError
from infra.files import write_json_atomic
from infra.locks import run_dir_lock
from infra.strict_json import load_json
from orchestrator.export.backends import get_backend
from orchestrator.export.cache import CachedExport, export_probes
from orchestrator.lut.spread import SessionJob, Spread
from orchestrator.measure.contract import ContractError, check_result, read_json
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.session import run_session
from orchestrator.measure.shelf import ShelfPhone
from orchestrator.plan.spec import ProbeSpec
from search.nas.lut import read_lut
from search.space import SearchSpace

if TYPE_CHECKING:
    from orchestrator.lut.profile import MeasureSettings


class ResumableRun(ABC):
    def __init__(
        self,
        device: Device,
        space: SearchSpace,
        settings: MeasureSettings,
        run_dir: Path,
        workers: int,
        luts_root: Path | None,
        log: Callable[[str], None],
        show_progress: bool,
        phones: list[ShelfPhone] | None = None,
    ) -> None:
        self.device, self.space, self.settings, self.run_dir = device, space, settings, run_dir
        self.workers, self.luts_root, self.log, self.show_progress = workers, luts_root, log, show_progress
        self.runner = runner_for(device)
        self.spread = Spread(phones, log) if phones else None
        self.finished: list[str] = []
        self.session_phones: dict[str, dict[str, Any]] = {}  # session -> the facts of the phone that measured it

    @abstractmethod
    def _what(self) -> dict[str, Any]:
        """What this run measures beyond the device, the space and the settings (resolution, method,
        plan or source LUT), for `_state`."""

    def _state(self) -> dict[str, Any]:
        """Everything that shapes the LUT: a resumed run must agree on all of it, or one LUT would
        mix sessions measured under different settings."""
        return {
            "device": self.device.name,
            "device_runtime": self.device.runtime,
            "space": self.space.name,
            "space_hash": self.space.hash,
            **self._what(),
            "settings": self.settings.to_dict(),
        }

    def _export(self, probes: dict[str, ProbeSpec]) -> dict[str, CachedExport]:
        """The networks in the device's format, through the export cache."""
        return export_probes(probes, self.space.name, self.space.hash, self.device.backend, self.workers, show_progress=self.show_progress)

    @abstractmethod
    def _measure(self) -> tuple[dict[str, Any], Path]:
        """Export, measure the sessions not kept, and write the LUT."""

    def _saved_state(self) -> dict[str, Any] | None:
        state_file = self.run_dir / "profile.json"
        if not state_file.exists():
            return None
        fix = f"start a new profile with another --out than {self.run_dir}"
        saved = load_json(state_file, "the profile state", fix)
        if not isinstance(saved, dict) or saved.get("status") not in ("running", "done"):
            raise UserError(f"the profile state {state_file} is not one this toolkit wrote; {fix}")
        return saved

    def _check_or_start(self, resume: bool) -> dict[str, Any] | None:
        """The saved state of the run being resumed (None when starting one)."""
        saved = self._saved_state()
        if saved is not None and not resume:
            raise UserError(f"{self.run_dir} already holds a profile; pass --resume to continue it or choose another --out")
        if saved is not None:
            differs = sorted(k for k, v in self._state().items() if saved.get(k) != v)
            if differs:
                raise UserError(
                    f"{self.run_dir} holds a profile measured with other {', '.join(differs)}; resume it with its own options "
                    "(the command it printed when it stopped) or start a new run"
                )
            return saved
        write_json_atomic(self.run_dir / "profile.json", {**self._state(), "status": "running"})
        return None

    def _done(self, doc: dict[str, Any], path: Path) -> None:
        write_json_atomic(self.run_dir / "profile.json", {**self._state(), "status": "done", "lut_id": doc["id"], "lut_path": str(path)})

    def _kept(self, name: str, session_dir: Path, probe_ids: list[str]) -> dict[str, Any] | None:
        """The result of a session measured before an interruption, if it is whole and answers its request."""
        try:
            request = read_json(session_dir / "request.json", "request")
            result = read_json(session_dir / "result.json", "result")
            if result["status"] == "ok" and [m["id"] for m in request["models"]] == probe_ids:
                return check_result(result, request, f"session {name}")
        except ContractError:
            pass
        return None

    def _session(
        self, name: str, probe_ids: list[str], probes: dict[str, ProbeSpec], anchor: str, artifacts: dict[str, CachedExport],
        phone: ShelfPhone | None = None,
    ) -> dict[str, Any]:
        """One interleaved session of `probe_ids`, with the anchor network among them, on `phone`
        (a phone of the shelf) or on the device's runner."""
        probe_ids = probe_ids if anchor in probe_ids else [*probe_ids, anchor]
        session_dir = self.run_dir / "sessions" / name
        kept = self._kept(name, session_dir, probe_ids) if (session_dir / "result.json").exists() else None
        if kept is not None:
            self.log(f"session {name}: already measured, kept")
            if (facts := _phone_record(session_dir / "phone.json")) is not None:
                self.session_phones[name] = facts
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
            self.session_phones[name] = phone.facts()
        self.finished.append(name)
        return result

    @property
    def phone_count(self) -> int:
        """Phones measuring now: sessions that can run at once."""
        return len(self.spread.live) if self.spread else 1

    def _sessions(
        self, sessions: list[tuple[str, list[str]]], probes: dict[str, ProbeSpec], anchor: str, artifacts: dict[str, CachedExport]
    ) -> list[dict[str, Any]]:
        """Every session's result in the order given: one after another on the device, or at once
        across the shelf's phones."""
        if self.spread is None:
            return [self._session(name, ids, probes, anchor, artifacts) for name, ids in sessions]
        jobs = [SessionJob(name, ids) for name, ids in sessions]
        return self.spread.run(jobs, lambda job, phone: self._session(job.name, job.probe_ids, probes, anchor, artifacts, phone))

    def _phone_speeds(self, results: list[dict[str, Any]], anchor: str) -> dict[str, float]:
        """Each phone of the shelf that measured sessions: the median over them of the anchor's median."""
        by_phone: dict[str, list[float]] = {}
        for name, ms in session_anchor_ms(results, anchor).items():
            if (facts := self.session_phones.get(name)) is not None:
                by_phone.setdefault(facts["serial"], []).append(ms)
        return {serial: float(np.median(ms)) for serial, ms in by_phone.items()}

    def _reference(self, results: list[dict[str, Any]], anchor: str) -> tuple[float | None, str | None]:
        """With a shelf: the anchor's speed on the reference phone and its serial. Every session is
        scaled to it, so the LUT is the one that phone alone would give whatever its siblings'
        speeds (a median over phones would move the LUT with the mix of phones that happened to
        run). Without a shelf, None: the sessions' own median, as always."""
        if self.spread is None:
            return None, None
        return reference_phone([p.serial for p in self.spread.phones], self._phone_speeds(results, anchor))

    def _phones_provenance(self, results: list[dict[str, Any]], anchor: str) -> dict[str, Any]:
        """With a shelf: every phone that measured a session of this LUT (serial, model, OS and
        build), the sessions it ran with its heat before and after each, its anchor speed against
        the reference phone's, and the phones that dropped out and why; and which phone ran each
        session. A phone far off its siblings' speed is named in the log."""
        if self.spread is None:
            return {}
        names = [session_name(r) for r in results]
        thermal = {name: r.get("thermal") for name, r in zip(names, results)}
        speeds = self._phone_speeds(results, anchor)
        reference_ms, reference = reference_phone([p.serial for p in self.spread.phones], speeds)
        phones: dict[str, dict[str, Any]] = {
            p.serial: {**p.facts(), "sessions": [], "thermal": {}, "dropped": None} for p in self.spread.phones
        }
        for name in names:
            facts = self.session_phones.get(name)
            if facts is None:
                continue  # measured by an earlier run without --phones: its phone is the device's own
            phone = phones.setdefault(facts["serial"], {**facts, "sessions": [], "thermal": {}, "dropped": None})
            phone["sessions"].append(name)
            phone["thermal"][name] = thermal[name]
        for serial, phone in phones.items():
            phone["anchor_ms"] = speeds.get(serial)
            phone["speed_vs_reference"] = speeds[serial] / reference_ms if serial in speeds and reference_ms else None
            if phone["speed_vs_reference"] is not None and abs(phone["speed_vs_reference"] - 1) > SIBLING_SPREAD:
                self.log(
                    f"phone {serial} took x{phone['speed_vs_reference']:.2f} the reference phone {reference}'s time on the anchor network; "
                    "its sessions are scaled to the reference, but a phone this far off its siblings may be throttled, on battery saver or busy: check it"
                )
        for serial, why in self.spread.dropped.items():
            phones[serial]["dropped"] = why
        return {
            "phones": list(phones.values()),
            "reference_phone": reference,
            "session_phone": {name: self.session_phones[name]["serial"] if name in self.session_phones else None for name in names},
        }

    def run(self, resume: bool = False) -> tuple[dict[str, Any], Path]:
        """Measure and write the LUT; on a finished run, return the LUT it wrote."""
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise UserError(f"{self.run_dir} is a file, not a run directory; choose another --out")
        with run_dir_lock(self.run_dir, "the profile run"):
            saved = self._check_or_start(resume)
            if saved is not None and saved["status"] == "done":
                path = Path(saved["lut_path"])
                self.log(f"this profile finished already; its LUT is {saved['lut_id']}")
                return read_lut(path), path
            return self._measure()

    def _provenance(self, first: dict[str, Any]) -> dict[str, Any]:
        """The LUT's device and runtime sections, from the registry entry and the first session's facts."""
        tool = get_backend(self.device.backend).tool
        return {
            "device": {
                "name": self.device.name,
                "platform": self.device.platform,
                "backend": self.device.backend,
                "runtime": self.device.runtime,
                "description": self.device.description,
                "facts": {**first["device"], "runtime": first["runtime"]},
            },
            "runtime_versions": {"torch": version("torch"), tool: version(tool), "runtime": first["runtime"]["version"]},
        }


PHONE_FACTS = ("serial", "model", "os", "build")
SIBLING_SPREAD = 0.1  # phones of one model whose anchor speeds differ by more than this are named


def session_name(result: dict[str, Any]) -> str:
    """The session a result belongs to: the last part of its run id (`<run>/<session>`)."""
    return result["run_id"].rsplit("/", 1)[-1]


def session_anchor_ms(results: list[dict[str, Any]], anchor: str) -> dict[str, float]:
    """Each session's median time of the anchor network, by session name."""
    return {session_name(r): m["summary"]["median_ms"] for r in results for m in r["models"] if m["id"] == anchor}


def _phone_record(path: Path) -> dict[str, str | None] | None:
    """The phone a kept session ran on, if its record is whole (it is written after the result, so a
    run cut off between the two has none, and the LUT names no phone for that session)."""
    if not path.exists():
        return None
    doc = load_json(path, "the session's phone record", f"delete {path.parent} and resume to measure that session again")
    if not isinstance(doc, dict) or not isinstance(doc.get("serial"), str):
        return None
    return {key: doc[key] if isinstance(doc.get(key), str) else None for key in PHONE_FACTS}


def reference_phone(shelf_order: list[str], speeds: dict[str, float]) -> tuple[float | None, str | None]:
    """The reference phone's anchor time and serial among the phones with `speeds`: the first in the
    shelf's order that measured a session (then any other, for sessions kept from phones no longer
    on the shelf)."""
    serial = next((s for s in [*shelf_order, *sorted(speeds)] if s in speeds), None)
    return (speeds[serial], serial) if serial is not None else (None, None)
