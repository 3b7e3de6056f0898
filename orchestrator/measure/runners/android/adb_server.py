"""The second transport behind `link.Link`: a running adb server (Android Studio's, or one any `adb`
command started), spoken to with its host protocol on 127.0.0.1 through adbutils.

An adb server claims every phone on USB for itself, so while one runs, adb-shell cannot open them
(libusb says the interface is busy) and the user would have to stop the server, then start it again
for Android Studio, and so on. Instead, where a server runs and holds the phone, the runner speaks
to the phone through it: the server's key is the one the phone trusts, and the same shell, sync and
stat requests travel over its transport. Where no server runs, adb-shell goes straight to the phone.

The toolkit never starts a server: adbutils would start one (with the adb binary it bundles) when
none answers, which here would take the phones away from the very route that needs none, so its
connection is made without that fallback (`_Connection`). A server is found by a TCP connect to
127.0.0.1 on the port the platform adb uses, `ANDROID_ADB_SERVER_PORT` or 5037 (adbutils is
imported only once one answers), then asked its version, which tells it from another program on the port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from infra.files import write_bytes_atomic
from orchestrator.measure.runners.android.link import CappedBuffer, DeviceDisconnected, Link, NotAuthorised, translated
from orchestrator.measure.runners.base import RunnerError

SERVER_HOST = "127.0.0.1"

T = TypeVar("T")


@dataclass(frozen=True)
class ServerPhone:
    """A phone as the server lists it (`adb devices -l`): its serial, its state (device,
    unauthorized, offline, no permissions, ...) and whether it is on USB (it has a `usb:` path)."""

    serial: str
    state: str
    usb: bool


@dataclass(frozen=True)
class AdbServer:
    """An adb server that answered on 127.0.0.1:`port`, with its protocol version (41: adb 1.0.41)."""

    port: int
    version: int

    def __str__(self) -> str:
        return f"the adb server on {SERVER_HOST}:{self.port} (adb 1.0.{self.version})"

    def phones(self, timeout_s: float) -> list[ServerPhone]:
        listed = _do(self, "listing its phones", lambda: _client(self.port, timeout_s).list(extended=True))
        return [ServerPhone(info.serial, info.state, "usb" in info.tags) for info in listed]


def find_server(port: int, timeout_s: float) -> AdbServer | None:
    """The adb server listening on 127.0.0.1:`port`, or None when nothing answers there as one."""
    try:
        socket.create_connection((SERVER_HOST, port), timeout=min(timeout_s, 1.0)).close()
    except OSError:
        return None  # nothing listens: no adb server runs (the usual case, and no adbutils import)
    from adbutils.errors import AdbError

    try:
        version = _client(port, timeout_s).server_version()
    except (AdbError, OSError, EOFError, ValueError):
        return None  # something else listens there
    return AdbServer(port, version)


def _client(port: int, timeout_s: float) -> Any:
    """An adbutils client of the server on `port` that never starts a server of its own, every
    socket of which gives up after `timeout_s` of silence (a shell command sets its own)."""
    from adbutils import AdbClient, AdbConnection

    class _Connection(AdbConnection):
        def _safe_connect(self) -> socket.socket:
            return self._create_socket()  # adbutils' own would run `adb start-server` when this fails

    class _Client(AdbClient):
        def make_connection(self, timeout: float | None = None) -> AdbConnection:
            connection = _Connection(self.host, self.port)
            connection.conn.settimeout(timeout_s)
            return connection

    return _Client(SERVER_HOST, port)


def _failures() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...], type[BaseException]]:
    """adbutils' exceptions by kind: silence, a broken wire or a server gone, any other refusal."""
    from adbutils.errors import AdbConnectionError, AdbError, AdbTimeout

    return (AdbTimeout, TimeoutError), (AdbConnectionError, OSError, EOFError), AdbError


def _do(where: AdbServer | ServerLink, what: str, op: Callable[[], T]) -> T:
    """`op`, with adbutils' failures turned into ours: silence is a `DeviceTimeout`, a broken wire
    or a server that went away a `DeviceDisconnected` (a reconnect chooses the route again), a phone
    the server calls unauthorised `NotAuthorised`, and a phone it lost (not found, offline) a
    `DeviceDisconnected`, as it may well come back."""
    silent, dropped, refused = _failures()
    try:
        return translated(where, what, op, silent, dropped)
    except refused as exc:
        if "unauthorized" in str(exc):
            raise NotAuthorised(unauthorised(str(where))) from None
        raise DeviceDisconnected(f"{where} could not reach the phone while {what} ({exc})") from None


def unauthorised(phone: str) -> str:
    return (
        f"{phone} has not authorised the adb server's key; unlock it, accept the 'Allow USB debugging?' prompt "
        "(tick 'Always allow from this computer') and run again"
    )


def _sync_refusal(exc: BaseException, remote: str) -> bool | None:
    """Whether adbutils raised for the phone's FAIL answer on the sync service (a push or pull the
    phone refused: True), for a sync stream that made no sense (a corrupted transport: False), or
    for neither (None, left to `_do`). Its sync code raises AdbError("FAIL") after a refused push
    and AdbError(message, remote) on a refused pull; every other AdbError of a sync ("Invalid sync
    cmd", a short chunk, another status than OKAY) means the bytes arrived garbled."""
    from adbutils.errors import AdbConnectionError, AdbError, AdbTimeout

    if not isinstance(exc, AdbError) or isinstance(exc, (AdbTimeout, AdbConnectionError)):
        return None
    return exc.args == ("FAIL",) or (len(exc.args) == 2 and exc.args[1] == remote)


def _garbled(link: ServerLink, what: str, exc: BaseException) -> DeviceDisconnected:
    return DeviceDisconnected(f"the connection to {link} broke while {what} (AdbError: a garbled sync stream, {exc})")


class ServerLink(Link):
    """A `Link` through a running adb server to the phone it holds as `serial`."""

    def __init__(self, server: AdbServer, serial: str, io_timeout_s: float, route: str) -> None:
        self.server, self.serial, self.io_timeout_s, self.route = server, serial, io_timeout_s, route
        self._device = _client(server.port, io_timeout_s).device(serial)

    def __str__(self) -> str:
        return f"the phone {self.serial} through {self.server}"

    def shell(self, command: str, timeout_s: float | None = None) -> str:
        timeout = timeout_s or self.io_timeout_s
        return _do(self, f"running `{command}`", lambda: self._device.shell(command, timeout=timeout, rstrip=False))

    def push(self, local: Path, remote: str, mode: int = 0o644) -> None:
        if not local.is_file():
            raise RunnerError(f"{local} does not exist, so it cannot be pushed to the phone; export the model again")

        def send() -> None:
            try:
                self._device.sync.push(local, remote, mode=mode)
            except Exception as exc:
                refused = _sync_refusal(exc, remote)
                if refused:
                    raise RunnerError(f"the phone refused the push of {local.name} to {remote}; check that the folder is writable by adb") from None
                if refused is False:
                    raise _garbled(self, f"pushing {local.name}", exc) from None
                raise

        _do(self, f"pushing {local.name}", send)

    def pull(self, remote: str, local: Path, max_bytes: int) -> None:
        buffer = CappedBuffer(remote, max_bytes)

        def receive() -> None:
            try:
                for chunk in self._device.sync.iter_content(remote):
                    buffer.write(chunk)
            except RunnerError:
                raise
            except Exception as exc:
                refused = _sync_refusal(exc, remote)
                if refused:
                    raise RunnerError(f"the phone cannot hand over {remote} ({exc.args[0]}); the app may have written it elsewhere") from None
                if refused is False:
                    raise _garbled(self, f"pulling {remote}", exc) from None
                raise

        _do(self, f"pulling {remote}", receive)
        write_bytes_atomic(local, buffer.getvalue())

    def size(self, remote: str) -> int | None:
        info = _do(self, f"looking for {remote}", lambda: self._device.sync.stat(remote))
        return info.size if info.mode != 0 else None  # mode 0: no such file

    def close(self) -> None:
        """Every request opens a socket of its own to the server and closes it, so nothing stays open."""
