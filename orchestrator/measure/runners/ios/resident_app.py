"""The benchmark app held resident in front for one job (ios_bench/README.md): getting it ready,
launching it, launching it again, and ending its resident mode.

`ResidentApp.start` checks the phone, installs the app when it is missing and when the runner is
given one, refuses a build older than the resident mode, removes what a job that never cleaned up
(killed, unplugged) left in the app's Documents, and launches the app once with `--resident`: the
app then keeps the idle timer off, so that the phone neither locks nor needs a touch during exports,
pushes and cool-downs, and a phone with a passcode needs to be unlocked only when the job starts.
However the job ends (finished, failed, Ctrl-C), `stop` writes `inbox/stop`: the app finishes the
run in progress, puts Auto-Lock back as it was and says so in its heartbeat; an app still busy after
`stop_timeout_s` is ended, which gives Auto-Lock back too. The sessions the app serves in between
are the runner's (runner.py) and `Serving`'s (serving.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymobiledevice3.dtx.exceptions import DTXNsError
from pymobiledevice3.exceptions import AppInstallError, PyMobileDevice3Exception

from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.ios.connection import IosConnection
from orchestrator.measure.runners.ios.messages import (
    CRASH_REPORTS,
    DEVICE_ERRORS,
    LOCKED,
    REBUILD,
    SIGN_HINT,
    app_not_installed,
    locked_after,
    reason,
)
from orchestrator.measure.runners.ios.phone_state import (
    app_installed,
    check_app_build,
    check_developer_mode,
    check_product,
    check_version,
)
from orchestrator.measure.runners.ios.resident import (
    HEARTBEAT,
    INBOX,
    Heartbeat,
    Liveness,
    clear_leftovers,
    forget,
    read_heartbeat,
    remove,
    request_stop,
)
from orchestrator.measure.runners.ios.runlog import RunLog
from orchestrator.measure.runners.ios.settings import IosSettings

if TYPE_CHECKING:

    from orchestrator.measure.runners.ios.services import Pmd3Services


@dataclass
class Hold:
    """The app kept in front for a job: on which phone, as which process, whether it still beats, and
    the runs enqueued and not yet answered (the job's end removes what is left of them once the app
    has stopped, since it may still be writing into them)."""

    serial: str
    pid: int
    liveness: Liveness
    pending: set[str] = field(default_factory=set)


class ResidentApp:
    """The benchmark app on the phones that `connection` reaches, as `settings` name it; `models` are
    the hardware ids the phone must be one of (empty: any)."""

    def __init__(self, connection: IosConnection, settings: IosSettings, models: Sequence[str]) -> None:
        self.connection, self.settings, self.models = connection, settings, tuple(models)

    @property
    def services(self) -> Pmd3Services:
        return self.connection.services

    async def start(self, serial: str, log: RunLog) -> Hold:
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
            await self.install_if_missing(lockdown, log)
            build = await check_app_build(ios, lockdown, self.settings.bundle_id)
            afc = await connection.open_documents(stack, lockdown)
            await self.clear_earlier_job(afc, log)
            control = await stack.enter_async_context(ios.process_control(provider))
            pid = await self.launch(control, log)
            hold = Hold(serial, pid, Liveness(self.settings.stale_s))
            try:
                await self.started(afc, hold)
            except BaseException:
                await self.quietly(log, "ask the app to stop", request_stop, ios, afc)
                raise
            log.say(f"the benchmark app (build {build}) runs in front in its resident mode as pid {pid}: it keeps the iPhone awake until this job ends")
        return hold

    async def clear_earlier_job(self, afc: Any, log: RunLog) -> None:
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

    async def started(self, afc: Any, hold: Hold) -> Heartbeat:
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

    async def stop(self, hold: Hold, log: RunLog) -> None:
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
                beat = await self.stopping(afc, hold)
                if beat is not None and beat.state != "stopped":
                    log.say(f"the benchmark app is still busy ({beat}) {self.settings.stop_timeout_s:g} s after it was asked to stop: ending it")
                    await self.end_app(stack, lockdown, hold, log)
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

    async def stopping(self, afc: Any, hold: Hold) -> Heartbeat | None:
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

    async def install_if_missing(self, lockdown: Any, log: RunLog) -> None:
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


    async def launch(self, control: Any, log: RunLog, stopped: str | None = None) -> int:
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

    async def developer_services(self, stack: AsyncExitStack, lockdown: Any, log: RunLog) -> Any:
        """Process control, for launching or ending the app: through the developer tunnel, which a
        session opens only when it needs it."""
        values = self.services.device_values(lockdown)
        provider, _ = await self.connection.developer_tunnel(stack, values["UniqueDeviceID"], check_version(values), log)
        return await stack.enter_async_context(self.services.process_control(provider))

    async def end_app(self, stack: AsyncExitStack, lockdown: Any, hold: Hold, log: RunLog) -> None:
        control = await self.developer_services(stack, lockdown, log)
        await self.quietly(log, f"end the app (pid {hold.pid})", self.services.kill, control, hold.pid)

    async def stream_syslog(self, lockdown: Any, pid: int, log: RunLog) -> None:
        """Copy the app's log lines into runner.log. Any failure of the stream ends only the stream:
        pymobiledevice3's parser raises ValueError, KeyError and construct errors on entries it cannot
        decode, and a diagnostic must never turn a finished measurement into a crash."""
        try:
            async for entry in self.services.syslog(lockdown, pid):
                log.entry(entry)
        except Exception as exc:  # every stream failure is only logged, see the docstring
            log.step(f"the device log stream ended: {reason(exc)}")

    async def quietly(self, log: RunLog, what: str, action: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Clean-up must not replace the run's own outcome, so its failures go to runner.log."""
        try:
            await action(*args)
        except (PyMobileDevice3Exception, DTXNsError, OSError) as exc:
            log.step(f"could not {what}: {reason(exc)}")
