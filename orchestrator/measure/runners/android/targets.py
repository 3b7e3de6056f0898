"""Where the phones are: `Target`, one phone as `BENCH_ADB` names it, and the parsing of that
variable (`parse_target`, `parse_targets`), apart from the transports that reach a target."""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.measure.runners.base import RunnerError


@dataclass(frozen=True)
class Target:
    """Where the phone is: `tcp` with host and port, or `usb` with a serial (None: the one phone).

    A `usb` target is a phone by serial, as `adb devices` names it: where an adb server runs, any
    phone it holds, on USB or over wireless debugging (whose TLS only the server speaks, serials
    such as `adb-XXXX._adb-tls-connect._tcp`); where none runs, a phone on USB through libusb."""

    kind: str
    host: str = ""
    port: int = 0
    serial: str | None = None

    def __str__(self) -> str:
        if self.kind == "tcp":
            return f"{self.host}:{self.port}"
        return f"the phone {self.serial}" if self.serial else "the one phone"

    @property
    def address(self) -> str:
        """This target in `BENCH_ADB` syntax, to hand one phone of several to a runner of its own."""
        if self.kind == "tcp":
            return f"{self.host}:{self.port}"
        return f"usb:{self.serial}" if self.serial else "usb"


# A serial as adb lists it (USB serials, `emulator-5554`, mDNS names of wireless-debugging phones):
# no colon, and not an IPv4 address alone, which is a HOST:PORT whose port was forgotten.
_SERIAL = re.compile(r"(?![\d.]+$)[\w.-]+")


def parse_target(address: str | None) -> Target:
    """`HOST:PORT` (`adb tcpip`, an emulator, a phone the adb server holds at that address),
    `SERIAL` or `usb:SERIAL` (a phone `adb devices` lists by that serial), or None / `usb` (the one
    phone there is): the syntax of the `BENCH_ADB` variable."""
    if not address or address == "usb":
        return Target("usb")
    if address.startswith("usb:"):
        return Target("usb", serial=address[4:])
    if _SERIAL.fullmatch(address):
        return Target("usb", serial=address)
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise RunnerError(
            f"BENCH_ADB={address!r} is neither HOST:PORT nor a serial `adb devices` lists; set it to e.g. 192.168.1.20:5555, "
            "a serial, or usb"
        )
    return Target("tcp", host=host, port=int(port))


def parse_targets(address: str | None) -> list[Target]:
    """`BENCH_ADB` may name several phones, comma-separated (a shelf of phones over Wi-Fi): a
    session runs on the first, a profile with `--phones` on any of them."""
    return [parse_target(part.strip()) for part in (address or "usb").split(",") if part.strip()] or [Target("usb")]
