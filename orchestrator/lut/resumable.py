"""What every LUT-building run shares: a run directory whose `profile.json` records what shapes the
LUT, sessions kept once measured, and resuming after Ctrl-C, a crash or an unplugged phone.

`Profiler` (removal and isolated profiles) and `Transferer` (a LUT fitted from another device's)
say what they measure and how they turn sessions into a LUT; this class owns the rest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.export.backends import get_backend
from orchestrator.export.cache import CachedExport, export_probes
from orchestrator.measure.contract import ContractError, check_result, read_json
from orchestrator.measure.devices import Device
from orchestrator.measure.runners.registry import runner_for
from orchestrator.measure.session import run_session
from orchestrator.plan.spec import ProbeSpec
from search.errors import UserError
from search.files import load_json, write_json_atomic
from search.locks import run_dir_lock
from search.lut import read_lut
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
    ) -> None:
        self.device, self.space, self.settings, self.run_dir = device, space, settings, run_dir
        self.workers, self.luts_root, self.log, self.show_progress = workers, luts_root, log, show_progress
        self.runner = runner_for(device)
        self.finished: list[str] = []

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
        self, name: str, probe_ids: list[str], probes: dict[str, ProbeSpec], anchor: str, artifacts: dict[str, CachedExport]
    ) -> dict[str, Any]:
        """One interleaved session of `probe_ids`, with the anchor network among them."""
        probe_ids = probe_ids if anchor in probe_ids else [*probe_ids, anchor]
        session_dir = self.run_dir / "sessions" / name
        kept = self._kept(name, session_dir, probe_ids) if (session_dir / "result.json").exists() else None
        if kept is not None:
            self.log(f"session {name}: already measured, kept")
            self.finished.append(name)
            return kept
        self.log(f"session {name}: measuring {len(probe_ids)} networks on {self.device.name}")
        models = {pid: (artifacts[pid].path, probes[pid].input_shape) for pid in probe_ids}
        result = run_session(
            self.device, session_dir, models, self.settings.timing, self.settings.seed, f"{self.run_dir.name}/{name}", self.runner
        )
        self.finished.append(name)
        return result

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
