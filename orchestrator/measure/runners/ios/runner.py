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
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymobiledevice3.dtx.exceptions import DTXNsError
from pymobiledevice3.exceptions import (
    AppInstallError,
    AppNotInstalledError,
    PyMobileDevice3Exception,
    TunneldConnectionError,
)

from infra.files import write_json_atomic
from infra.strict_json import MAX_JSON_BYTES
from orchestrator.measure.contract import read_json
from orchestrator.measure.devices import Device
from orchestrator.measure.runners.base import Check, Runner, RunnerError, phone_lock
from orchestrator.measure.runners.ios.devices import default_services
from orchestrator.measure.runners.ios.diagnosis import diagnose
from orchestrator.measure.runners.ios.messages import (
    DEVELOPER_MODE_OFF,
    DEVICE_ERRORS,
    LOCKED,
    NO_DEVICE,
    SIGN_HINT,
    TUNNELD_COMMAND,
    failure,
    reason,
)
from orchestrator.measure.runners.ios.rundir import accept_result, files_to_push, hot_state
from orchestrator.measure.runners.ios.runlog import RunLog

if TYPE_CHECKING:

    from orchestrator.measure.runners.ios.services import Pmd3Services

BUNDLE_ID = "org.autovit.bench"
MIN_IOS = (17, 0)
USERSPACE_TUNNEL_IOS = (17, 4)


def _version(text: str) -> tuple[int, int]:
    parts = [int(p) for p in text.split(".")[:2]]
    return parts[0], parts[1] if len(parts) > 1 else 0


class IosRunner(Runner):
    """Runs run directories in the benchmark app (`ios_bench/`) on one iPhone. Staged like every
    runner (links under models/); `run` pushes the files they point to.

    bundle_id: the id the app was signed with (ios_bench/README.md, Sign).
    app_path: an .ipa or .app to install when the app is missing; without it a missing app is an error.
    udid: which phone, when more than one is connected.
    product_types: the hardware ids the device entry stands for (devices.json `match.product_type`);
        a different phone is refused, so a LUT never mixes phones.
    timeout_s: how long one run may take on the phone (compiling, loading, cool-down, warm-up, measuring).
    stream_log: copy the app's device log into runner.log while it runs; off by default, because
        streaming a log over USB while timing costs the phone CPU time and perturbs the latencies.
    hot_cooldown_s: how long to let a phone that got hot cool down before measuring the session again.
    """

    platform = "ios"

    def __init__(
        self,
        bundle_id: str = BUNDLE_ID,
        app_path: Path | None = None,
        udid: str | None = None,
        product_types: Sequence[str] = (),
        timeout_s: float = 1800.0,
        poll_s: float = 1.0,
        pair_timeout_s: float = 30.0,
        stream_log: bool = False,
        hot_cooldown_s: float = 120.0,
        services: Pmd3Services | None = None,
    ) -> None:
        self.bundle_id, self.app_path, self.udid = bundle_id, app_path, udid
        self.product_types = tuple(product_types)
        self.timeout_s, self.poll_s, self.pair_timeout_s = timeout_s, poll_s, pair_timeout_s
        self.stream_log, self.hot_cooldown_s = stream_log, hot_cooldown_s
        self._services = services

    @classmethod
    def for_device(cls, device: Device, **overrides: Any) -> IosRunner:
        """The runner for a registry entry: bundle id and udid from the entry's runtime, else from
        BENCH_IOS_BUNDLE_ID / BENCH_IOS_UDID; the app to install from BENCH_IOS_APP; and the phone
        must be one of the entry's `match.product_type`."""
        app = os.environ.get("BENCH_IOS_APP")
        settings: dict[str, Any] = {
            "bundle_id": device.runtime.get("bundle_id") or os.environ.get("BENCH_IOS_BUNDLE_ID") or BUNDLE_ID,
            "app_path": Path(app) if app else None,
            "udid": device.runtime.get("udid") or os.environ.get("BENCH_IOS_UDID"),
            "product_types": device.match.get("product_type", ()),
        }
        return cls(**{**settings, **overrides})

    @property
    def services(self) -> Pmd3Services:
        if self._services is None:
            self._services = default_services()
        return self._services

    def diagnose(self) -> list[Check]:
        """The steps of `_run` up to the launch, each reported as a check (see `diagnosis`)."""
        return diagnose(self)

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
        log.step(f"the phone reached thermal state {hot}: measuring again after {self.hot_cooldown_s:g} s of cooling")
        await asyncio.sleep(self.hot_cooldown_s)
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
        ios = self.services
        async with AsyncExitStack() as stack:
            lockdown = await self._connect(stack, log)
            values = ios.device_values(lockdown)
            log.step(f"{values.get('DeviceName')} ({values.get('ProductType')}), iOS {values.get('ProductVersion')}, udid {values.get('UniqueDeviceID')}")
            self._check_product(values)
            version = self._check_version(values)
            if not await ios.developer_mode_status(lockdown):
                raise RunnerError(DEVELOPER_MODE_OFF)
            provider, _ = await self._developer_tunnel(stack, values["UniqueDeviceID"], version, log)
            await self._mount_developer_image(provider, log)
            await self._install_if_missing(lockdown, log)
            afc = await self._open_documents(stack, lockdown)
            stack.push_async_callback(self._quietly, log, f"remove {remote}", self._remove, afc, remote)
            await self._push(afc, files, remote, log)
            control = await stack.enter_async_context(ios.process_control(provider))
            pid = await self._launch(control, f"runs/{run_dir.name}", log)
            stack.push_async_callback(self._quietly, log, f"end the app (pid {pid})", ios.kill, control, pid)
            if self.stream_log:
                syslog = asyncio.create_task(self._stream_syslog(lockdown, pid, log))
                stack.push_async_callback(_stop, syslog)
            data = await self._wait_for_result(afc, f"{remote}/result.json", control, pid, run_dir / "runner.log")
            log.step(f"pulled {remote}/result.json ({len(data)} bytes)")
        return accept_result(run_dir, data, request)

    def _pick(self, devices: list[Any]) -> str:
        """The serial of the one phone on USB this runner is for."""
        devices = [d for d in devices if d.is_usb and (self.udid is None or d.matches_udid(self.udid))]
        if not devices:
            raise RunnerError(NO_DEVICE if self.udid is None else f"the iPhone {self.udid} is not connected over USB: connect it with a cable and unlock it, then run again")
        if len(devices) > 1:
            serials = ", ".join(d.serial for d in devices)
            raise RunnerError(f"{len(devices)} iPhones are connected ({serials}): give the runner the udid of the one to measure (`bench devices` lists them)")
        return devices[0].serial

    async def _connect(self, stack: AsyncExitStack, log: RunLog) -> Any:
        ios = self.services
        serial = self._pick(await ios.list_devices())
        stack.enter_context(phone_lock(serial))  # entered first, so released after every clean-up
        log.step(f"connecting to {serial}")
        return await stack.enter_async_context(ios.lockdown(serial, autopair=True, pair_timeout=self.pair_timeout_s))

    def _check_product(self, values: dict[str, Any]) -> None:
        product_type = values.get("ProductType")
        if self.product_types and product_type not in self.product_types:
            raise RunnerError(
                f"the connected iPhone's hardware id is {product_type}, but this device entry stands for {', '.join(self.product_types)}: "
                "connect that phone, or measure this one under a device entry that matches it"
            )

    @staticmethod
    def _check_version(values: dict[str, Any]) -> tuple[int, int]:
        version = values.get("ProductVersion") or "0"
        if _version(version) < MIN_IOS:
            raise RunnerError(f"the iPhone runs iOS {version}, but the benchmark app needs iOS 17 or later: update the iPhone, then run again")
        return _version(version)

    async def _developer_tunnel(self, stack: AsyncExitStack, udid: str, version: tuple[int, int], log: RunLog) -> tuple[Any, str]:
        """iOS 17 serves DVT and the image mounter only through a tunnel: a running tunneld's if there
        is one, else (17.4 and later) one of our own that needs no root. Returns the tunnel and which
        one it is.

        A tunneld that still lists the phone after a replug or a sleep holds a dead tunnel, and
        pymobiledevice3 then fails to connect to it with an IndexError (no connected tunnel left in the
        list it indexes): that counts as no tunneld for this phone."""
        ios = self.services
        try:
            provider = await stack.enter_async_context(ios.tunneld_rsd(udid))
        except TunneldConnectionError:
            provider = None
        except IndexError:
            log.step("tunneld lists this iPhone but its tunnel is dead (replugged or asleep since)")
            provider = None
        if provider is not None:
            log.step("using the tunnel that tunneld serves")
            return provider, "the tunnel tunneld serves"
        if version < USERSPACE_TUNNEL_IOS:
            raise RunnerError(
                f"iOS {version[0]}.{version[1]} reaches developer services only through a tunnel, and no tunneld serves this iPhone: "
                f"start one in another terminal with `{TUNNELD_COMMAND}` (restart it if it runs already), then run again"
            )
        log.step("opening an in-process tunnel (no tunneld serves this iPhone)")
        try:
            return await stack.enter_async_context(ios.userspace_rsd(udid)), "an in-process tunnel"
        except PyMobileDevice3Exception as exc:
            raise failure(
                exc, f"could not open a tunnel to the iPhone ({reason(exc)}): start one in another terminal with `{TUNNELD_COMMAND}`, then run again"
            ) from exc

    async def _mount_developer_image(self, provider: Any, log: RunLog) -> None:
        ios = self.services
        if await ios.is_developer_image_mounted(provider):
            return
        log.step("mounting the developer disk image")
        try:
            await ios.auto_mount(provider)
        except (PyMobileDevice3Exception, OSError) as exc:
            raise failure(
                exc,
                f"the developer disk image is not mounted on the iPhone and mounting it failed ({reason(exc)}): "
                "mount it with `python3 -m pymobiledevice3 mounter auto-mount` (it downloads the image once), then run again",
            ) from exc

    def _not_installed(self) -> RunnerError:
        return RunnerError(
            f"the benchmark app {self.bundle_id} is not installed on the iPhone: build, sign and install it as ios_bench/README.md "
            "describes (or give the runner its .ipa/.app to install), with the bundle id the runner is given"
        )

    async def _install_if_missing(self, lockdown: Any, log: RunLog) -> None:
        ios = self.services
        if self.bundle_id in await ios.get_apps(lockdown, [self.bundle_id]):
            return
        if self.app_path is None:
            raise self._not_installed()
        if not self.app_path.exists():
            raise RunnerError(f"the app to install, {self.app_path}, does not exist: build it as ios_bench/README.md describes, or fix the path")
        log.step(f"installing {self.app_path}")
        try:
            await ios.install_from_local(lockdown, self.app_path)
        except AppInstallError as exc:
            raise RunnerError(f"iOS refused to install {self.app_path} ({reason(exc)}): {SIGN_HINT}, then run again") from exc

    async def _open_documents(self, stack: AsyncExitStack, lockdown: Any) -> Any:
        try:
            return await stack.enter_async_context(self.services.house_arrest(lockdown, self.bundle_id))
        except AppNotInstalledError as exc:
            raise self._not_installed() from exc
        except PyMobileDevice3Exception as exc:
            raise failure(exc, f"iOS refused access to the Documents of {self.bundle_id} ({reason(exc)}): install a development build, {SIGN_HINT}") from exc

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
        log.step(f"launching {self.bundle_id} --run-dir {run_arg}")
        try:
            pid = await self.services.launch(control, self.bundle_id, ["--run-dir", run_arg])
        except DTXNsError as exc:
            why = ((exc.error.user_info or {}).get("NSLocalizedDescription") or reason(exc)).rstrip(".")
            if "unlock" in why.lower():
                raise RunnerError(LOCKED) from exc
            raise RunnerError(
                f"iOS refused to launch {self.bundle_id} ({why}): {SIGN_HINT}, and trust your developer certificate "
                "under Settings > General > VPN & Device Management"
            ) from exc
        except AssertionError as exc:  # ProcessControl.launch asserts on the pid 0 that a refused launch returns
            raise RunnerError(f"iOS refused to launch {self.bundle_id}: {SIGN_HINT}") from exc
        log.app_started(pid)
        log.step(f"the app runs as pid {pid}")
        return pid

    async def _wait_for_result(self, afc: Any, remote_result: str, control: Any, pid: int, log_path: Path) -> bytes:
        """The app writes result.json by rename, so once it exists it is whole, and its size tells
        whether it can be one of ours before it is pulled into memory. Each poll also asks whether the
        app still runs, so a crash ends the wait at once (after one last look for a result it may have
        written just before it went)."""
        ios = self.services
        deadline = time.monotonic() + self.timeout_s
        while not await ios.afc_exists(afc, remote_result):
            if not await ios.is_running(control, pid) and not await ios.afc_exists(afc, remote_result):
                raise RunnerError(
                    f"the iOS app quit (pid {pid}) without writing a result, it probably crashed: see its crash report under "
                    f"Settings > Privacy & Security > Analytics & Improvements > Analytics Data (IOSBench-*), and {log_path}, then run again"
                )
            if time.monotonic() > deadline:
                raise RunnerError(
                    f"the iOS app wrote no result within {self.timeout_s:g} s: see {log_path} for its log, "
                    "keep the phone unlocked with the app in the foreground, or allow more time"
                )
            await asyncio.sleep(self.poll_s)
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
