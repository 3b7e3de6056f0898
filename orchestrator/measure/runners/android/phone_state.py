"""What a phone is and what state it is in. Each reading is one function over one `AdbLink`, so that
a connection can run it again whole on a new link (its model, the app's installed version, its ABIs,
its heat, whether its screen is awake and unlocked, which activity is in front); `PhoneState` makes
the readings through such a connection, and holds the checks that both a session and `bench doctor`
make: the phone's model, its screen, and (with `HeatGate`) whether it is cool enough to measure."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from orchestrator.measure.runners.android.adb import AdbLink
from orchestrator.measure.runners.android.settings import COMPONENT, PACKAGE, AndroidSettings
from orchestrator.measure.runners.platform import FoundPhone

T = TypeVar("T")

# How `dumpsys window` says the keyguard is up, across Android versions and vendors.
KEYGUARD_FIELDS = ("mDreamingLockscreen", "isKeyguardShowing", "mShowingLockscreen", "mKeyguardShowing")


def describe(link: AdbLink) -> FoundPhone:
    """The phone at the other end: its ADB serial (HOST:PORT over TCP), model (`ro.product.model`,
    what device entries match on), Android release and build (`ro.build.id`)."""
    release = link.getprop("ro.build.version.release")
    return FoundPhone(link.serial, link.getprop("ro.product.model"), release and f"Android {release}", build=link.getprop("ro.build.id") or None)


def wrong_model(phone: FoundPhone, models: Sequence[str], device_name: str) -> str | None:
    """Why this phone is not one the device entry stands for, or None (an entry that names no model takes any phone)."""
    if not models or phone.model in models:
        return None
    return (
        f"the phone at {phone.serial} is a {phone.model!r}, not the {' / '.join(models)} that device {device_name!r} is; "
        "connect that phone (pick it with BENCH_ADB=usb:SERIAL) or measure on the device entry that matches this one"
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


@dataclass(frozen=True)
class HeatGate:
    """When the phone is cool enough to measure (see `AndroidSettings`): its thermal status at most
    `max_thermal_status` and its battery at most `max_battery_c`; a session that ends above that
    status ran throttled."""

    max_thermal_status: int
    max_battery_c: float

    @classmethod
    def of(cls, settings: AndroidSettings) -> HeatGate:
        return cls(settings.max_thermal_status, settings.max_battery_c)

    def too_hot(self, heat: Heat) -> bool:
        return self.throttled(heat) or (heat.battery_c is not None and heat.battery_c > self.max_battery_c)

    def throttled(self, heat: Heat) -> bool:
        return heat.status is not None and heat.status > self.max_thermal_status

    def __str__(self) -> str:
        return f"thermal status at most {self.max_thermal_status} and battery at most {self.max_battery_c:g} °C"


def read_heat(link: AdbLink) -> Heat:
    status = re.search(r"Thermal Status: (\d+)", link.shell("dumpsys thermalservice | grep 'Thermal Status'"))
    tenths = re.search(r"temperature: (-?\d+)", link.shell("dumpsys battery | grep temperature"))
    return Heat(int(status.group(1)) if status else None, int(tenths.group(1)) / 10 if tenths else None)


def installed_version(link: AdbLink) -> int | None:
    """The benchmark app's versionCode on the phone, or None when it is not installed."""
    found = re.search(r"versionCode=(\d+)", link.shell(f"dumpsys package {PACKAGE} | grep versionCode"))
    return int(found.group(1)) if found else None


def abis(link: AdbLink) -> str:
    """The ABIs the phone runs, comma-separated (`ro.product.cpu.abilist`)."""
    return link.getprop("ro.product.cpu.abilist")


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


class Calls(Protocol):
    """How a reading reaches the phone: `AndroidConnection.call`, which runs `op` again on a new
    link when the old one drops (see there for `on_timeout`)."""

    def __call__(self, what: str, op: Callable[[AdbLink], T], on_timeout: str | None = None) -> T: ...


class PhoneState:
    """The phone's state as a session and `bench doctor` read it, each reading through `call`."""

    def __init__(self, call: Calls, settings: AndroidSettings) -> None:
        self.call = call
        self.settings = settings

    def identity(self) -> FoundPhone:
        return self.call("reading the phone's model", describe)

    def app_version(self) -> int | None:
        return self.call("asking for the app's version", installed_version)

    def abis(self) -> str:
        return self.call("reading the phone's ABIs", abis)

    def heat(self) -> Heat:
        return self.call("reading the phone's temperature", read_heat)

    def covering_activity(self) -> str | None:
        return self.call("asking which app is in front", covering_activity)

    def screen_problem(self) -> str | None:
        """Wake the phone, then the sentence that says why the app could not run in front (asleep,
        locked), or None. `am start` on a locked phone starts the activity behind the keyguard,
        where it is frozen, so this is checked rather than left to the result's timeout."""
        self.call("waking the phone", lambda link: link.shell("input keyevent KEYCODE_WAKEUP"))
        deadline = time.monotonic() + self.settings.wake_timeout_s
        while True:
            state = self.call("asking whether the phone is awake", wakefulness)
            if state is None or state == "Awake":
                break
            if time.monotonic() >= deadline:
                return (
                    f"the phone's screen stays off (mWakefulness={state}) {self.settings.wake_timeout_s:g} s after it was woken; "
                    "press its power button, unlock it and run again"
                )
            time.sleep(self.settings.poll_interval_s)
        if shown := self.call("asking whether the phone is locked", lock_screen):
            return (
                f"unlock the phone and run again: its lock screen is showing ({shown}), behind which the benchmark app would be frozen "
                "(a screen lock of None keeps it unlocked between sessions)"
            )
        return None
