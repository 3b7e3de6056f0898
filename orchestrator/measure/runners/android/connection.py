"""How the runner reaches an Android phone: `AndroidConnection`, one phone's connection, which
survives drops, and `list_phones`, the phones reachable now.

Phones drop off USB and Wi-Fi, so every phone operation runs through `AndroidConnection.call`, which
reconnects and runs it again from its start when the connection breaks (a push starts that file
over), except an operation that only went silent where the phone may be waiting on its user (an
install, a launch). Where the phones are is one string, `BENCH_ADB` (see `adb.parse_targets`); the
link itself is `adb.AdbLink`, so this is the one place that decides how a phone is reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from orchestrator.measure.runners.android.adb import (
    AdbLink,
    DeviceDisconnected,
    DeviceNotFound,
    DeviceTimeout,
    NotAuthorised,
    Target,
    TlsPairing,
    open_link,
    parse_targets,
    usb_serials,
)
from orchestrator.measure.runners.android.phone_state import describe
from orchestrator.measure.runners.android.settings import AndroidSettings
from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.platform import FoundPhone

T = TypeVar("T")


class AndroidConnection:
    """The connection to one phone: the first of those `settings.address` names (a shelf's runner
    is given one), opened on first use and reopened after a drop."""

    def __init__(self, settings: AndroidSettings) -> None:
        self.settings = settings
        self.target = parse_targets(settings.address)[0]  # the first, when BENCH_ADB names several
        self._link: AdbLink | None = None

    def open(self) -> AdbLink:
        """The link, connecting first when there is none (the first phone on USB is pinned by its
        serial then, so that a reconnect finds this phone even when another was plugged in meanwhile)."""
        if self._link is None:
            s = self.settings
            self._link = open_link(self.target, s.key_path, s.connect_timeout_s, s.auth_timeout_s, s.io_timeout_s)
            if self.target.kind == "usb":
                self.target = Target("usb", serial=self._link.serial)
        return self._link

    @property
    def serial(self) -> str:
        """The serial of the phone connected to (connecting first if need be)."""
        return self.open().serial

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def call(self, what: str, op: Callable[[AdbLink], T], on_timeout: str | None = None) -> T:
        """Run `op` on the phone; when the connection drops, reconnect and run it again from its
        start, up to `reconnects` times. With `on_timeout`, a phone that stays silent is not
        retried: it fails with that sentence, for steps the phone may hold up while it waits on
        its user, where running them again would repeat them."""
        failure: RunnerError | None = None
        for attempt in range(self.settings.reconnects + 1):
            if attempt:
                time.sleep(self.settings.reconnect_delay_s)
            try:
                return op(self.open())
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


def list_phones(settings: AndroidSettings | None = None) -> list[FoundPhone]:
    """The phones reachable now: those BENCH_ADB names (HOST:PORT or usb:SERIAL, comma-separated),
    every phone on USB where it names none (unset or `usb`); each with the address that reaches it
    again (`reach`). Raises DeviceNotFound with the fix when USB cannot be searched at all."""
    settings = settings or AndroidSettings.from_env()
    targets: list[Target] = []
    for target in parse_targets(settings.address):
        found = [target] if target.kind == "tcp" or target.serial else [Target("usb", serial=serial) for serial in usb_serials()]
        targets += [t for t in found if t not in targets]
    phones = []
    for each in targets:
        reach = {"address": each.address}
        try:
            link = open_link(each, settings.key_path, settings.connect_timeout_s, settings.auth_timeout_s, settings.io_timeout_s)
        except (DeviceNotFound, DeviceDisconnected, NotAuthorised, TlsPairing) as exc:
            phones.append(FoundPhone(each.serial or str(each), None, None, problem=str(exc), reach=reach))
            continue
        try:
            phones.append(replace(describe(link), reach=reach))
        finally:
            link.close()
    return phones
