"""Phones connected now, and which registry entries they match (for `bench devices`).

Android phones are listed over ADB (USB, or the phone at $BENCH_ADB), iPhones over usbmux; a
platform that cannot be searched here (no libusb, no usbmuxd, the iOS extra not installed) becomes
a note rather than an error, because `bench devices` must still show the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.errors import UserError
from orchestrator.measure.devices import Device


@dataclass(frozen=True)
class ConnectedPhone:
    platform: str
    id: str  # ADB serial or iPhone UDID
    model: str | None  # Android ro.product.model / iPhone product type
    os: str | None
    name: str | None
    matches: tuple[str, ...]
    problem: str | None


def _matches(devices: dict[str, Device], platform: str, field: str, value: str | None) -> tuple[str, ...]:
    return tuple(d.name for d in devices.values() if d.platform == platform and value is not None and value in d.match.get(field, ()))


def connected_phones(devices: dict[str, Device]) -> tuple[list[ConnectedPhone], list[str]]:
    phones: list[ConnectedPhone] = []
    notes: list[str] = []
    try:
        from orchestrator.measure.runners.android.connection import list_phones as list_android_phones

        for a in list_android_phones():
            phones.append(ConnectedPhone("android", a.serial, a.model, a.os, a.name, _matches(devices, "android", "model", a.model), a.problem))
    except (UserError, ImportError) as exc:
        notes.append(f"Android phones not searched: {exc}")
    try:
        from orchestrator.measure.runners.ios.connection import list_phones as list_iphones

        for i in list_iphones():
            phones.append(ConnectedPhone("ios", i.serial, i.model, i.os, i.name, _matches(devices, "ios", "product_type", i.model), i.problem))
    except (UserError, ImportError) as exc:
        notes.append(f"iPhones not searched: {exc}")
    return phones, notes
