"""Phones connected now, and which registry entries they match (for `bench devices`).

Every platform that has phones lists them (Android phones over ADB: USB, or the phones $BENCH_ADB
names; iPhones over usbmux); a platform that cannot be searched here (no libusb, no usbmuxd, the iOS
extra not installed) becomes a note rather than an error, because `bench devices` must still show
the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.errors import UserError
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import PLATFORMS
from orchestrator.measure.runners.platform import FoundPhone, Platform


@dataclass(frozen=True)
class ConnectedPhone:
    """A row of `bench devices`: a listed phone and the registry entries it matches."""

    platform: str
    id: str  # ADB serial or iPhone UDID
    model: str | None  # Android ro.product.model / iPhone product type
    os: str | None
    name: str | None
    matches: tuple[str, ...]
    problem: str | None


def _matches(devices: dict[str, Device], platform: Platform, phone: FoundPhone) -> tuple[str, ...]:
    return tuple(d.name for d in devices.values() if d.platform == platform.name and phone.model is not None and phone.model in platform.models(d))


def connected_phones(devices: dict[str, Device]) -> tuple[list[ConnectedPhone], list[str]]:
    phones: list[ConnectedPhone] = []
    notes: list[str] = []
    for platform in PLATFORMS.values():
        if platform.phones is None:
            continue
        try:
            found = platform.phones.find()
        except ImportError as exc:
            notes.append(f"{platform.phones.noun} not searched: {platform.requires or exc}")
            continue
        except UserError as exc:
            notes.append(f"{platform.phones.noun} not searched: {exc}")
            continue
        phones += [ConnectedPhone(platform.name, p.serial, p.model, p.os, p.name, _matches(devices, platform, p), p.problem) for p in found]
    return phones, notes
