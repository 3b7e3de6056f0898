"""The first transport to a phone's adbd: adb-shell straight to the phone over TCP or USB (`AdbLink`,
a `link.Link`).

adb-shell (last released 2023) is wrapped here so that the Android runner never sees its classes or
exceptions; the second transport, a running adb server (`adb_server.py`, through adbutils), stands
beside it behind the same `Link`, and `connection.py` chooses between them. Its failures leave as the
kinds `link.py` names.

Where to find the phones is one string, the `BENCH_ADB` variable (see `targets.parse_targets`).
"""

from __future__ import annotations

import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from adb_shell import exceptions as adb_errors
from adb_shell.adb_device import AdbDevice, AdbDeviceUsb
from adb_shell.transport.tcp_transport import TcpTransport

from infra.files import write_bytes_atomic
from orchestrator.measure.runners.android.keys import AdbKeyError, LazySigner
from orchestrator.measure.runners.android.link import (
    CappedBuffer,
    DeviceDisconnected,
    DeviceNotFound,
    Link,
    NotAuthorised,
    translated,
)
from orchestrator.measure.runners.android.targets import Target
from orchestrator.measure.runners.base import RunnerError

WIRELESS = "or use wireless debugging and set BENCH_ADB=HOST:PORT"

T = TypeVar("T")


class TlsPairing(RunnerError):
    """The phone's adbd asked to switch to TLS (Android 11+ wireless debugging), which adb-shell cannot."""


TLS_HELP = (
    "this phone's wireless debugging uses TLS pairing (Android 11+), which only an adb server speaks: "
    "`adb pair` and `adb connect` it, then leave BENCH_ADB unset (or set it to the serial `adb devices` lists); "
    "or over USB run `adb tcpip 5555` once and set BENCH_ADB=PHONE_IP:5555"
)


# What adb-shell raises when the wire, not the phone, failed: a reset or closed socket, a silent
# peer, a USB transfer error, or a stream so garbled that only a fresh connection can resync it.
_DROPPED = (
    OSError,
    adb_errors.TcpTimeoutException,
    adb_errors.AdbTimeoutError,
    adb_errors.AdbConnectionError,
    adb_errors.InvalidChecksumError,
    adb_errors.InvalidCommandError,
    adb_errors.InvalidResponseError,
    adb_errors.UsbReadFailedError,
    adb_errors.UsbWriteFailedError,
)


# The part of `_DROPPED` that is silence rather than a broken wire (see `DeviceTimeout`).
_SILENT = (adb_errors.TcpTimeoutException, adb_errors.AdbTimeoutError)


class _Unreachable(Exception):
    """The TCP connection itself could not be made: nothing listens there (kept apart from a
    connection that breaks later, which is worth a retry)."""


class _TcpTransport(TcpTransport):
    """adb-shell's TCP transport with fixes for a flaky link. Its socket is non-blocking and it
    ignores how much `send` took, so a full socket buffer would silently drop the rest of a packet;
    and once the phone closes the socket `recv` returns b"" forever, which adb-shell spins on until
    its read timeout. Here a write goes out whole, end of stream is a disconnect at once, and a
    refused connection is told apart from a broken one. Nagle's algorithm is off, as in the
    platform adb: adb-shell sends a message's header and data apart, and the second would wait for
    the phone's delayed ACK, some 40 ms per message."""

    def connect(self, transport_timeout_s: float | None) -> None:
        try:
            super().connect(transport_timeout_s)
        except OSError as exc:
            raise _Unreachable(str(exc)) from exc
        self._connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def bulk_read(self, numbytes: int, transport_timeout_s: float | None) -> bytes:
        data = super().bulk_read(numbytes, transport_timeout_s)
        if not data:
            raise ConnectionResetError(f"{self._host}:{self._port} closed the connection")
        return data

    def bulk_write(self, data: bytes, transport_timeout_s: float | None) -> int:
        view = memoryview(data)
        sent = 0
        while sent < len(view):
            sent += super().bulk_write(view[sent:], transport_timeout_s)
        return sent


class AdbLink(Link):
    """A `Link` through adb-shell, straight to the phone's adbd, authenticated with the user's key.
    Operations translate adb-shell's exceptions (see the module docstring)."""

    def __init__(self, device: AdbDevice, serial: str, io_timeout_s: float, route: str) -> None:
        self._device = device
        self.serial = serial
        self.io_timeout_s = io_timeout_s
        self.route = route

    def _do(self, what: str, op: Callable[[], T]) -> T:
        return translated(f"the phone {self.serial}", what, op, _SILENT, _DROPPED)

    def shell(self, command: str, timeout_s: float | None = None) -> str:
        timeout = timeout_s or self.io_timeout_s
        return self._do(f"running `{command}`", lambda: self._device.shell(command, transport_timeout_s=timeout, read_timeout_s=timeout))

    def push(self, local: Path, remote: str, mode: int = 0o644) -> None:
        if not local.is_file():
            raise RunnerError(f"{local} does not exist, so it cannot be pushed to the phone; export the model again")
        try:
            self._do(
                f"pushing {local.name}",
                lambda: self._device.push(
                    str(local), remote, st_mode=stat.S_IFREG | mode, transport_timeout_s=self.io_timeout_s, read_timeout_s=self.io_timeout_s
                ),
            )
        except (adb_errors.PushFailedError, adb_errors.AdbCommandFailureException) as exc:
            raise RunnerError(f"the phone refused the push of {local.name} to {remote} ({exc}); check that the folder is writable by adb") from None

    def pull(self, remote: str, local: Path, max_bytes: int) -> None:
        buffer = CappedBuffer(remote, max_bytes)
        try:
            self._do(
                f"pulling {remote}",
                lambda: self._device.pull(remote, buffer, transport_timeout_s=self.io_timeout_s, read_timeout_s=self.io_timeout_s),
            )
            write_bytes_atomic(local, buffer.getvalue())
        except adb_errors.AdbCommandFailureException as exc:
            raise RunnerError(f"the phone cannot hand over {remote} ({exc}); the app may have written it elsewhere") from None

    def size(self, remote: str) -> int | None:
        mode, size, _ = self._do(
            f"looking for {remote}", lambda: self._device.stat(remote, transport_timeout_s=self.io_timeout_s, read_timeout_s=self.io_timeout_s)
        )
        return size if mode != 0 else None  # mode 0: no such file

    def close(self) -> None:
        try:
            self._device.close()
        except _DROPPED:
            pass  # closing a connection that is already gone


def _usb_transport() -> type:
    """adb-shell's USB transport: the Python package libusb1 (adb-shell's `usb` extra, which the
    toolkit depends on) over the system's libusb-1.0, each checked apart so that the sentence names
    the one that is missing; when both are there and the transport still fails, what it raised."""
    try:
        import usb1
    except ImportError:
        raise DeviceNotFound(
            "adb-shell reaches phones on USB through the Python package libusb1 (its usb extra), which is not installed; "
            f"install it with `.venv/bin/pip install 'adb-shell[usb]'`, {WIRELESS}"
        ) from None
    try:
        usb1.loadLibrary()
    except OSError as exc:
        raise DeviceNotFound(
            f"adb-shell reaches phones on USB through the system's libusb-1.0, which does not load ({exc}); install it "
            f"(`sudo apt install libusb-1.0-0`, `brew install libusb`), {WIRELESS}"
        ) from None
    try:
        from adb_shell.transport.usb_transport import UsbTransport
    except Exception as exc:  # what adb-shell's USB transport raises when it loads: libusb1 and libusb-1.0 are both there
        raise DeviceNotFound(
            f"adb-shell's USB transport does not load ({type(exc).__name__}: {exc}); reinstall the versions "
            f"the toolkit is tested with (`.venv/bin/pip install -e . -c constraints.txt`), {WIRELESS}"
        ) from None
    return UsbTransport


def _usb_error_hint(exc: Exception) -> str | None:
    """Why a USB phone that is present cannot be opened, when libusb says so precisely."""
    import usb1

    if isinstance(exc, usb1.USBErrorBusy):
        return (
            "another program holds its USB interface (an adb server on another port than ANDROID_ADB_SERVER_PORT says, or another tool): "
            "point ANDROID_ADB_SERVER_PORT at that adb server's port, or stop the program, and try again"
        )
    if isinstance(exc, usb1.USBErrorAccess):
        return "this user may not open USB devices: add a udev rule for Android phones (or join the plugdev group) and replug it"
    return None


def usb_serials() -> list[str]:
    """Serials of the phones on USB that offer an ADB interface."""
    transport = _usb_transport()
    import usb1

    try:
        return [each.serial_number for each in transport.find_all_adb_devices()]
    except usb1.USBError as exc:
        raise DeviceNotFound(f"a phone on USB cannot be read: {_usb_error_hint(exc) or f'{exc}; replug it'}") from None


def _usb_device(target: Target, io_timeout_s: float) -> tuple[AdbDevice, str]:
    """The phone with the target's serial, or the first one; its serial is kept so that a
    reconnect finds this phone again even when another one is plugged in meanwhile."""
    _usb_transport()
    import usb1

    missing = DeviceNotFound(
        f"no Android phone found ({target}); plug it in, enable USB debugging in Developer options, "
        "and choose 'File transfer' if the phone asks what the USB connection is for"
    )
    serial = target.serial or next(iter(usb_serials()), None)
    if serial is None:
        raise missing
    try:
        return AdbDeviceUsb(serial=serial, default_transport_timeout_s=io_timeout_s), serial
    except adb_errors.UsbDeviceNotFoundError:
        raise missing from None
    except usb1.USBError as exc:
        raise DeviceNotFound(f"{target} cannot be opened: {_usb_error_hint(exc) or f'{exc}; replug it'}") from None


def open_link(target: Target, key_path: Path, connect_timeout_s: float, auth_timeout_s: float, io_timeout_s: float, route: str) -> AdbLink:
    """Connect and authenticate with the user's key; the phone shows its 'Allow USB debugging?'
    prompt the first time, and we wait `auth_timeout_s` for the user to accept it."""
    signer = LazySigner(key_path)
    if target.kind == "tcp":
        device, serial = AdbDevice(_TcpTransport(target.host, target.port), default_transport_timeout_s=io_timeout_s), str(target)
        failures = _DROPPED
    else:
        device, serial = _usb_device(target, io_timeout_s)
        import usb1

        failures = (*_DROPPED, usb1.USBError)  # opening the interface raises libusb's errors as they are
    prompted = []  # adb-shell calls back just before it offers our public key, which makes the phone ask the user
    try:
        device.connect(rsa_keys=[signer], transport_timeout_s=connect_timeout_s, auth_timeout_s=auth_timeout_s, auth_callback=prompted.append)
    except _Unreachable as exc:
        raise DeviceNotFound(
            f"no phone answers ADB at {target} ({exc}); enable wireless debugging (or run `adb tcpip 5555` over USB) "
            "and check the address in BENCH_ADB"
        ) from None
    except AdbKeyError:
        device.close()
        raise
    except adb_errors.InvalidCommandError as exc:
        device.close()
        if "'STLS'" in str(exc):  # adb-shell knows no STLS command, so the phone's request to start TLS arrives as an unknown one
            raise TlsPairing(TLS_HELP) from None
        raise DeviceDisconnected(
            f"the connection to {target} broke during the ADB handshake (InvalidCommandError: {exc}); replug the phone (or check its Wi-Fi) and run again"
        ) from None
    except failures as exc:
        device.close()
        if prompted:
            raise NotAuthorised(
                f"the phone at {target} did not authorise this computer within {auth_timeout_s:g} s; unlock it, accept the "
                "'Allow USB debugging?' prompt (tick 'Always allow from this computer') and run again"
            ) from None
        if target.kind == "usb" and (hint := _usb_error_hint(exc)):
            raise DeviceNotFound(f"{target} is connected but cannot be opened: {hint}") from None
        raise DeviceDisconnected(
            f"the connection to {target} broke during the ADB handshake ({type(exc).__name__}: {exc}); replug the phone (or check its Wi-Fi) and run again"
        ) from None
    return AdbLink(device, serial, io_timeout_s, route)
