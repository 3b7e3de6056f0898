"""The iOS runner: runs run directories in the Core ML benchmark app on a USB-connected iPhone.

The app stays in front for a whole job, in its resident mode (ios_bench/README.md). A job is what
`Runner.unattended` holds: a profile from before its exports to its LUT, a validation, a
measurement, or one session alone. `keep_ready` holds the app for the job, with the phone locked
against other processes meanwhile; getting it ready, launching it and ending its resident mode
however the job ends are `ResidentApp`'s (resident_app.py).

Every session goes through the resident app, never through a launch of its own: a launch per
session is what a locked phone with a passcode refuses, and every session runs inside a job's hold
(`run_session` holds one around a session alone; `run` called outside any holds the app for itself).
A session waits for a cool phone; it pushes the run directory into Documents through house arrest,
enqueues it in the inbox and waits for the result. The cool-down owed since the phone's last session
(`cooldown_s`) is spent by the app, as the pushed request's pause before measuring
(`request_with_rest`), so the phone rests right before it measures. The waits, and the app launched again when it stops beating meanwhile,
are `Serving`'s (serving.py). A session in which the app found the phone serious or critical is
measured once more after a cool-down (`hot_cooldown_s`, spent by the app likewise), because a throttled phone reports latencies that belong to its
temperature rather than to the model. Each result carries its heat record in `thermal` (the app's
states before and after, whether it throttled, and how long the session waited for a cool phone),
which a profile puts into its LUT.

Every pymobiledevice3 call goes through `Pmd3Services`, so the whole sequence, and the sentence each
failure turns into, can be tested against an in-memory phone. One process at a time holds a phone:
the hold takes a lock named after its UDID for the whole job. Settings are `IosSettings`
(settings.py); the way to the phone is `IosConnection` (connection.py), the checks on it are in
phone_state.py, the files of the resident mode in resident.py, and `bench doctor`'s walk is
`IosDiagnosis` (diagnosis.py).
"""

from __future__ import annotations

import asyncio
import posixpath
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from infra.files import write_json_atomic
from orchestrator.measure.contract import read_json
from orchestrator.measure.runners.base import Diagnosis, RunnerError, Throttled, phone_lock
from orchestrator.measure.runners.ios.connection import IosConnection, mux_devices
from orchestrator.measure.runners.ios.diagnosis import IosDiagnosis
from orchestrator.measure.runners.ios.messages import DEVICE_ERRORS, failure, reason
from orchestrator.measure.runners.ios.phone_state import hot_state
from orchestrator.measure.runners.ios.resident import RUN_NAME, RUNS, enqueue, forget, remove
from orchestrator.measure.runners.ios.resident_app import Hold, ResidentApp
from orchestrator.measure.runners.ios.rundir import accept_result, files_to_push
from orchestrator.measure.runners.ios.runlog import RunLog
from orchestrator.measure.runners.ios.serving import Serving
from orchestrator.measure.runners.ios.settings import IosSettings
from orchestrator.measure.runners.phone import PUSHED_REQUEST, PhoneRunner, request_with_rest, rest_owed

if TYPE_CHECKING:

    from orchestrator.measure.runners.ios.services import Pmd3Services

T = TypeVar("T")


def stderr_log(message: str) -> None:
    print(f"ios: {message}", file=sys.stderr, flush=True)


class IosRunner(PhoneRunner):
    """Runs run directories in the benchmark app (`ios_bench/`) on one iPhone. Staged like every
    runner (links under models/); `run` pushes the files they point to. `models` are the hardware
    ids the device entry stands for (devices.json `match.product_type`); `services` replaces
    pymobiledevice3 (the tests' in-memory phone); `log` shows the waits and the app's comings and
    goings as they happen (each also goes into runner.log)."""

    platform = "ios"

    def __init__(
        self,
        settings: IosSettings | None = None,
        device_name: str = "ios",
        models: Sequence[str] = (),
        services: Pmd3Services | None = None,
        log: Callable[[str], None] = stderr_log,
    ) -> None:
        super().__init__(device_name, models)
        self.settings = settings or IosSettings()
        self.connection = IosConnection(self.settings, services)
        self.log = log
        self.app = ResidentApp(self.connection, self.settings, self.models)
        self._hold: Hold | None = None
        self._last_session_end: float | None = None

    @property
    def services(self) -> Pmd3Services:
        return self.connection.services

    @contextmanager
    def diagnosis(self) -> Iterator[Diagnosis]:
        with asyncio.Runner() as loop:
            stack = AsyncExitStack()
            try:
                yield IosDiagnosis(self.connection, self.models, loop, stack).diagnosis()
            finally:
                loop.run(stack.aclose())

    def keep_ready(self, job_dir: Path) -> AbstractContextManager[None]:
        return self._resident(job_dir)

    @contextmanager
    def _resident(self, job_dir: Path) -> Iterator[None]:
        """The app resident in front from now until the job in `job_dir` ends (its steps go to
        job_dir/runner.log), with the phone locked against other processes meanwhile."""
        serial = self._call(self._pick(), job_dir / "runner.log")
        job_dir.mkdir(parents=True, exist_ok=True)
        with phone_lock(serial), open(job_dir / "runner.log", "a") as file:
            log = RunLog(file, self.log)
            self._hold = self._call(self.app.start(serial, log), job_dir / "runner.log")
            try:
                yield
            finally:
                hold, self._hold = self._hold, None
                asyncio.run(self.app.stop(hold, log))

    def run(self, run_dir: Path) -> dict[str, Any]:
        run = run_dir.name
        if not RUN_NAME.match(run):
            raise RunnerError(f"the run directory name {run!r} cannot name a run on the iPhone; use letters, digits, '.', '_' and '-', starting with a letter or digit")
        (run_dir / "result.json").unlink(missing_ok=True)
        log_path = run_dir / "runner.log"
        with open(log_path, "a") as file:
            log = RunLog(file, self.log)
            try:
                if self._hold is not None:
                    return self._call(self._measure(run_dir, log), log_path)
                with self._resident(run_dir):  # a session outside any job holds the app for itself
                    return self._call(self._measure(run_dir, log), log_path)
            finally:
                self._last_session_end = time.monotonic()

    def _call(self, work: Coroutine[Any, Any, T], log_path: Path) -> T:
        """Run on an event loop of its own, with pymobiledevice3's failures as one sentence."""
        try:
            return asyncio.run(work)
        except DEVICE_ERRORS as exc:
            raise failure(exc, f"talking to the iPhone failed ({reason(exc)}): see {log_path}, then run again") from exc

    async def _pick(self) -> str:
        return self.connection.pick(await mux_devices(self.services))

    # --- one session ----------------------------------------------------------------------------

    async def _measure(self, run_dir: Path, log: RunLog) -> dict[str, Any]:
        """One session, and once more after a cool-down when the phone got hot during it. The hot
        result is kept as result.hot.json, flagged, for whoever wonders why the session ran twice."""
        result = await self._session(run_dir, log, rest_owed(self._last_session_end, self.settings.cooldown_s))
        hot = hot_state(result)
        if hot is not None:
            write_json_atomic(run_dir / "result.hot.json", result)
            log.say(f"the phone reached thermal state {hot}: measuring again after {self.settings.hot_cooldown_s:g} s of cooling")
            result = await self._session(run_dir, log, self.settings.hot_cooldown_s)
            hot = hot_state(result)
            if hot is not None:
                raise Throttled(
                    f"the iPhone is too hot to measure (thermal state {hot} in two sessions in a row, see {run_dir / 'result.json'}): "
                    "let it cool for a few minutes, out of its case, off the charger and out of the sun, then run again",
                    result,
                )
        write_json_atomic(run_dir / "result.json", result)  # with its heat record, for a resumed profile's LUT
        return result

    async def _session(self, run_dir: Path, log: RunLog, rest_s: float) -> dict[str, Any]:
        """One session, the app resting `rest_s` before it measures (where that is longer than the request's own pause)."""
        request = read_json(run_dir / "request.json", "request")
        if rest_s > float(request.get("cooldown_s", 0.0)):
            log.say(f"the iPhone rests {rest_s:.0f} s before measuring: the cool-down since its last session")
        files = [(request_with_rest(run_dir, request, rest_s), "request.json"), *files_to_push(run_dir, request)[1:]]
        run, hold, ios = run_dir.name, self._hold, self.services
        assert hold is not None, "a session runs inside a hold"
        async with AsyncExitStack() as stack:
            log.step(f"connecting to {hold.serial}")
            lockdown = await self.connection.lockdown(stack, hold.serial, pair=False)
            afc = await self.connection.open_documents(stack, lockdown)
            serving = Serving(self.app, stack, lockdown, afc, hold, run, log)
            waited = await serving.until_cool()
            stack.push_async_callback(self.app.quietly, log, f"remove runs/{run}", forget, ios, afc, run)
            await self._push(afc, files, f"{RUNS}/{run}", log)
            (run_dir / PUSHED_REQUEST).unlink(missing_ok=True)
            if self.settings.stream_log:
                await serving.stream_log()
            await enqueue(ios, afc, run)
            hold.pending.add(run)
            log.step(f"enqueued runs/{run} for the app (pid {hold.pid})")
            data = await serving.answer(run_dir / "runner.log")
            hold.pending.discard(run)
            log.step(f"pulled {RUNS}/{run}/result.json ({len(data)} bytes)")
        result = accept_result(run_dir, data, request)
        result.setdefault("thermal", {})["waited_s"] = round(waited, 1)
        return result

    async def _push(self, afc: Any, files: list[tuple[Path, str]], remote: str, log: RunLog) -> None:
        ios = self.services
        await remove(ios, afc, remote)
        for folder in sorted({posixpath.dirname(f"{remote}/{rel}") for _, rel in files}):
            await ios.afc_makedirs(afc, folder)
        log.step(f"pushing {len(files)} files to {remote}")
        for local, rel in files:
            await ios.afc_push(afc, local, f"{remote}/{rel}")
