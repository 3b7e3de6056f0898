"""What a phone is and what state it is in. Each reading is one function over one `Link`, so that
a connection can run it again whole on a new link (its model, the app's installed version, its ABIs,
its heat, whether its screen is awake and unlocked, which activity is in front, its stay-awake
setting and whether it is on power); `PhoneState` makes the readings through such a connection, and
holds the checks that both a session and `bench doctor` make: the phone's model, its screen, and
(with `HeatGate`) whether it is cool enough to measure."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from orchestrator.measure.runners.android.link import Link
from orchestrator.measure.runners.android.settings import COMPONENT, PACKAGE, AndroidSettings
from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.platform import FoundPhone

T = TypeVar("T")

# How `dumpsys window` says the keyguard is up, across Android versions and vendors.
KEYGUARD_FIELDS = ("mDreamingLockscreen", "isKeyguardShowing", "mShowingLockscreen", "mKeyguardShowing")


def describe(link: Link) -> FoundPhone:
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
class Verdict:
    """Whether a session may start on a phone this hot (`go`), and why, in words for the log and the
    result's heat record."""

    go: bool
    why: str


@dataclass(frozen=True)
class HeatGate:
    """When the phone is cool enough to measure (see `AndroidSettings`): its thermal status, which
    says whether its clocks are lowered, at most `max_thermal_status`; then its battery at most
    `max_battery_c`, or no longer falling (by `settled_c` or more since the reading before), as a
    phone on its charger sits warm and steady. A session that ends above that status ran throttled."""

    max_thermal_status: int
    max_battery_c: float
    settled_c: float

    @classmethod
    def of(cls, settings: AndroidSettings) -> HeatGate:
        return cls(settings.max_thermal_status, settings.max_battery_c, settings.battery_settled_c)

    def throttled(self, heat: Heat) -> bool:
        return heat.status is not None and heat.status > self.max_thermal_status

    @staticmethod
    def throttled_at_all(heat: Heat) -> bool:
        """Whether the phone lowers its clocks at all (thermal status above 0, where it says)."""
        return heat.status is not None and heat.status > 0

    def verdict(self, heat: Heat, earlier: Heat | None) -> Verdict:
        """`heat` judged against this gate, `earlier` being the reading before it (None: none yet)."""
        if self.throttled(heat):
            return Verdict(False, f"thermal status {heat.status} is above {self.max_thermal_status}: the phone is throttled")
        status = "thermal status unknown" if heat.status is None else f"thermal status {heat.status}"
        battery = heat.battery_c
        if battery is None or battery <= self.max_battery_c:
            return Verdict(True, f"{heat}: cool")
        before = earlier.battery_c if earlier is not None else None
        if before is None:
            return Verdict(False, f"battery {battery:g} °C is above {self.max_battery_c:g} °C: reading it again to see whether it still falls")
        if before - battery < self.settled_c:
            return Verdict(True, f"battery {battery:g} °C is above {self.max_battery_c:g} °C but no longer falling ({before:g} °C before), as on a charger; {status}")
        return Verdict(False, f"battery {battery:g} °C is above {self.max_battery_c:g} °C and still falling ({before:g} °C before)")

    def __str__(self) -> str:
        return (
            f"thermal status at most {self.max_thermal_status}, and battery at most {self.max_battery_c:g} °C "
            "or no longer falling"
        )


def read_heat(link: Link) -> Heat:
    status = re.search(r"Thermal Status: (\d+)", link.shell("dumpsys thermalservice | grep 'Thermal Status'"))
    tenths = re.search(r"temperature: (-?\d+)", link.shell("dumpsys battery | grep temperature"))
    return Heat(int(status.group(1)) if status else None, int(tenths.group(1)) / 10 if tenths else None)


def installed_version(link: Link) -> int | None:
    """The benchmark app's versionCode on the phone, or None when it is not installed."""
    found = re.search(r"versionCode=(\d+)", link.shell(f"dumpsys package {PACKAGE} | grep versionCode"))
    return int(found.group(1)) if found else None


def abis(link: Link) -> str:
    """The ABIs the phone runs, comma-separated (`ro.product.cpu.abilist`)."""
    return link.getprop("ro.product.cpu.abilist")


def wakefulness(link: Link) -> str | None:
    """The power manager's state (Awake, Asleep, Dozing, ...), or None when this Android does not say."""
    state = re.search(r"mWakefulness=(\w+)", link.shell("dumpsys power | grep mWakefulness="))
    return state.group(1) if state else None


def lock_screen(link: Link) -> str | None:
    """The `dumpsys window` field that shows the keyguard is up (e.g. `isKeyguardShowing=true`), or
    None when the phone is unlocked."""
    pattern = "|".join(KEYGUARD_FIELDS)
    shown = re.search(rf"\b({pattern})=true", link.shell(f"dumpsys window | grep -E '{pattern}'"))
    return shown.group(0) if shown else None


def covering_activity(link: Link) -> str | None:
    """None when the benchmark app is the resumed activity, else what is resumed instead ('no
    activity' when nothing is)."""
    shown = link.shell("dumpsys activity activities | grep -E 'mResumedActivity|topResumedActivity'")
    if COMPONENT in shown:
        return None
    front = re.search(r"ActivityRecord\{\S+ \S+ (\S+)", shown)
    return front.group(1) if front else "no activity"


# The global setting behind Developer options' "Stay awake", which `svc power stayon` writes too: a
# bit mask of the power sources (1 AC, 2 USB, 4 wireless) on which the screen never turns off, so
# the keyguard never comes up. 7, any of them, is what `svc power stayon true` and the toggle set.
STAY_ON_SETTING = "stay_on_while_plugged_in"
STAY_ON_ANY_POWER = "7"


def stay_on(link: Link) -> str:
    """The stay-awake setting as `settings get` prints it: a number, or "null" where it was never set."""
    return link.shell(f"settings get global {STAY_ON_SETTING}").strip()


def set_stay_on(link: Link, value: str) -> None:
    """Set the stay-awake setting to `value` ("null": delete it, as it was before anyone set it;
    `settings delete` says how many rows it deleted, `put` says nothing)."""
    if value != "null":
        link.shell_silent(f"settings put global {STAY_ON_SETTING} {value}")
        return
    output = link.shell(f"settings delete global {STAY_ON_SETTING}").strip()
    if not re.fullmatch(r"Deleted \d+ rows?", output):
        raise RunnerError(f"`settings delete global {STAY_ON_SETTING}` failed on the phone ({output})")


def on_power(link: Link) -> bool | None:
    """Whether the phone is plugged in (`dumpsys battery`: AC, USB, wireless or dock powered), or
    None when this Android does not say."""
    powered = re.findall(r"^\s*\w+ powered: (true|false)$", link.shell("dumpsys battery | grep powered"), re.MULTILINE)
    return "true" in powered if powered else None


class Calls(Protocol):
    """How a reading reaches the phone: `AndroidConnection.call`, which runs `op` again on a new
    link when the old one drops (see there for `on_timeout`)."""

    def __call__(self, what: str, op: Callable[[Link], T], on_timeout: str | None = None) -> T: ...


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

    def stay_on(self) -> str:
        return self.call("reading the phone's stay-awake setting", stay_on)

    def set_stay_on(self, value: str) -> None:
        self.call("setting the phone's stay-awake setting", lambda link: set_stay_on(link, value))

    def on_power(self) -> bool | None:
        return self.call("asking whether the phone is on power", on_power)

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
