"""The template every phone runner follows, so that the Android and the iOS runner have one shape.

A phone platform is a package under `runners/` with one module per role, each importing only the
ones above it in this list:

    settings.py     how to reach the phone and how long to wait for it, from the device entry and
                    the environment (`AndroidSettings`, `IosSettings`)
    phone_state.py  what the phone is and what state it is in: its model (as a `FoundPhone`), screen
                    and lock, heat (and the policy that says when it is too hot), the app's version
    connection.py   how the phone is found and reached, and reached again when the link drops; also
                    the listing of the phones connected now (`list_phones`), which changes no phone
    diagnosis.py    `bench doctor`: a `Diagnosis`, an ordered list of named `Step`s, each calling the
                    functions a session calls at that step and saying whether its failure ends the walk
    runner.py       the session: `run(run_dir)` from staged models to a checked result
    platform.py     its `Platform` descriptor, registered in `orchestrator/measure/platforms.py`

plus, where a platform needs one, a module of its own between connection and runner (Android's
`awake.py`: the phone kept awake for a whole job, `keep_ready`), and the platform's transport
underneath (adb-shell and a running adb server behind `android/adb.py`'s `Link`, pymobiledevice3
behind `ios/services.py`). The runner holds a connection and the phone's state, built from its settings;
no module calls another's private names. The Android side is synchronous over adb-shell and the iOS
side asyncio over pymobiledevice3; a diagnosis's steps are plain calls either way (the iOS one runs
its steps on one event loop, so that what a step opened stays open for the next).
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from infra.files import write_json_atomic
from orchestrator.measure.runners.base import Check, Diagnosis, Runner

PUSHED_REQUEST = ".request.pushed.json"


def rest_owed(last_session_end: float | None, cooldown_s: float) -> float:
    """Seconds of the cool-down since the phone's last session (its `time.monotonic()` end; None:
    none yet) that have not passed yet."""
    return 0.0 if last_session_end is None else max(0.0, cooldown_s - (time.monotonic() - last_session_end))


def request_with_rest(run_dir: Path, request: dict[str, Any], rest_s: float) -> Path:
    """The request file to push: the run's own, or, where the phone owes a rest longer than the
    request's pause (`cooldown_s`, which the app spends once its models are loaded, before it
    measures), a copy asking for that rest (run_dir/.request.pushed.json). So the cool-down between
    sessions is spent on the phone, right before it measures, after the push and the loading warmed
    it, and in the phone's own time; the run keeps the request it asked for."""
    pushed = run_dir / PUSHED_REQUEST
    if rest_s <= float(request.get("cooldown_s", 0.0)):
        pushed.unlink(missing_ok=True)
        return run_dir / "request.json"
    write_json_atomic(pushed, {**request, "cooldown_s": round(rest_s, 3)})
    return pushed


class PhoneRunner(Runner):
    """Runs sessions on one phone of a device entry: `device_name` is the entry, `models` the phone
    models it stands for (its `match` values; empty: any phone of the platform), and a phone of
    another model is refused, so that a LUT never mixes phones."""

    def __init__(self, device_name: str, models: Sequence[str]) -> None:
        self.device_name = device_name
        self.models = tuple(models)

    @abstractmethod
    def diagnosis(self) -> AbstractContextManager[Diagnosis]:
        """The steps of a session as `bench doctor` walks them, with what they need held open for the
        walk (a connection, an event loop) and closed after it."""

    def diagnose(self) -> list[Check]:
        with self.diagnosis() as diagnosis:
            return diagnosis.walk()
