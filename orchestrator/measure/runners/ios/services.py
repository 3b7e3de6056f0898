"""The pymobiledevice3 calls the iOS runner makes, one method each, and nothing else.

The runner's decisions live beside it: which phone and which tunnel in `connection`, what the phone
must be in `phone_state`, what each failure means in `messages`, the session in `runner`. This
class only forwards to pymobiledevice3, so the tests can replace it with an in-memory phone and
`tests/test_ios_runner.py` can check that every call made here still exists in the installed
pymobiledevice3. Objects it returns (lockdown clients, tunnels, AFC and
process-control sessions) are handles that the runner only passes back into this class.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pymobiledevice3 import usbmux
from pymobiledevice3.lockdown import LockdownClient, create_using_usbmux
from pymobiledevice3.remote.remote_service_discovery import RemoteServiceDiscoveryService
from pymobiledevice3.remote.userspace_tunnel import UserspaceRsdTunnel
from pymobiledevice3.services.afc import AfcService
from pymobiledevice3.services.dvt.instruments.dvt_provider import DvtProvider
from pymobiledevice3.services.dvt.instruments.process_control import ProcessControl
from pymobiledevice3.services.house_arrest import HouseArrestService
from pymobiledevice3.services.installation_proxy import InstallationProxyService
from pymobiledevice3.services.mobile_image_mounter import MobileImageMounterService, auto_mount, image_type_for_device
from pymobiledevice3.services.os_trace import OsTraceService, SyslogEntry
from pymobiledevice3.tunneld.api import get_tunneld_device_by_udid
from pymobiledevice3.usbmux import MuxDevice


class Pmd3Services:
    """pymobiledevice3, reduced to the calls the iOS runner needs (all of them asyncio)."""

    async def list_devices(self) -> list[MuxDevice]:
        return await usbmux.list_devices()

    @asynccontextmanager
    async def lockdown(self, serial: str, autopair: bool, pair_timeout: float) -> AsyncIterator[LockdownClient]:
        async with await create_using_usbmux(serial=serial, autopair=autopair, pair_timeout=pair_timeout) as client:
            yield client

    def device_values(self, lockdown: LockdownClient) -> dict[str, Any]:
        """DeviceName, ProductType, ProductVersion, UniqueDeviceID, ... as lockdown reports them."""
        return lockdown.short_info

    def is_paired(self, lockdown: LockdownClient) -> bool:
        return lockdown.paired

    def has_passcode(self, lockdown: LockdownClient) -> bool | None:
        """Whether a passcode is set (lockdown's PasswordProtected), None where the phone does not say."""
        return lockdown.all_values.get("PasswordProtected")

    async def developer_mode_status(self, lockdown: LockdownClient) -> bool:
        return await lockdown.get_developer_mode_status()

    @asynccontextmanager
    async def tunneld_rsd(self, udid: str) -> AsyncIterator[RemoteServiceDiscoveryService | None]:
        """The tunnel a running `pymobiledevice3 remote tunneld` serves for this phone, or None."""
        rsd = await get_tunneld_device_by_udid(udid)
        try:
            yield rsd
        finally:
            if rsd is not None:
                await rsd.close()

    @asynccontextmanager
    async def userspace_rsd(self, udid: str) -> AsyncIterator[RemoteServiceDiscoveryService]:
        """An in-process tunnel that needs no root (iOS 17.4 and later)."""
        async with UserspaceRsdTunnel(serial=udid) as rsd:
            yield rsd

    async def is_developer_image_mounted(self, provider: Any) -> bool:
        async with MobileImageMounterService(provider) as mounter:
            return await mounter.is_image_mounted(image_type_for_device(provider))

    async def auto_mount(self, provider: Any) -> None:
        await auto_mount(provider)

    async def get_apps(self, lockdown: LockdownClient, bundle_ids: list[str]) -> dict[str, dict[str, Any]]:
        async with InstallationProxyService(lockdown) as proxy:
            return await proxy.get_apps(bundle_identifiers=bundle_ids)

    async def install_from_local(self, lockdown: LockdownClient, package: Path) -> None:
        async with InstallationProxyService(lockdown) as proxy:
            await proxy.install_from_local(package)

    @asynccontextmanager
    async def house_arrest(self, lockdown: LockdownClient, bundle_id: str) -> AsyncIterator[AfcService]:
        """AFC rooted at the app's container, exposing only /Documents."""
        async with await HouseArrestService.create(lockdown, bundle_id, documents_only=True) as afc:
            yield afc

    async def afc_exists(self, afc: AfcService, path: str) -> bool:
        return await afc.exists(path)

    async def afc_makedirs(self, afc: AfcService, path: str) -> None:
        await afc.makedirs(path)

    async def afc_push(self, afc: AfcService, local: Path, remote: str) -> None:
        await afc.push(str(local), remote, progress_bar=False)

    async def afc_size(self, afc: AfcService, path: str) -> int:
        return (await afc.stat(path))["st_size"]

    async def afc_get_file_contents(self, afc: AfcService, path: str) -> bytes:
        return await afc.get_file_contents(path)

    async def afc_rm(self, afc: AfcService, path: str) -> None:
        await afc.rm(path)

    async def afc_listdir(self, afc: AfcService, path: str) -> list[str]:
        return await afc.listdir(path)

    async def afc_set_file_contents(self, afc: AfcService, path: str, data: bytes) -> None:
        await afc.set_file_contents(path, data)

    async def afc_rename(self, afc: AfcService, source: str, target: str) -> None:
        await afc.rename(source, target)

    @asynccontextmanager
    async def process_control(self, provider: Any) -> AsyncIterator[ProcessControl]:
        async with DvtProvider(provider) as dvt, ProcessControl(dvt) as control:
            yield control

    async def launch(self, control: ProcessControl, bundle_id: str, arguments: list[str]) -> int:
        """Start the app in front, ending a copy of it that runs already (a job's app left behind)."""
        return await control.launch(bundle_id, arguments=arguments, kill_existing=True)

    async def kill(self, control: ProcessControl, pid: int) -> None:
        await control.kill(pid)

    async def syslog(self, lockdown: LockdownClient, pid: int) -> AsyncIterator[SyslogEntry]:
        """The log entries of one process from now on, filtered on the phone, so that the other
        processes' logs do not cross the cable."""
        async with OsTraceService(lockdown) as trace:
            async for entry in trace.syslog(pid=pid):
                yield entry
