"""How the runner reaches an Android phone: the route (`choose_route`), `AndroidConnection`, one
phone's connection, which survives drops, and `list_phones`, the phones reachable now.

Two routes lead to a phone, behind one `link.Link`: where an adb server runs (Android Studio's, or
any `adb` command's) and holds the phone, through that server (`adb_server.ServerLink`), since it
owns the phones on USB and its key is the one they trust; where none runs, or it does not hold a
phone reached over TCP, adb-shell straight to the phone (`adb.AdbLink`). The route is chosen again
at every connect, so a server that stops or starts during a job is followed. This is the one place
that decides how a phone is reached; nothing above it knows the route but as a sentence.

Phones drop off USB and Wi-Fi, so every phone operation runs through `AndroidConnection.call`, which
reconnects and runs it again from its start when the connection breaks (a push starts that file
over), except an operation that only went silent where the phone may be waiting on its user (an
install, a launch). Where the phones are is one string, `BENCH_ADB` (see `targets.parse_targets`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from orchestrator.measure.runners.android.adb import TlsPairing, open_link, usb_serials
from orchestrator.measure.runners.android.adb_server import SERVER_HOST, AdbServer, ServerLink, ServerPhone, find_server, unauthorised
from orchestrator.measure.runners.android.link import DeviceDisconnected, DeviceNotFound, DeviceTimeout, Link, NotAuthorised
from orchestrator.measure.runners.android.phone_state import describe
from orchestrator.measure.runners.android.settings import AndroidSettings
from orchestrator.measure.runners.android.targets import Target, parse_targets
from orchestrator.measure.runners.base import RunnerError
from orchestrator.measure.runners.platform import FoundPhone

T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """How a phone is reached: through `server` as `serial`, or (server None) adb-shell straight to
    it; `why` is the sentence `bench doctor` shows and the log names."""

    server: AdbServer | None
    serial: str | None
    why: str


def choose_route(target: Target, settings: AndroidSettings) -> Route:
    """Through a running adb server when it holds the phone: as `adb` itself does, the one ready
    phone it holds on any transport (USB, or wireless debugging, whose TLS only the server speaks),
    or the one it lists by the target's serial; an error that says why when it holds none ready, or
    several and the target names none. adb-shell straight to the phone when no server runs, or when
    the server does not hold a phone reached over TCP (whose adbd takes more than one connection)."""
    server = find_server(settings.adb_server_port, settings.connect_timeout_s)
    if server is None:
        way = "over TCP" if target.kind == "tcp" else "over USB (libusb)"
        return Route(None, None, f"adb-shell straight to the phone {way}: no adb server answers on {SERVER_HOST}:{settings.adb_server_port}")
    phones = server.phones(settings.io_timeout_s)
    if target.kind == "tcp":
        if any(p.serial == str(target) and p.state == "device" for p in phones):
            return Route(server, str(target), f"through {server}, which holds {target}")
        return Route(None, None, f"adb-shell straight to the phone over TCP: {server} runs but does not hold {target}")
    named = [p for p in phones if target.serial is None or p.serial == target.serial]
    ready = [p for p in named if p.state == "device"]
    if len(ready) > 1:
        serials = ", ".join(p.serial for p in ready)
        raise DeviceNotFound(
            f"{server} holds {len(ready)} phones ({serials}); pick one with BENCH_ADB=SERIAL, e.g. BENCH_ADB={ready[0].serial}"
        )
    if ready:
        return Route(server, ready[0].serial, f"through {server}, which holds {ready[0].serial}")
    if not named:
        listed = f"it lists {', '.join(p.serial for p in phones)}; set BENCH_ADB to one of them, or " if phones else ""
        raise DeviceNotFound(
            f"no Android phone found ({target}) by {server}; {listed}plug the phone in, enable USB debugging in Developer options "
            "and choose 'File transfer' if it asks what the USB connection is for (for wireless debugging: `adb pair`, then `adb connect`)"
        )
    raise _not_ready(named[0], server)


def _not_ready(phone: ServerPhone, server: AdbServer) -> RunnerError:
    """A phone the server lists but cannot use yet, as the error that says what to do."""
    if phone.state == "unauthorized":
        return NotAuthorised(unauthorised(f"the phone {phone.serial}"))
    if "permission" in phone.state:
        return DeviceNotFound(
            f"{server} may not open the phone {phone.serial} ({phone.state}): add a udev rule for Android phones "
            "(or join the plugdev group), replug it and run `adb kill-server` once so that the server opens it again"
        )
    return DeviceDisconnected(f"{server} has the phone {phone.serial} but it is {phone.state}; replug it and run again")


def open_phone(target: Target, settings: AndroidSettings) -> Link:
    """A link to the phone by the route `choose_route` picks."""
    s = settings
    route = choose_route(target, s)
    if route.server is not None and route.serial is not None:
        return ServerLink(route.server, route.serial, s.io_timeout_s, route.why)
    return open_link(target, s.key_path, s.connect_timeout_s, s.auth_timeout_s, s.io_timeout_s, route.why)


class AndroidConnection:
    """The connection to one phone: the first of those `settings.address` names (a shelf's runner
    is given one), opened on first use and reopened after a drop."""

    def __init__(self, settings: AndroidSettings) -> None:
        self.settings = settings
        self.target = parse_targets(settings.address)[0]  # the first, when BENCH_ADB names several
        self._link: Link | None = None

    def open(self) -> Link:
        """The link, connecting first when there is none, by the route chosen now (the one phone
        there is is pinned by its serial then, so that a reconnect finds this phone even when another
        was plugged in meanwhile)."""
        if self._link is None:
            self._link = open_phone(self.target, self.settings)
            if self.target.kind == "usb":
                self.target = Target("usb", serial=self._link.serial)
        return self._link

    @property
    def serial(self) -> str:
        """The serial of the phone connected to (connecting first if need be)."""
        return self.open().serial

    @property
    def identity(self) -> str:
        """The phone's own serial (`ro.serialno`), the same however it is reached (USB serial or
        IP:5555): what its lock is keyed on, so one phone reached two ways runs one session at a time."""
        return self.call("reading the phone's serial", lambda link: link.getprop("ro.serialno")) or self.serial

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def call(self, what: str, op: Callable[[Link], T], on_timeout: str | None = None) -> T:
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
    """The phones reachable now: those BENCH_ADB names (HOST:PORT or SERIAL, comma-separated),
    every phone there is where it names none (unset or `usb`: those a running adb server lists, on
    any transport, else those libusb finds on USB); each with the address that reaches it again
    (`reach`). Raises DeviceNotFound with the fix when USB cannot be searched at all."""
    settings = settings or AndroidSettings.from_env()
    targets: list[Target] = []
    for target in parse_targets(settings.address):
        found = [target] if target.kind == "tcp" or target.serial else [Target("usb", serial=serial) for serial in _every_phone(settings)]
        targets += [t for t in found if t not in targets]
    phones, seen = [], set()
    for each in targets:
        reach = {"address": each.address}
        try:
            link = open_phone(each, settings)
        except (DeviceNotFound, DeviceDisconnected, NotAuthorised, TlsPairing) as exc:
            phones.append(FoundPhone(each.serial or str(each), None, None, problem=str(exc), reach=reach))
            continue
        try:
            identity = link.getprop("ro.serialno")
            if not identity or identity not in seen:  # one phone reached two ways is listed once
                phones.append(replace(describe(link), reach=reach))
            seen.add(identity)
        finally:
            link.close()
    return phones


def _every_phone(settings: AndroidSettings) -> list[str]:
    """The serials of every phone there is: the running adb server's, on any transport (it holds
    those on USB and over wireless debugging), else libusb's on USB."""
    server = find_server(settings.adb_server_port, settings.connect_timeout_s)
    if server is None:
        return usb_serials()
    return [p.serial for p in server.phones(settings.io_timeout_s)]
