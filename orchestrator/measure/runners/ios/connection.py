"""How the runner reaches an iPhone: `IosConnection` (which phone on usbmux, its lockdown, the tunnel
to its developer services, the developer disk image, the app's Documents through house arrest), and
`list_phones`, the iPhones connected now, as `bench devices` and a shelf of phones list them.

Listing must never change a phone: it reads each phone without pairing, so an untrusted phone is
still listed (without its facts) instead of showing a Trust dialog. Every call goes through
`Pmd3Services` (services.py), imported on first use: pymobiledevice3's services take a second to
import, and a CLI that only measures on the host should not pay for it.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from pymobiledevice3.exceptions import (
    AppNotInstalledError,
    ConnectionFailedToUsbmuxdError,
    PyMobileDevice3Exception,
    TunneldConnectionError,
)

from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.ios.messages import (
    MOUNT_COMMAND,
    NO_DEVICE,
    NO_USBMUXD,
    SIGN_HINT,
    TUNNELD_COMMAND,
    app_not_installed,
    failure,
    known_failure,
    reason,
)
from orchestrator.measure.runners.ios.phone_state import identity
from orchestrator.measure.runners.ios.runlog import RunLog
from orchestrator.measure.runners.ios.settings import IosSettings
from orchestrator.measure.runners.platform import FoundPhone

if TYPE_CHECKING:

    from pymobiledevice3.usbmux import MuxDevice

    from orchestrator.measure.runners.ios.services import Pmd3Services

USERSPACE_TUNNEL_IOS = (17, 4)


def default_services() -> Pmd3Services:
    from orchestrator.measure.runners.ios.services import Pmd3Services

    return Pmd3Services()


async def mux_devices(services: Pmd3Services) -> list[MuxDevice]:
    """Every device usbmux lists (over USB and over the network); raises RunnerError only when
    usbmuxd itself cannot be reached."""
    try:
        return await services.list_devices()
    except ConnectionFailedToUsbmuxdError as exc:
        raise RunnerError(NO_USBMUXD) from exc


class IosConnection:
    """The way to one iPhone: the one on USB (or the one `settings.udid` names), and the services a
    session opens on it, each entered into the caller's exit stack so that it closes with the session."""

    def __init__(self, settings: IosSettings, services: Pmd3Services | None = None) -> None:
        self.settings = settings
        self._services = services

    @property
    def services(self) -> Pmd3Services:
        if self._services is None:
            self._services = default_services()
        return self._services

    def pick(self, devices: list[Any]) -> str:
        """The serial of the one phone on USB this connection is for."""
        udid = self.settings.udid
        devices = [d for d in devices if d.is_usb and (udid is None or d.matches_udid(udid))]
        if not devices:
            raise RunnerError(NO_DEVICE if udid is None else f"the iPhone {udid} is not connected over USB: connect it with a cable and unlock it, then run again")
        if len(devices) > 1:
            serials = ", ".join(d.serial for d in devices)
            raise RunnerError(f"{len(devices)} iPhones are connected ({serials}): give the runner the udid of the one to measure (`bench devices` lists them)")
        return devices[0].serial

    async def lockdown(self, stack: AsyncExitStack, serial: str, pair: bool) -> Any:
        """A lockdown client; with `pair`, an untrusted phone shows its Trust dialog and is waited for."""
        timeout = self.settings.pair_timeout_s if pair else 0
        return await stack.enter_async_context(self.services.lockdown(serial, autopair=pair, pair_timeout=timeout))

    async def developer_tunnel(self, stack: AsyncExitStack, udid: str, version: tuple[int, int], log: RunLog) -> tuple[Any, str]:
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

    async def image_mounted(self, provider: Any) -> bool:
        return await self.services.is_developer_image_mounted(provider)

    async def mount_developer_image(self, provider: Any, log: RunLog) -> None:
        if await self.image_mounted(provider):
            return
        log.step("mounting the developer disk image")
        try:
            await self.services.auto_mount(provider)
        except (PyMobileDevice3Exception, OSError) as exc:
            raise failure(
                exc,
                f"the developer disk image is not mounted on the iPhone and mounting it failed ({reason(exc)}): "
                f"mount it with `{MOUNT_COMMAND}` (it downloads the image once), then run again",
            ) from exc

    async def open_documents(self, stack: AsyncExitStack, lockdown: Any) -> Any:
        """The app's Documents folder (AFC through house arrest)."""
        bundle_id = self.settings.bundle_id
        try:
            return await stack.enter_async_context(self.services.house_arrest(lockdown, bundle_id))
        except AppNotInstalledError as exc:
            raise RunnerError(app_not_installed(bundle_id)) from exc
        except PyMobileDevice3Exception as exc:
            raise failure(exc, f"iOS refused access to the Documents of {bundle_id} ({reason(exc)}): install a development build, {SIGN_HINT}") from exc


def list_phones(services: Pmd3Services | None = None) -> list[FoundPhone]:
    """The iPhones connected over USB, read without pairing (an untrusted phone may lack its name);
    raises RunnerError only when usbmuxd itself cannot be reached."""
    return asyncio.run(_list_phones(services or default_services()))


async def _list_phones(services: Pmd3Services) -> list[FoundPhone]:
    found = []
    for device in [d for d in await mux_devices(services) if d.is_usb]:
        try:
            async with services.lockdown(device.serial, autopair=False, pair_timeout=0) as lockdown:
                found.append(identity(services.device_values(lockdown), device.serial))
        except PyMobileDevice3Exception as exc:
            found.append(FoundPhone(device.serial, None, None, problem=known_failure(exc) or reason(exc), reach={"udid": device.serial}))
    return found
