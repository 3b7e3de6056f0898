"""A LUT-building run's directory and its resume: `profile.json` records everything that shapes the
LUT, a resumed run must agree with it, and a finished run answers with the LUT it wrote.

The sessions measured inside the directory (`sessions/<name>/`) are `orchestrator.lut.sessions`'.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.files import check_output, existing, write_json_atomic
from infra.locks import run_dir_lock
from infra.strict_json import load_json
from orchestrator.lut.settings import Guards, MeasureSettings
from orchestrator.measure.devices import Device
from search.nas.lut import Lut, read_lut
from search.space import SearchSpace


def run_state(device: Device, space: SearchSpace, what: dict[str, Any], settings: MeasureSettings) -> dict[str, Any]:
    """Everything that shapes the LUT: the device, the space, what the run measures beyond them
    (resolution, method, plan or source LUT) and the settings. A resumed run must agree on all of
    it, or one LUT would mix sessions measured under different settings."""
    return {
        "device": device.name,
        "device_runtime": device.runtime,
        "space": space.name,
        "space_hash": space.hash,
        **what,
        "settings": settings.to_dict(),
    }


class RunDirectory:
    def __init__(self, path: Path, state: dict[str, Any], log: Callable[[str], None]) -> None:
        self.path, self.state, self.log = path, state, log

    def run(self, resume: bool, measure: Callable[[], tuple[Lut, Path]]) -> tuple[Lut, Path]:
        """`measure()` (export, the sessions not kept, the LUT written) in this directory, held by
        this process; on a finished run, the LUT it wrote."""
        if (info := existing(self.path, "the run directory")) is not None and not stat.S_ISDIR(info.st_mode):
            raise UserError(f"{self.path} is a file, not a run directory; choose another --out")
        check_output(self.path, "the run directory", folder=True)
        with run_dir_lock(self.path, "the profile run"):
            saved = self._check_or_start(resume)
            if saved is not None and saved["status"] == "done":
                path = Path(saved["lut_path"])
                self.log(f"this profile finished already; its LUT is {saved['lut_id']}")
                return read_lut(path), path
            lut, path = measure()
            write_json_atomic(self.path / "profile.json", {**self.state, "status": "done", "lut_id": lut.id, "lut_path": str(path)})
            return lut, path

    def _saved_state(self) -> dict[str, Any] | None:
        state_file = self.path / "profile.json"
        if not state_file.exists():
            return None
        fix = f"start a new profile with another --out than {self.path}"
        saved = load_json(state_file, "the profile state", fix)
        if not isinstance(saved, dict) or saved.get("status") not in ("running", "done"):
            raise UserError(f"the profile state {state_file} is not one this toolkit wrote; {fix}")
        return saved

    def _check_or_start(self, resume: bool) -> dict[str, Any] | None:
        """The saved state of the run being resumed (None when starting one)."""
        saved = self._saved_state()
        if saved is not None and not resume:
            raise UserError(f"{self.path} already holds a profile; pass --resume to continue it or choose another --out")
        if saved is not None:
            if isinstance(settings := saved.get("settings"), dict) and isinstance(settings.get("guards", {}), dict):
                # a run started before a guard existed resumes with it at its default: attribution reads the raw samples again
                saved = {**saved, "settings": {**settings, "guards": {**Guards().to_dict(), **settings.get("guards", {})}}}
            differs = sorted(k for k, v in self.state.items() if saved.get(k) != v)
            if differs:
                raise UserError(
                    f"{self.path} holds a profile measured with other {', '.join(differs)}; resume it with its own options "
                    "(the command it printed when it stopped) or start a new run"
                )
            return saved
        write_json_atomic(self.path / "profile.json", {**self.state, "status": "running"})
        return None


def default_run_dir(device: str, space: str, resolution: int, method: str = "removal") -> Path:
    return Path("runs") / f"profile-{method}-{device}-{space}-{resolution}-{datetime.now():%Y%m%d-%H%M%S}"


def latest_run_dir(device: str, space: str, resolution: int, method: str = "removal") -> Path:
    candidates = sorted(Path("runs").glob(f"profile-{method}-{device}-{space}-{resolution}-*"))
    if not candidates:
        raise UserError(f"there is no {method} profile run of {device}/{space}/{resolution} under runs/ to resume; run without --resume")
    return candidates[-1]
