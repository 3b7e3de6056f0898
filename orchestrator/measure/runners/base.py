"""What every runner shares: the error a failed run raises, the interface the sessions call, the
staging of a run directory, and the walk `bench doctor` shows (`Diagnosis`: named `Step`s, each
passed or failed with its fix).

Staging is the same on every platform: each model is linked into the run directory's `models/`
folder from the export cache, and `request.json` names the links. The host runner reads them in
place; phone runners push the files the links resolve to, under the links' names.
"""

from __future__ import annotations

import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.locks import held
from orchestrator.export.cache import cache_root


class RunnerError(UserError):
    """A device run that produced no usable result; finished sessions stay on disk."""


class Throttled(RunnerError):
    """A phone that throttled in a session twice, after cooling down in between: the session heats it
    beyond what a rest undoes, so a profile measures it again shorter (`Guards.thermal_budget`).
    `result`: the second session's result: its rounds, and its medians, what a round costs (at the
    throttled speed: an upper bound)."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result

    @property
    def rounds(self) -> int:
        """The rounds the throttled session measured."""
        rounds = self.result.get("rounds")
        return rounds if isinstance(rounds, int) and rounds > 0 else 0

    @property
    def medians_ms(self) -> dict[str, float]:
        """Each model's median in the throttled session."""
        return {m["id"]: float(m["summary"]["median_ms"]) for m in self.result.get("models", []) if isinstance(m, dict) and "summary" in m}


def _replace_with_link(link: Path, target: Path) -> None:
    """Point `link` at `target`, replacing whatever a reused run directory left there (a link to an
    older model, a file, a folder), so a session never measures a stale model."""
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    else:
        link.unlink(missing_ok=True)
    link.symlink_to(target)


def phone_file(serial: str, suffix: str) -> Path:
    """A file about the phone with this serial (ADB serial or HOST:PORT, iPhone UDID) in the export
    cache's `locks/` folder, which every process of this user shares (unless BENCH_CACHE points
    elsewhere): its lock, and what a platform records there of the phone across processes."""
    return cache_root() / "locks" / f"{re.sub(r'[^A-Za-z0-9._-]', '_', serial)}{suffix}"


def phone_lock(serial: str) -> AbstractContextManager[None]:
    """Held while a session runs on the phone with this serial, so two sessions never clear each
    other's files on one phone."""
    return held(phone_file(serial, ".lock"), f"the phone {serial}")


@dataclass(frozen=True)
class Check:
    """One step between the user and a measurement, as `bench doctor` shows it: `fix` is one sentence
    saying what to do when the step failed (None when it passed)."""

    step: str
    passed: bool
    detail: str = ""
    fix: str | None = None


class Finding(Exception):
    """A step that ran and found the device not ready: what it found (`detail`) and what to do
    (`fix`). `ends_walk` stops the walk whatever the step says, for a failure after which nothing
    more can be tried (the phone is gone)."""

    def __init__(self, detail: str, fix: str, ends_walk: bool = False) -> None:
        super().__init__(fix)
        self.detail, self.fix, self.ends_walk = detail, fix, ends_walk


@dataclass(frozen=True)
class Step:
    """One step of `bench doctor`'s walk. `check` does what a session does at that step and returns
    the detail shown when it passed; it raises `Finding` (or an error the diagnosis explains) when
    it failed. `stops`: a failure ends the walk, because the steps after it need what this one found."""

    name: str
    check: Callable[[], str]
    stops: bool = True


def _unexplained(exc: Exception) -> Finding | None:
    return None


@dataclass(frozen=True)
class Diagnosis:
    """A device's steps in order, and how an error a step raises becomes a failed check (`explain`
    returns None for an error that is a bug: it propagates)."""

    steps: Sequence[Step]
    explain: Callable[[Exception], Finding | None] = _unexplained

    def walk(self) -> list[Check]:
        """Every step's check, up to the first failed one that ends the walk."""
        checks: list[Check] = []
        for step in self.steps:
            try:
                checks.append(Check(step.name, True, step.check()))
                continue
            except Finding as found:
                failure = found
            except Exception as exc:
                explained = self.explain(exc)
                if explained is None:
                    raise
                failure = explained
            checks.append(Check(step.name, False, failure.detail, failure.fix))
            if step.stops or failure.ends_walk:
                break
        return checks


class Runner(ABC):
    """Executes run directories on one device."""

    platform: str
    _held = False  # inside `unattended`

    @contextmanager
    def unattended(self, job_dir: Path) -> Iterator[None]:
        """Held around a whole job on this device (a profile with its exports and cool-downs, a
        validation, one measurement), so that the job needs no touch until it ends: whatever
        `keep_ready` arranges (a phone kept awake, its app kept in front) is undone when the job
        ends, however it ends. A hold inside a hold (each session inside its profile) is the outer
        one."""
        if self._held:
            yield
            return
        self._held = True
        try:
            with self.keep_ready(job_dir):
                yield
        finally:
            self._held = False

    def keep_ready(self, job_dir: Path) -> AbstractContextManager[None]:
        """What `unattended` holds on this device for a job whose files are in `job_dir`; this
        machine needs nothing."""
        return nullcontext()

    @abstractmethod
    def diagnose(self) -> list[Check]:
        """Walk every step a session needs on this device, in order (a `Diagnosis`), stopping where
        a step fails and later ones cannot be tried; never raises for a device's state (that is a
        failed check)."""

    def stage(self, run_dir: Path, artifacts: dict[str, Path]) -> dict[str, str]:
        """Link each model into the run directory; returns model id -> path relative to it."""
        models = run_dir / "models"
        models.mkdir(parents=True, exist_ok=True)
        files = {}
        for mid, artifact in artifacts.items():
            link, target = models / f"{mid}{artifact.suffix}", artifact.resolve()
            if not (link.is_symlink() and link.resolve() == target):
                _replace_with_link(link, target)
            files[mid] = str(link.relative_to(run_dir))
        return files

    @abstractmethod
    def run(self, run_dir: Path) -> dict[str, Any]:
        """Run the staged `request.json`; return its result, checked against the contract."""
