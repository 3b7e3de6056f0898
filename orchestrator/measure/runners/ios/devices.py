"""Which iPhones are connected, as `bench devices` lists them, and the pymobiledevice3 services that
both the listing and the runner talk to them through.

Listing is kept apart from the runner because it must never change a phone: it reads each phone
without pairing, so an untrusted phone is still listed (without its name) instead of showing a
Trust dialog.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pymobiledevice3.exceptions import ConnectionFailedToUsbmuxdError, PyMobileDevice3Exception

from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.ios.messages import NO_USBMUXD, known_failure, reason

if TYPE_CHECKING:

    from orchestrator.measure.runners.ios.services import Pmd3Services


@dataclass(frozen=True)
class IosDeviceInfo:
    """A connected iPhone as `bench devices` shows it; `problem` says why its facts are missing.
    `build` (iOS's build number, e.g. 21E236) goes into a LUT's provenance."""

    udid: str
    product_type: str | None
    name: str | None
    os_version: str | None
    paired: bool
    problem: str | None = None
    build: str | None = None


def default_services() -> Pmd3Services:
    """Imported on first use: pymobiledevice3's services take a second to import, and a CLI that
    only measures on the host should not pay for it."""
    from orchestrator.measure.runners.ios.services import Pmd3Services

    return Pmd3Services()


def list_ios_devices(services: Pmd3Services | None = None) -> list[IosDeviceInfo]:
    """The iPhones connected over USB, read without pairing (an untrusted phone shows paired=False
    and may lack its name); raises RunnerError only when usbmuxd itself cannot be reached."""
    return asyncio.run(_list_devices(services or default_services()))


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
                        values.get("ProductVersion"), services.is_paired(lockdown), build=values.get("BuildVersion"),
                    )
                )
        except PyMobileDevice3Exception as exc:
            found.append(IosDeviceInfo(device.serial, None, None, None, False, known_failure(exc) or reason(exc)))
    return found
