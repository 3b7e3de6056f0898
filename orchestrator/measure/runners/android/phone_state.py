"""What a phone is and what state it is in, each read over one `AdbLink` so that the runner can
retry a reading whole on a new connection: its model, the app's installed version, its heat, whether
its screen is awake and unlocked, and which activity is in front."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from orchestrator.measure.runners.android.adb import AdbLink
from orchestrator.measure.runners.android.settings import COMPONENT, PACKAGE

# How `dumpsys window` says the keyguard is up, across Android versions and vendors.
KEYGUARD_FIELDS = ("mDreamingLockscreen", "isKeyguardShowing", "mShowingLockscreen", "mKeyguardShowing")


@dataclass(frozen=True)
class AndroidDeviceInfo:
    """A phone as `bench devices` shows it: its ADB serial (HOST:PORT over TCP), model
    (`ro.product.model`, what device entries match on) and Android release; when the phone cannot
    be opened (not authorised, gone), `problem` says why and what to do, and model and os are None.
    `build` (`ro.build.id`) goes into a LUT's provenance; `address` is how to reach this phone again
    (`BENCH_ADB` syntax), set by the listing."""

    serial: str
    model: str | None
    os: str | None
    problem: str | None = None
    build: str | None = None
    address: str | None = None


def describe(link: AdbLink) -> AndroidDeviceInfo:
    return AndroidDeviceInfo(
        link.serial, link.getprop("ro.product.model"), link.getprop("ro.build.version.release"), build=link.getprop("ro.build.id") or None
    )


@dataclass(frozen=True)
class Heat:
    """How hot the phone is: its thermal status (None on Android before 10, which has no thermal
    service) and its battery temperature, the best skin-temperature proxy adb can read."""

    status: int | None
    battery_c: float | None

    def __str__(self) -> str:
        status = "unknown" if self.status is None else str(self.status)
        battery = "unknown" if self.battery_c is None else f"{self.battery_c:g} °C"
        return f"thermal status {status}, battery {battery}"

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "battery_c": self.battery_c}


def read_heat(link: AdbLink) -> Heat:
    status = re.search(r"Thermal Status: (\d+)", link.shell("dumpsys thermalservice | grep 'Thermal Status'"))
    tenths = re.search(r"temperature: (-?\d+)", link.shell("dumpsys battery | grep temperature"))
    return Heat(int(status.group(1)) if status else None, int(tenths.group(1)) / 10 if tenths else None)


def installed_version(link: AdbLink) -> int | None:
    """The benchmark app's versionCode on the phone, or None when it is not installed."""
    found = re.search(r"versionCode=(\d+)", link.shell(f"dumpsys package {PACKAGE} | grep versionCode"))
    return int(found.group(1)) if found else None


def wakefulness(link: AdbLink) -> str | None:
    """The power manager's state (Awake, Asleep, Dozing, ...), or None when this Android does not say."""
    state = re.search(r"mWakefulness=(\w+)", link.shell("dumpsys power | grep mWakefulness="))
    return state.group(1) if state else None


def lock_screen(link: AdbLink) -> str | None:
    """The `dumpsys window` field that shows the keyguard is up (e.g. `isKeyguardShowing=true`), or
    None when the phone is unlocked."""
    pattern = "|".join(KEYGUARD_FIELDS)
    shown = re.search(rf"\b({pattern})=true", link.shell(f"dumpsys window | grep -E '{pattern}'"))
    return shown.group(0) if shown else None


def covering_activity(link: AdbLink) -> str | None:
    """None when the benchmark app is the resumed activity, else what is resumed instead ('no
    activity' when nothing is)."""
    shown = link.shell("dumpsys activity activities | grep -E 'mResumedActivity|topResumedActivity'")
    if COMPONENT in shown:
        return None
    front = re.search(r"ActivityRecord\{\S+ \S+ (\S+)", shown)
    return front.group(1) if front else "no activity"
