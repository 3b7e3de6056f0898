"""`PhoneConnection`: the runner's connection to one phone, which survives drops. Phones drop off
USB and Wi-Fi, so every phone operation runs through `_call`, which reconnects and runs it again
from its start when the connection breaks (a push starts that file over), except an operation that
only went silent where the phone may be waiting on its user (an install, a launch). The checks that
both a session and `bench doctor` make on the phone live here too: its model, its screen, its heat."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO, TypeVar

from orchestrator.measure.runners.android.adb import (
    AdbLink,
    DeviceDisconnected,
    DeviceNotFound,
    DeviceTimeout,
    Target,
    open_link,
    parse_targets,
)
from orchestrator.measure.runners.android.phone_state import AndroidDeviceInfo, Heat, lock_screen, wakefulness
from orchestrator.measure.runners.android.settings import AndroidSettings
from orchestrator.measure.runners.base import Runner, RunnerError

T = TypeVar("T")


def stderr_log(message: str) -> None:
    print(f"android: {message}", file=sys.stderr, flush=True)


class PhoneConnection(Runner):
    """The connection and shared checks under `AndroidRunner`; see the module docstring."""

    platform = "android"

    def __init__(
        self,
        settings: AndroidSettings | None = None,
        device_name: str = "android",
        models: Sequence[str] = (),
        log: Callable[[str], None] = stderr_log,
    ) -> None:
        """`log` shows the session's waits (a hot phone) as they happen; every line also goes to the
        run directory's runner.log."""
        self.settings = settings or AndroidSettings.from_env()
        self.device_name = device_name
        self.models = tuple(models)
        self.log = log
        self._target = parse_targets(self.settings.address)[0]  # the first, when BENCH_ADB names several
        self._cooldown_key = str(self._target)
        self._link: AdbLink | None = None
        self._log_file: TextIO | None = None

    def _open(self) -> AdbLink:
        s = self.settings
        link = open_link(self._target, s.key_path, s.connect_timeout_s, s.auth_timeout_s, s.io_timeout_s)
        if self._target.kind == "usb":
            self._target = Target("usb", serial=link.serial)  # reconnect to this phone, not whichever is first then
        return link

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def _call(self, what: str, op: Callable[[AdbLink], T], on_timeout: str | None = None) -> T:
        """Run `op` on the phone; when the connection drops, reconnect and run it again from its
        start, up to `reconnects` times. With `on_timeout`, a phone that stays silent is not
        retried: it fails with that sentence, for steps the phone may hold up while it waits on
        its user, where running them again would repeat them."""
        failure: RunnerError | None = None
        for attempt in range(self.settings.reconnects + 1):
            if attempt:
                time.sleep(self.settings.reconnect_delay_s)
            try:
                if self._link is None:
                    self._link = self._open()
                return op(self._link)
            except DeviceTimeout as exc:
                self.close()
                if on_timeout is not None:
                    raise RunnerError(on_timeout) from None
                failure = exc
            except (DeviceDisconnected, DeviceNotFound) as exc:
                self.close()
                failure = exc
        raise DeviceDisconnected(
            f"the phone disconnected while {what} and {self.settings.reconnects} reconnects did not bring it back ({failure}); "
            "check the cable or Wi-Fi, keep the phone awake, and run again"
        )

    def _wrong_model(self, phone: AndroidDeviceInfo) -> str | None:
        if not self.models or phone.model in self.models:
            return None
        return (
            f"the phone at {phone.serial} is a {phone.model!r}, not the {' / '.join(self.models)} that device {self.device_name!r} is; "
            "connect that phone (pick it with BENCH_ADB=usb:SERIAL) or measure on the device entry that matches this one"
        )

    def _say(self, message: str) -> None:
        """A step the user waits on: to `log` and to the run directory's runner.log."""
        if self._log_file is not None:
            self._log_file.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
            self._log_file.flush()
        self.log(message)

    def _too_hot(self, heat: Heat) -> bool:
        s = self.settings
        return (heat.status is not None and heat.status > s.max_thermal_status) or (heat.battery_c is not None and heat.battery_c > s.max_battery_c)

    def _limits(self) -> str:
        return f"thermal status at most {self.settings.max_thermal_status} and battery at most {self.settings.max_battery_c:g} °C"

    def _screen_problem(self) -> str | None:
        """Wake the phone, then the sentence that says why the app could not run in front (asleep,
        locked), or None. `am start` on a locked phone starts the activity behind the keyguard,
        where it is frozen, so this is checked rather than left to the result's timeout."""
        self._call("waking the phone", lambda link: link.shell("input keyevent KEYCODE_WAKEUP"))
        deadline = time.monotonic() + self.settings.wake_timeout_s
        while True:
            state = self._call("asking whether the phone is awake", wakefulness)
            if state is None or state == "Awake":
                break
            if time.monotonic() >= deadline:
                return (
                    f"the phone's screen stays off (mWakefulness={state}) {self.settings.wake_timeout_s:g} s after it was woken; "
                    "press its power button, unlock it and run again"
                )
            time.sleep(self.settings.poll_interval_s)
        if shown := self._call("asking whether the phone is locked", lock_screen):
            return (
                f"unlock the phone and run again: its lock screen is showing ({shown}), behind which the benchmark app would be frozen "
                "(a screen lock of None keeps it unlocked between sessions)"
            )
        return None
