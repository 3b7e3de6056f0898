"""The iOS runner: runs a run directory in the Core ML benchmark app on a USB-connected iPhone.

It follows the launch contract of `ios_bench/README.md`: push the run directory into the app's
Documents through house arrest, launch the app with DVT process control, wait for `result.json`,
pull it (unless it is larger than any result can be). Every pymobiledevice3 call goes through
`Pmd3Services`, so the whole sequence, and the sentence each failure turns into, can be tested
against an in-memory phone. One phone runs one session at a time: `run` holds a lock named after
the phone's UDID from the moment it has picked the phone until it has cleaned up after itself.

While it waits it also asks DVT whether the app still runs, so a crash is reported within a poll
rather than at the timeout; and a session in which the phone reported a serious or critical thermal
state is measured once more after a cool-down, because a throttled phone reports latencies that
belong to its temperature rather than to the model.

Settings are `IosSettings` (settings.py); the way to the phone is `IosConnection` (connection.py),
the checks on it are in phone_state.py, and `bench doctor`'s walk is `IosDiagnosis` (diagnosis.py).
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymobiledevice3.dtx.exceptions import DTXNsError
from pymobiledevice3.exceptions import AppInstallError, PyMobileDevice3Exception

from infra.files import write_json_atomic
from infra.strict_json import MAX_JSON_BYTES
from orchestrator.measure.contract import read_json
from orchestrator.measure.runners.base import Diagnosis, RunnerError, phone_lock
from orchestrator.measure.runners.ios.connection import IosConnection, mux_devices
from orchestrator.measure.runners.ios.diagnosis import IosDiagnosis
from orchestrator.measure.runners.ios.messages import DEVICE_ERRORS, LOCKED, SIGN_HINT, app_not_installed, failure, reason
from orchestrator.measure.runners.ios.phone_state import app_installed, check_developer_mode, check_product, check_version, hot_state
from orchestrator.measure.runners.ios.rundir import accept_result, files_to_push
from orchestrator.measure.runners.ios.runlog import RunLog
from orchestrator.measure.runners.ios.settings import IosSettings
from orchestrator.measure.runners.phone import PhoneRunner

if TYPE_CHECKING:

    from orchestrator.measure.runners.ios.services import Pmd3Services


class IosRunner(PhoneRunner):
    """Runs run directories in the benchmark app (`ios_bench/`) on one iPhone. Staged like every
    runner (links under models/); `run` pushes the files they point to. `models` are the hardware
    ids the device entry stands for (devices.json `match.product_type`); `services` replaces
    pymobiledevice3 (the tests' in-memory phone)."""

    platform = "ios"

    def __init__(
        self, settings: IosSettings | None = None, device_name: str = "ios", models: Sequence[str] = (), services: Pmd3Services | None = None
    ) -> None:
        super().__init__(device_name, models)
        self.settings = settings or IosSettings()
        self.connection = IosConnection(self.settings, services)

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

    def run(self, run_dir: Path) -> dict[str, Any]:
        result_path = run_dir / "result.json"
        result_path.unlink(missing_ok=True)
        log_path = run_dir / "runner.log"
        with open(log_path, "w") as file:
            try:
                return asyncio.run(self._measure(run_dir, RunLog(file)))
            except DEVICE_ERRORS as exc:
                raise failure(exc, f"talking to the iPhone failed ({reason(exc)}): see {log_path}, then run again") from exc

    async def _measure(self, run_dir: Path, log: RunLog) -> dict[str, Any]:
        """One session, and once more after a cool-down when the phone got hot during it. The hot
        result is kept as result.hot.json, flagged, for whoever wonders why the session ran twice."""
        result = await self._run(run_dir, log)
        hot = hot_state(result)
        if hot is None:
            return result
        write_json_atomic(run_dir / "result.hot.json", result)
        log.step(f"the phone reached thermal state {hot}: measuring again after {self.settings.hot_cooldown_s:g} s of cooling")
        await asyncio.sleep(self.settings.hot_cooldown_s)
        result = await self._run(run_dir, log)
        hot = hot_state(result)
        if hot is not None:
            raise RunnerError(
                f"the iPhone is too hot to measure (thermal state {hot} in two sessions in a row, see {run_dir / 'result.json'}): "
                "let it cool for a few minutes, out of its case, off the charger and out of the sun, then run again"
            )
        return result

    async def _run(self, run_dir: Path, log: RunLog) -> dict[str, Any]:
        request = read_json(run_dir / "request.json", "request")
        files = files_to_push(run_dir, request)
        remote = f"/Documents/runs/{run_dir.name}"
        ios, connection = self.services, self.connection
        async with AsyncExitStack() as stack:
            serial = connection.pick(await mux_devices(ios))
            stack.enter_context(phone_lock(serial))  # entered first, so released after every clean-up
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
            afc = await connection.open_documents(stack, lockdown)
            stack.push_async_callback(self._quietly, log, f"remove {remote}", self._remove, afc, remote)
            await self._push(afc, files, remote, log)
            control = await stack.enter_async_context(ios.process_control(provider))
            pid = await self._launch(control, f"runs/{run_dir.name}", log)
            stack.push_async_callback(self._quietly, log, f"end the app (pid {pid})", ios.kill, control, pid)
            if self.settings.stream_log:
                syslog = asyncio.create_task(self._stream_syslog(lockdown, pid, log))
                stack.push_async_callback(_stop, syslog)
            data = await self._wait_for_result(afc, f"{remote}/result.json", control, pid, run_dir / "runner.log")
            log.step(f"pulled {remote}/result.json ({len(data)} bytes)")
        return accept_result(run_dir, data, request)

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

    async def _remove(self, afc: Any, remote: str) -> None:
        if await self.services.afc_exists(afc, remote):
            await self.services.afc_rm(afc, remote)

    async def _push(self, afc: Any, files: list[tuple[Path, str]], remote: str, log: RunLog) -> None:
        ios = self.services
        await self._remove(afc, remote)
        for folder in sorted({posixpath.dirname(f"{remote}/{rel}") for _, rel in files}):
            await ios.afc_makedirs(afc, folder)
        log.step(f"pushing {len(files)} files to {remote}")
        for local, rel in files:
            await ios.afc_push(afc, local, f"{remote}/{rel}")

    async def _stream_syslog(self, lockdown: Any, pid: int, log: RunLog) -> None:
        """Copy the app's log lines into runner.log. Any failure of the stream ends only the stream:
        pymobiledevice3's parser raises ValueError, KeyError and construct errors on entries it cannot
        decode, and a diagnostic must never turn a finished measurement into a crash."""
        try:
            async for entry in self.services.syslog(lockdown, pid):
                log.entry(entry)
        except Exception as exc:  # every stream failure is only logged, see the docstring
            log.step(f"the device log stream ended: {reason(exc)}")

    async def _launch(self, control: Any, run_arg: str, log: RunLog) -> int:
        log.step(f"launching {self.settings.bundle_id} --run-dir {run_arg}")
        try:
            pid = await self.services.launch(control, self.settings.bundle_id, ["--run-dir", run_arg])
        except DTXNsError as exc:
            why = ((exc.error.user_info or {}).get("NSLocalizedDescription") or reason(exc)).rstrip(".")
            if "unlock" in why.lower():
                raise RunnerError(LOCKED) from exc
            raise RunnerError(
                f"iOS refused to launch {self.settings.bundle_id} ({why}): {SIGN_HINT}, and trust your developer certificate "
                "under Settings > General > VPN & Device Management"
            ) from exc
        except AssertionError as exc:  # ProcessControl.launch asserts on the pid 0 that a refused launch returns
            raise RunnerError(f"iOS refused to launch {self.settings.bundle_id}: {SIGN_HINT}") from exc
        log.app_started(pid)
        log.step(f"the app runs as pid {pid}")
        return pid

    async def _wait_for_result(self, afc: Any, remote_result: str, control: Any, pid: int, log_path: Path) -> bytes:
        """The app writes result.json by rename, so once it exists it is whole, and its size tells
        whether it can be one of ours before it is pulled into memory. Each poll also asks whether the
        app still runs, so a crash ends the wait at once (after one last look for a result it may have
        written just before it went)."""
        ios = self.services
        deadline = time.monotonic() + self.settings.timeout_s
        while not await ios.afc_exists(afc, remote_result):
            if not await ios.is_running(control, pid) and not await ios.afc_exists(afc, remote_result):
                raise RunnerError(
                    f"the iOS app quit (pid {pid}) without writing a result, it probably crashed: see its crash report under "
                    f"Settings > Privacy & Security > Analytics & Improvements > Analytics Data (IOSBench-*), and {log_path}, then run again"
                )
            if time.monotonic() > deadline:
                raise RunnerError(
                    f"the iOS app wrote no result within {self.settings.timeout_s:g} s: see {log_path} for its log, "
                    "keep the phone unlocked with the app in the foreground, or allow more time"
                )
            await asyncio.sleep(self.settings.poll_s)
        size = await ios.afc_size(afc, remote_result)
        if size > MAX_JSON_BYTES:
            raise RunnerError(
                f"the result the iOS app wrote ({remote_result}) is {size:,} bytes, more than the {MAX_JSON_BYTES:,} a result can be, "
                "so it was not pulled: rebuild and reinstall the app from this checkout (ios_bench/README.md)"
            )
        return await ios.afc_get_file_contents(afc, remote_result)

    async def _quietly(self, log: RunLog, what: str, action: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Clean-up must not replace the run's own outcome, so its failures go to runner.log."""
        try:
            await action(*args)
        except (PyMobileDevice3Exception, DTXNsError, OSError) as exc:
            log.step(f"could not {what}: {reason(exc)}")


async def _stop(task: asyncio.Task) -> None:
    """End the syslog stream; `wait` rather than `await task`, so a cancellation of the run itself
    (Ctrl-C) still propagates instead of being taken for the stream's own."""
    task.cancel()
    await asyncio.wait({task})
