"""The iOS runner: runs run directories in the Core ML benchmark app on a USB-connected iPhone.

The app stays in front for a whole job, in its resident mode (ios_bench/README.md). A job is what
`Runner.unattended` holds: a profile from before its exports to its LUT, a validation, a
measurement, or one session alone. `keep_ready` checks the phone, installs the app when it is
missing and when this runner is given one, refuses a build older than the resident mode, removes
what a job that never cleaned up (killed, unplugged) left in the app's Documents, and launches the
app once with `--resident`: the app then keeps the idle timer off, so that the phone neither locks
nor needs a touch during exports, pushes and cool-downs, and a phone with a passcode needs to be
unlocked only when the job starts. However the job ends (finished, failed, Ctrl-C), it writes
`inbox/stop`: the app finishes the run in progress, puts Auto-Lock back as it was and says so in its
heartbeat; an app still busy after `stop_timeout_s` is ended, which gives Auto-Lock back too.

Every session goes through the resident app, never through a launch of its own: a launch per
session is what a locked phone with a passcode refuses, and every session runs inside a job's hold
(`run_session` holds one around a session alone; `run` called outside any holds the app for itself).
A session waits out the cool-down since the phone's last session (`cooldown_s`), then until the
app's heartbeat shows a thermal state below serious (read every `heat_poll_s`, for at most
`heat_wait_s`), showing each wait; it pushes the run directory into Documents through house arrest,
enqueues it in the inbox and polls for the result (or the app's rejection), pulling it unless it is
larger than any result can be. The heartbeat must keep beating: an app whose beat has not changed
for `stale_s` (killed, crashed, suspended) or that left its resident mode is launched again, once,
and serves the run from the start; one still busy after `timeout_s` is ended. A session in which the
app found the phone serious or critical is measured once more after a cool-down, because a throttled
phone reports latencies that belong to its temperature rather than to the model. Each result carries
its heat record in `thermal` (the app's states before and after, whether it throttled, and how long
the session waited for a cool phone), which a profile puts into its LUT.

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
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pymobiledevice3.dtx.exceptions import DTXNsError
from pymobiledevice3.exceptions import AppInstallError, PyMobileDevice3Exception

from infra.files import write_json_atomic
from orchestrator.measure.contract import read_json
from orchestrator.measure.runners.base import Diagnosis, RunnerError, phone_lock
from orchestrator.measure.runners.ios.connection import IosConnection, mux_devices
from orchestrator.measure.runners.ios.diagnosis import IosDiagnosis
from orchestrator.measure.runners.ios.messages import (
    CRASH_REPORTS,
    DEVICE_ERRORS,
    LOCKED,
    REBUILD,
    SIGN_HINT,
    app_not_installed,
    failure,
    locked_after,
    reason,
)
from orchestrator.measure.runners.ios.phone_state import (
    app_installed,
    check_app_build,
    check_developer_mode,
    check_product,
    check_version,
    hot_state,
)
from orchestrator.measure.runners.ios.resident import (
    HEARTBEAT,
    INBOX,
    RUN_NAME,
    RUNS,
    Heartbeat,
    Liveness,
    clear_leftovers,
    enqueue,
    forget,
    read_answer,
    read_heartbeat,
    remove,
    request_stop,
)
from orchestrator.measure.runners.ios.rundir import accept_result, files_to_push
from orchestrator.measure.runners.ios.runlog import RunLog
from orchestrator.measure.runners.ios.settings import IosSettings
from orchestrator.measure.runners.phone import PhoneRunner

if TYPE_CHECKING:

    from orchestrator.measure.runners.ios.services import Pmd3Services

T = TypeVar("T")


def stderr_log(message: str) -> None:
    print(f"ios: {message}", file=sys.stderr, flush=True)


@dataclass
class _Hold:
    """The app kept in front for a job: on which phone, as which process, whether it still beats, and
    the runs enqueued and not yet answered (the job's end removes what is left of them once the app
    has stopped, since it may still be writing into them)."""

    serial: str
    pid: int
    liveness: Liveness
    pending: set[str] = field(default_factory=set)


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
        self._hold: _Hold | None = None
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
            self._hold = self._call(self._start(serial, log), job_dir / "runner.log")
            try:
                yield
            finally:
                hold, self._hold = self._hold, None
                asyncio.run(self._stop(hold, log))

    def run(self, run_dir: Path) -> dict[str, Any]:
        run = run_dir.name
        if not RUN_NAME.match(run):
            raise RunnerError(f"the run directory name {run!r} cannot name a run on the iPhone; use letters, digits, '.', '_' and '-', starting with a letter or digit")
        (run_dir / "result.json").unlink(missing_ok=True)
        log_path = run_dir / "runner.log"
        with open(log_path, "a") as file:
            log = RunLog(file, self.log)
            self._cool_down(log)
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

    def _cool_down(self, log: RunLog) -> None:
        """Sessions on one phone are spaced by `cooldown_s`, so that the heat of one does not throttle
        the next; the resident app keeps the phone awake meanwhile."""
        if self._last_session_end is None:
            return
        left = self.settings.cooldown_s - (time.monotonic() - self._last_session_end)
        if left > 0:
            log.say(f"cooling the iPhone down for {left:.0f} s since its last session")
            time.sleep(left)

    async def _pick(self) -> str:
        return self.connection.pick(await mux_devices(self.services))

    # --- the job's hold -------------------------------------------------------------------------

    async def _start(self, serial: str, log: RunLog) -> _Hold:
        """Check the phone, get the app ready, clear what an earlier job left and launch the app in its
        resident mode; returns once it beats."""
        ios, connection = self.services, self.connection
        async with AsyncExitStack() as stack:
            log.step(f"connecting to {serial}")
            lockdown = await connection.lockdown(stack, serial, pair=True)
            values = ios.device_values(lockdown)
            log.step(f"{values.get('DeviceName')} ({values.get('ProductType')}), iOS {values.get('ProductVersion')}, udid {values.get('UniqueDeviceID')}")
            check_product(values, self.models)
            version = check_version(values)
            await check_developer_mode(ios, lockdown)
            provider, _ = await connection.developer_tunnel(stack, values["UniqueDeviceID"], version, log)
            await connection.mount_developer_image(provider, log)
            await self._install_if_missing(lockdown, log)
            build = await check_app_build(ios, lockdown, self.settings.bundle_id)
            afc = await connection.open_documents(stack, lockdown)
            await self._clear_earlier_job(afc, log)
            control = await stack.enter_async_context(ios.process_control(provider))
            pid = await self._launch(control, log)
            hold = _Hold(serial, pid, Liveness(self.settings.stale_s))
            try:
                await self._started(afc, hold)
            except BaseException:
                await self._quietly(log, "ask the app to stop", request_stop, ios, afc)
                raise
            log.say(f"the benchmark app (build {build}) runs in front in its resident mode as pid {pid}: it keeps the iPhone awake until this job ends")
        return hold

    async def _clear_earlier_job(self, afc: Any, log: RunLog) -> None:
        """A job that never reached its end (killed, unplugged) leaves the app resident, keeping the
        phone awake, and its entries in the inbox, which a new loop would serve: the launch replaces
        that app, and its entries and their run folders go first."""
        ios = self.services
        try:
            earlier = await read_heartbeat(ios, afc)
        except RunnerError:  # whatever it is, it is about to be removed
            earlier = None
        if earlier is not None and earlier.state != "stopped":
            log.say(f"an earlier job did not end the benchmark app's resident mode (its last heartbeat: {earlier}): replacing it")
        if runs := await clear_leftovers(ios, afc):
            log.say(f"removed the runs an earlier job left in the app's inbox: {', '.join(runs)}")

    async def _started(self, afc: Any, hold: _Hold) -> Heartbeat:
        """The new loop's first heartbeat (the old one was removed before the launch)."""
        deadline = time.monotonic() + self.settings.start_timeout_s
        while (beat := await read_heartbeat(self.services, afc)) is None:
            if time.monotonic() > deadline:
                raise RunnerError(
                    f"the benchmark app wrote no heartbeat ({HEARTBEAT}) within {self.settings.start_timeout_s:g} s of its launch in resident mode: "
                    f"if it crashed, see {CRASH_REPORTS}; else it predates the resident mode, so {REBUILD}"
                )
            await asyncio.sleep(self.settings.poll_s)
        hold.liveness = Liveness(self.settings.stale_s)
        hold.liveness.alive(beat)
        return beat

    async def _stop(self, hold: _Hold, log: RunLog) -> None:
        """End the resident mode: `inbox/stop`, then wait for the app's last heartbeat ("stopped", Auto-Lock
        back as it was); an app still busy after `stop_timeout_s` is ended, since Auto-Lock comes back
        only when the app stops or ends. This runs however the job ended, so nothing here may replace
        the job's own outcome: a failure is shown with what to do about it."""
        ios = self.services
        try:
            async with AsyncExitStack() as stack:
                lockdown = await self.connection.lockdown(stack, hold.serial, pair=False)
                afc = await self.connection.open_documents(stack, lockdown)
                await request_stop(ios, afc)
                for run in hold.pending:
                    await remove(ios, afc, f"{INBOX}/{run}.json")
                beat = await self._stopping(afc, hold)
                if beat is not None and beat.state != "stopped":
                    log.say(f"the benchmark app is still busy ({beat}) {self.settings.stop_timeout_s:g} s after it was asked to stop: ending it")
                    await self._end_app(stack, lockdown, hold, log)
                for run in hold.pending:
                    await forget(ios, afc, run)
        except (RunnerError, *DEVICE_ERRORS) as exc:
            log.say(
                f"could not end the benchmark app's resident mode ({exc}); it may keep the iPhone awake: "
                "close it in the app switcher (the next run replaces it too)"
            )
            return
        if beat is not None and beat.state == "stopped" and beat.idle_timer_disabled:
            log.say("the benchmark app left its resident mode, but Auto-Lock was off before it started and stays off")
        else:
            log.say("the benchmark app left its resident mode; the iPhone's Auto-Lock is back")

    async def _stopping(self, afc: Any, hold: _Hold) -> Heartbeat | None:
        """The app's heartbeat once it says "stopped", the last one seen when `stop_timeout_s` passes
        first, or None when the app is gone (it beats no more, so it holds nothing either)."""
        deadline = time.monotonic() + self.settings.stop_timeout_s
        while True:
            beat = await read_heartbeat(self.services, afc)
            if beat is None or not hold.liveness.alive(beat):
                return None
            if beat.state == "stopped" or time.monotonic() > deadline:
                return beat
            await asyncio.sleep(self.settings.poll_s)

    # --- one session ----------------------------------------------------------------------------

    async def _measure(self, run_dir: Path, log: RunLog) -> dict[str, Any]:
        """One session, and once more after a cool-down when the phone got hot during it. The hot
        result is kept as result.hot.json, flagged, for whoever wonders why the session ran twice."""
        result = await self._session(run_dir, log)
        hot = hot_state(result)
        if hot is not None:
            write_json_atomic(run_dir / "result.hot.json", result)
            log.say(f"the phone reached thermal state {hot}: measuring again after {self.settings.hot_cooldown_s:g} s of cooling")
            await asyncio.sleep(self.settings.hot_cooldown_s)
            result = await self._session(run_dir, log)
            hot = hot_state(result)
            if hot is not None:
                raise RunnerError(
                    f"the iPhone is too hot to measure (thermal state {hot} in two sessions in a row, see {run_dir / 'result.json'}): "
                    "let it cool for a few minutes, out of its case, off the charger and out of the sun, then run again"
                )
        write_json_atomic(run_dir / "result.json", result)  # with its heat record, for a resumed profile's LUT
        return result

    async def _session(self, run_dir: Path, log: RunLog) -> dict[str, Any]:
        request = read_json(run_dir / "request.json", "request")
        files = files_to_push(run_dir, request)
        run, hold, ios = run_dir.name, self._hold, self.services
        assert hold is not None, "a session runs inside a hold"
        async with AsyncExitStack() as stack:
            log.step(f"connecting to {hold.serial}")
            lockdown = await self.connection.lockdown(stack, hold.serial, pair=False)
            afc = await self.connection.open_documents(stack, lockdown)
            serving = _Serving(self, stack, lockdown, afc, hold, run, log)
            waited = await serving.until_cool()
            stack.push_async_callback(self._quietly, log, f"remove runs/{run}", forget, ios, afc, run)
            await self._push(afc, files, f"{RUNS}/{run}", log)
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

    async def _install_if_missing(self, lockdown: Any, log: RunLog) -> None:
        bundle_id, app_path = self.settings.bundle_id, self.settings.app_path
        if await app_installed(self.services, lockdown, bundle_id):
            return
        if app_path is None:
            raise RunnerError(app_not_installed(bundle_id))
        if not app_path.exists():
            raise RunnerError(f"the app to install, {app_path}, does not exist: build it as ios_bench/README.md describes, or fix the path")
        log.step(f"installing {app_path}")
        try:
            await self.services.install_from_local(lockdown, app_path)
        except AppInstallError as exc:
            raise RunnerError(f"iOS refused to install {app_path} ({reason(exc)}): {SIGN_HINT}, then run again") from exc

    async def _push(self, afc: Any, files: list[tuple[Path, str]], remote: str, log: RunLog) -> None:
        ios = self.services
        await remove(ios, afc, remote)
        for folder in sorted({posixpath.dirname(f"{remote}/{rel}") for _, rel in files}):
            await ios.afc_makedirs(afc, folder)
        log.step(f"pushing {len(files)} files to {remote}")
        for local, rel in files:
            await ios.afc_push(afc, local, f"{remote}/{rel}")

    async def _launch(self, control: Any, log: RunLog, stopped: str | None = None) -> int:
        """Launch the app in its resident mode; `stopped` says why an app that ran in this job is
        launched again, which is what a refusal on a locked phone then names."""
        log.step(f"launching {self.settings.bundle_id} --resident")
        try:
            pid = await self.services.launch(control, self.settings.bundle_id, ["--resident"])
        except DTXNsError as exc:
            why = ((exc.error.user_info or {}).get("NSLocalizedDescription") or reason(exc)).rstrip(".")
            if "unlock" in why.lower():
                raise RunnerError(LOCKED if stopped is None else locked_after(stopped)) from exc
            raise RunnerError(
                f"iOS refused to launch {self.settings.bundle_id} ({why}): {SIGN_HINT}, and trust your developer certificate "
                "under Settings > General > VPN & Device Management"
            ) from exc
        except AssertionError as exc:  # ProcessControl.launch asserts on the pid 0 that a refused launch returns
            raise RunnerError(f"iOS refused to launch {self.settings.bundle_id}: {SIGN_HINT}") from exc
        log.app_started(pid)
        log.step(f"the app runs as pid {pid}")
        return pid

    async def _developer_services(self, stack: AsyncExitStack, lockdown: Any, log: RunLog) -> Any:
        """Process control, for launching or ending the app: through the developer tunnel, which a
        session opens only when it needs it."""
        values = self.services.device_values(lockdown)
        provider, _ = await self.connection.developer_tunnel(stack, values["UniqueDeviceID"], check_version(values), log)
        return await stack.enter_async_context(self.services.process_control(provider))

    async def _end_app(self, stack: AsyncExitStack, lockdown: Any, hold: _Hold, log: RunLog) -> None:
        control = await self._developer_services(stack, lockdown, log)
        await self._quietly(log, f"end the app (pid {hold.pid})", self.services.kill, control, hold.pid)

    async def _stream_syslog(self, lockdown: Any, pid: int, log: RunLog) -> None:
        """Copy the app's log lines into runner.log. Any failure of the stream ends only the stream:
        pymobiledevice3's parser raises ValueError, KeyError and construct errors on entries it cannot
        decode, and a diagnostic must never turn a finished measurement into a crash."""
        try:
            async for entry in self.services.syslog(lockdown, pid):
                log.entry(entry)
        except Exception as exc:  # every stream failure is only logged, see the docstring
            log.step(f"the device log stream ended: {reason(exc)}")

    async def _quietly(self, log: RunLog, what: str, action: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Clean-up must not replace the run's own outcome, so its failures go to runner.log."""
        try:
            await action(*args)
        except (PyMobileDevice3Exception, DTXNsError, OSError) as exc:
            log.step(f"could not {what}: {reason(exc)}")


class _Serving:
    """One session's dealings with the resident app over one connection: the wait for a cool phone,
    the wait for the answer, and launching the app again (at most `relaunches` times) when it stops
    beating."""

    def __init__(self, runner: IosRunner, stack: AsyncExitStack, lockdown: Any, afc: Any, hold: _Hold, run: str, log: RunLog) -> None:
        self.runner, self.stack, self.lockdown, self.afc, self.hold, self.run, self.log = runner, stack, lockdown, afc, hold, run, log
        self.settings, self.services = runner.settings, runner.services
        self.relaunches = 0
        self._syslog: asyncio.Task | None = None

    async def until_cool(self) -> float:
        """Seconds waited until the app beats with a thermal state below serious; a phone still hot
        after `heat_wait_s` fails the session."""
        started = time.monotonic()
        deadline = started + self.settings.heat_wait_s
        beat = await self.beating()
        hot = beat.hot
        while beat.hot:
            waited = time.monotonic() - started
            if time.monotonic() >= deadline:
                raise RunnerError(
                    f"the iPhone stays too hot to measure (thermal state {beat.thermal_state}, where iOS throttles its chip) after "
                    f"{self.settings.heat_wait_s:g} s of waiting: let it cool off the charger, out of its case and out of the sun, or allow "
                    "a longer wait with BENCH_IOS_HEAT_WAIT_S, then run again"
                )
            self.log.say(
                f"the iPhone is too hot to measure (thermal state {beat.thermal_state}); waiting for fair or below "
                f"({waited:.0f} s of at most {self.settings.heat_wait_s:g} s)"
            )
            await asyncio.sleep(min(self.settings.heat_poll_s, max(0.0, deadline - time.monotonic())))
            beat = await self.beating()
        waited = time.monotonic() - started
        if hot:
            self.log.say(f"the iPhone cooled to thermal state {beat.thermal_state or 'unknown'} after {waited:.0f} s")
        return waited

    async def beating(self) -> Heartbeat:
        """The app's heartbeat while it beats; an app that stopped is launched again first."""
        while True:
            beat = await read_heartbeat(self.services, self.afc)
            gone = self._gone(beat)
            if gone is None:
                assert beat is not None
                return beat
            await self.relaunch(gone)

    async def answer(self, log_path: Path) -> bytes:
        """The app's result for the run; a run that outlasts `timeout_s` ends the app."""
        deadline = time.monotonic() + self.settings.timeout_s
        while (data := await read_answer(self.services, self.afc, self.run)) is None:
            gone = self._gone(await read_heartbeat(self.services, self.afc))
            if gone is not None:
                if (data := await read_answer(self.services, self.afc, self.run)) is not None:  # written just before it went
                    return data
                await self.relaunch(gone, log_path)
            elif time.monotonic() > deadline:
                await self.runner._end_app(self.stack, self.lockdown, self.hold, self.log)
                raise RunnerError(
                    f"the iOS app wrote no result within {self.settings.timeout_s:g} s: see {log_path} for its log, "
                    "keep the phone on its cable and charger, or allow more time"
                )
            await asyncio.sleep(self.settings.poll_s)
        return data

    def _gone(self, beat: Heartbeat | None) -> str | None:
        """Why the app is not serving, or None while it beats."""
        if beat is None:
            return "its heartbeat is gone"
        if beat.state == "stopped":
            return "it left its resident mode"
        if not self.hold.liveness.alive(beat):
            return f"its heartbeat stopped at beat {beat.beat} {self.settings.stale_s:g} s ago"
        return None

    async def relaunch(self, why: str, log_path: Path | None = None) -> None:
        """Launch the app again in its resident mode; the run's entry is still in the inbox (the app
        removes it only once it has answered it), so the new loop serves it from the start."""
        if self.relaunches >= self.settings.relaunches:
            if log_path is None:
                raise RunnerError(f"the benchmark app keeps stopping between sessions ({why}): see {CRASH_REPORTS}, keep the phone on its cable, then run again")
            raise RunnerError(
                f"the iOS app stopped while serving runs/{self.run} ({why}), after {self.relaunches} relaunch(es) too, without writing a result, "
                f"so it probably crashed on this run: see {CRASH_REPORTS}, and {log_path}, then run again"
            )
        self.relaunches += 1
        self.log.say(f"the benchmark app stopped ({why}): launching it again")
        control = await self.runner._developer_services(self.stack, self.lockdown, self.log)
        await remove(self.services, self.afc, HEARTBEAT)
        self.hold.pid = await self.runner._launch(control, self.log, stopped=why)
        await self.runner._started(self.afc, self.hold)
        if self._syslog is not None:
            await self.stream_log()

    async def stream_log(self) -> None:
        """The device log of the app's process into runner.log, for the process serving the run now;
        started before the run is enqueued (it runs until the first await), so that it sees its first lines."""
        if self._syslog is not None:
            self._syslog.cancel()
        self.log.app_started(self.hold.pid)
        self._syslog = asyncio.create_task(self.runner._stream_syslog(self.lockdown, self.hold.pid, self.log))
        self.stack.push_async_callback(_stop, self._syslog)
        await asyncio.sleep(0)


async def _stop(task: asyncio.Task) -> None:
    """End the syslog stream; `wait` rather than `await task`, so a cancellation of the run itself
    (Ctrl-C) still propagates instead of being taken for the stream's own."""
    task.cancel()
    await asyncio.wait({task})
