"""The iOS runner: runs a run directory in the Core ML benchmark app on a USB-connected iPhone.

It follows the launch contract of `ios_bench/README.md`: push the run directory into the app's
Documents through house arrest, launch the app with DVT process control, wait for `result.json`,
pull it (unless it is larger than any result can be). Every pymobiledevice3 call goes through
`Pmd3Services`, so the whole sequence, and the sentence each failure turns into, can be tested
against an in-memory phone. One phone runs one session at a time: `run` holds a lock named after
the phone's UDID from the moment it has picked the phone until it has cleaned up after itself.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymobiledevice3.dtx.exceptions import DTXNsError
from pymobiledevice3.exceptions import (
    AppInstallError,
    AppNotInstalledError,
    ConnectionFailedToUsbmuxdError,
    PyMobileDevice3Exception,
    TunneldConnectionError,
)

from orchestrator.measure.contract import ContractError, read_json
from orchestrator.measure.devices import Device
from orchestrator.measure.runners.base import Runner, RunnerError, phone_lock
from orchestrator.measure.runners.ios.messages import (
    DEVELOPER_MODE_OFF,
    LOCKED,
    NO_DEVICE,
    NO_USBMUXD,
    SIGN_HINT,
    TUNNELD_COMMAND,
    failure,
    known_failure,
    reason,
)
from orchestrator.measure.runners.ios.runlog import RunLog
from search.files import MAX_JSON_BYTES, write_bytes_atomic

if TYPE_CHECKING:

    from orchestrator.measure.runners.ios.services import Pmd3Services

BUNDLE_ID = "org.autovit.bench"
MIN_IOS = (17, 0)
USERSPACE_TUNNEL_IOS = (17, 4)


@dataclass(frozen=True)
class IosDeviceInfo:
    """A connected iPhone as `bench devices` shows it; `problem` says why its facts are missing."""

    udid: str
    product_type: str | None
    name: str | None
    os_version: str | None
    paired: bool
    problem: str | None = None


def _default_services() -> Pmd3Services:
    """Imported on first use: pymobiledevice3's services take a second to import, and a CLI that
    only measures on the host should not pay for it."""
    from orchestrator.measure.runners.ios.services import Pmd3Services

    return Pmd3Services()


def _version(text: str) -> tuple[int, int]:
    parts = [int(p) for p in text.split(".")[:2]]
    return parts[0], parts[1] if len(parts) > 1 else 0


def list_ios_devices(services: Pmd3Services | None = None) -> list[IosDeviceInfo]:
    """The iPhones connected over USB, read without pairing (an untrusted phone shows paired=False
    and may lack its name); raises RunnerError only when usbmuxd itself cannot be reached."""
    return asyncio.run(_list_devices(services or _default_services()))


async def _list_devices(services: Pmd3Services) -> list[IosDeviceInfo]:
    try:
        devices = [d for d in await services.list_devices() if d.is_usb]
    except ConnectionFailedToUsbmuxdError as exc:
        raise RunnerError(NO_USBMUXD) from exc
    found = []
    for device in devices:
        try:
            async with services.lockdown(device.serial, autopair=False, pair_timeout=0) as lockdown:
                values = services.device_values(lockdown)
                found.append(
                    IosDeviceInfo(
                        values.get("UniqueDeviceID") or device.serial, values.get("ProductType"), values.get("DeviceName"),
                        values.get("ProductVersion"), services.is_paired(lockdown),
                    )
                )
        except PyMobileDevice3Exception as exc:
            found.append(IosDeviceInfo(device.serial, None, None, None, False, known_failure(exc) or reason(exc)))
    return found


class IosRunner(Runner):
    """Runs run directories in the benchmark app (`ios_bench/`) on one iPhone. Staged like every
    runner (links under models/); `run` pushes the files they point to.

    bundle_id: the id the app was signed with (ios_bench/README.md, Sign).
    app_path: an .ipa or .app to install when the app is missing; without it a missing app is an error.
    udid: which phone, when more than one is connected.
    product_types: the hardware ids the device entry stands for (devices.json `match.product_type`);
        a different phone is refused, so a LUT never mixes phones.
    timeout_s: how long one run may take on the phone (compiling, loading, cool-down, warm-up, measuring).
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
        services: Pmd3Services | None = None,
    ) -> None:
        self.bundle_id, self.app_path, self.udid = bundle_id, app_path, udid
        self.product_types = tuple(product_types)
        self.timeout_s, self.poll_s, self.pair_timeout_s = timeout_s, poll_s, pair_timeout_s
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
            self._services = _default_services()
        return self._services

    def run(self, run_dir: Path) -> dict[str, Any]:
        result_path = run_dir / "result.json"
        result_path.unlink(missing_ok=True)
        log_path = run_dir / "runner.log"
        with open(log_path, "w") as file:
            try:
                return asyncio.run(self._run(run_dir, RunLog(file, self.bundle_id)))
            except (PyMobileDevice3Exception, DTXNsError, ConnectionError, TimeoutError, asyncio.IncompleteReadError) as exc:
                raise failure(exc, f"talking to the iPhone failed ({reason(exc)}): see {log_path}, then run again") from exc

    async def _run(self, run_dir: Path, log: RunLog) -> dict[str, Any]:
        request = read_json(run_dir / "request.json", "request")
        files = _files_to_push(run_dir, request)
        remote = f"/Documents/runs/{run_dir.name}"
        ios = self.services
        async with AsyncExitStack() as stack:
            lockdown = await self._connect(stack, log)
            udid, version = self._check_phone(ios.device_values(lockdown), log)
            if not await ios.developer_mode_status(lockdown):
                raise RunnerError(DEVELOPER_MODE_OFF)
            provider = await self._developer_tunnel(stack, udid, version, log)
            await self._mount_developer_image(provider, log)
            await self._install_if_missing(lockdown, log)
            afc = await self._open_documents(stack, lockdown)
            stack.push_async_callback(self._quietly, log, f"remove {remote}", self._remove, afc, remote)
            await self._push(afc, files, remote, log)
            syslog = asyncio.create_task(self._stream_syslog(lockdown, log))
            stack.push_async_callback(_stop, syslog, log)
            control = await stack.enter_async_context(ios.process_control(provider))
            pid = await self._launch(control, f"runs/{run_dir.name}", log)
            stack.push_async_callback(self._quietly, log, f"end the app (pid {pid})", ios.kill, control, pid)
            data = await self._wait_for_result(afc, f"{remote}/result.json", run_dir / "runner.log")
            log.step(f"pulled {remote}/result.json ({len(data)} bytes)")
        return _accept_result(run_dir, data, request)

    async def _connect(self, stack: AsyncExitStack, log: RunLog) -> Any:
        ios = self.services
        devices = [d for d in await ios.list_devices() if d.is_usb and (self.udid is None or d.matches_udid(self.udid))]
        if not devices:
            raise RunnerError(NO_DEVICE if self.udid is None else f"the iPhone {self.udid} is not connected over USB: connect it with a cable and unlock it, then run again")
        if len(devices) > 1:
            serials = ", ".join(d.serial for d in devices)
            raise RunnerError(f"{len(devices)} iPhones are connected ({serials}): give the runner the udid of the one to measure (`bench devices` lists them)")
        stack.enter_context(phone_lock(devices[0].serial))  # entered first, so released after every clean-up
        log.step(f"connecting to {devices[0].serial}")
        return await stack.enter_async_context(ios.lockdown(devices[0].serial, autopair=True, pair_timeout=self.pair_timeout_s))

    def _check_phone(self, values: dict[str, Any], log: RunLog) -> tuple[str, tuple[int, int]]:
        product_type, version = values.get("ProductType"), values.get("ProductVersion") or "0"
        log.step(f"{values.get('DeviceName')} ({product_type}), iOS {version}, udid {values.get('UniqueDeviceID')}")
        if self.product_types and product_type not in self.product_types:
            raise RunnerError(
                f"the connected iPhone's hardware id is {product_type}, but this device entry stands for {', '.join(self.product_types)}: "
                "connect that phone, or measure this one under a device entry that matches it"
            )
        if _version(version) < MIN_IOS:
            raise RunnerError(f"the iPhone runs iOS {version}, but the benchmark app needs iOS 17 or later: update the iPhone, then run again")
        return values["UniqueDeviceID"], _version(version)

    async def _developer_tunnel(self, stack: AsyncExitStack, udid: str, version: tuple[int, int], log: RunLog) -> Any:
        """iOS 17 serves DVT and the image mounter only through a tunnel: a running tunneld's if there
        is one, else (17.4 and later) one of our own that needs no root."""
        ios = self.services
        try:
            provider = await stack.enter_async_context(ios.tunneld_rsd(udid))
        except TunneldConnectionError:
            provider = None
        if provider is not None:
            log.step("using the tunnel that tunneld serves")
            return provider
        if version < USERSPACE_TUNNEL_IOS:
            raise RunnerError(
                f"iOS {version[0]}.{version[1]} reaches developer services only through a tunnel, and no tunneld serves this iPhone: "
                f"start one in another terminal with `{TUNNELD_COMMAND}` (restart it if it runs already), then run again"
            )
        log.step("opening an in-process tunnel (no tunneld serves this iPhone)")
        try:
            return await stack.enter_async_context(ios.userspace_rsd(udid))
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

    async def _stream_syslog(self, lockdown: Any, log: RunLog) -> None:
        try:
            async for entry in self.services.syslog(lockdown):
                log.entry(entry)
        except (PyMobileDevice3Exception, OSError, asyncio.IncompleteReadError) as exc:
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

    async def _wait_for_result(self, afc: Any, remote_result: str, log_path: Path) -> bytes:
        """The app writes result.json by rename, so once it exists it is whole, and its size tells
        whether it can be one of ours before it is pulled into memory."""
        ios = self.services
        deadline = time.monotonic() + self.timeout_s
        while not await ios.afc_exists(afc, remote_result):
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


async def _stop(task: asyncio.Task, log: RunLog) -> None:
    """End the syslog stream; `wait` rather than `await task`, so a cancellation of the run itself
    (Ctrl-C) still propagates instead of being taken for the stream's own."""
    task.cancel()
    await asyncio.wait({task})
    log.flush()
    if not task.cancelled():
        task.result()


def _files_to_push(run_dir: Path, request: dict[str, Any]) -> list[tuple[Path, str]]:
    """request.json and every model, as (local file, path relative to the run directory). Models are
    links into the export cache: the files they resolve to are pushed under the link's name, and an
    .mlpackage folder file by file."""
    files = [(run_dir / "request.json", "request.json")]
    for model in request["models"]:
        target = (run_dir / model["file"]).resolve()
        if not target.exists():
            raise RunnerError(f"the model file {model['file']} that request.json names is missing from {run_dir}: stage the run again")
        if target.is_file():
            files.append((target, model["file"]))
            continue
        for folder, _, names in os.walk(target, followlinks=True):
            rel_folder = Path(model["file"]) / Path(folder).relative_to(target)
            files.extend((Path(folder) / name, (rel_folder / name).as_posix()) for name in sorted(names))
    return files


def _accept_result(run_dir: Path, data: bytes, request: dict[str, Any]) -> dict[str, Any]:
    """Keep the pulled bytes as run_dir/result.json (atomically, and even when malformed, for the
    post-mortem), then hold them to the contract and to this request."""
    path = run_dir / "result.json"
    write_bytes_atomic(path, data)
    try:
        result = read_json(path, "result")
    except ContractError as exc:
        raise RunnerError(f"the iOS app wrote a result that breaks the contract ({exc}): update the app (ios_bench/README.md) and run again") from exc
    if result["status"] != "ok":
        raise RunnerError(f"the iOS app failed: {result['error']} (run directory {run_dir})")
    if result["run_id"] != request["run_id"]:
        raise RunnerError(f"the iOS app answered run {result['run_id']!r} instead of {request['run_id']!r}: update the app (ios_bench/README.md) and run again")
    expected, got = sorted(m["id"] for m in request["models"]), sorted(m["id"] for m in result["models"])
    if got != expected:
        raise RunnerError(f"the iOS app measured models {got} instead of {expected}: update the app (ios_bench/README.md) and run again")
    return result
