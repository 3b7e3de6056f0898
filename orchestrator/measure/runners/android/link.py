"""Our own narrow interface to a phone's adbd, whichever transport reaches it (`Link`: shell / push /
pull / stat, the phone's serial), and the kinds of failure every transport's own leave as
(`translated`), because the runner treats them differently:

- `DeviceNotFound` / `NotAuthorised` / `AdbKeyError`: nothing to retry; the message says what the user must do;
- `DeviceDisconnected`: the connection broke mid-operation; the runner reconnects and retries;
  `DeviceTimeout`, its kind where the wire only went silent, is retried the same way except by
  operations that a phone may legitimately hold up (an install waiting on a prompt, a launch);
- `RunnerError`: the phone answered, but with a failure (a push it refused, a file it lacks).

The transports: adb-shell straight to the phone (`adb.py`) and a running adb server (`adb_server.py`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.measure.runners.base import RunnerError

T = TypeVar("T")


class DeviceNotFound(RunnerError):
    """No phone answered where we looked."""


class NotAuthorised(RunnerError):
    """The phone did not accept this computer's ADB key."""


class DeviceDisconnected(RunnerError):
    """The connection broke during an operation; a new connection may well succeed."""


class DeviceTimeout(DeviceDisconnected):
    """The phone stayed silent past the operation's timeout. Usually a dead link, but a phone that
    waits on its user (an 'Install via USB' prompt, a launch behind a dialog) is silent too, and
    running such an operation again would only repeat it (a second install, a launch that kills
    the first): callers that know which it is catch this kind apart."""


def translated(
    where: object, what: str, op: Callable[[], T], silent: tuple[type[BaseException], ...], dropped: tuple[type[BaseException], ...],
) -> T:
    """`op`, with a transport's failures turned into ours, as both transports say them (adb-shell
    straight to the phone's adbd, adbutils through an adb server): silence (`silent`) is a
    `DeviceTimeout`, a broken wire (`dropped`) a `DeviceDisconnected`, each naming `where` and what
    was being done."""
    try:
        return op()
    except silent as exc:
        raise DeviceTimeout(f"{where} stayed silent while {what} ({type(exc).__name__}: {exc})") from None
    except dropped as exc:
        raise DeviceDisconnected(f"the connection to {where} broke while {what} ({type(exc).__name__}: {exc})") from None


class Link(ABC):
    """One authenticated connection to one phone, whichever way it goes (`route`): what every
    reading and session step is written against. `io_timeout_s` is how long the wire may stay
    silent before the connection counts as dropped; slow commands pass their own `timeout_s`."""

    serial: str  # the phone's ADB serial (HOST:PORT over TCP), what a lock and a record are named after
    route: str  # how this link reaches the phone, for `bench doctor` and the log
    io_timeout_s: float

    @abstractmethod
    def shell(self, command: str, timeout_s: float | None = None) -> str:
        """The command's output (stdout and stderr together, as the ADB shell service gives them)."""

    @abstractmethod
    def push(self, local: Path, remote: str, mode: int = 0o644) -> None:
        """Copy `local` to `remote` whole; `mode` lets the app, another user than adb's, read it."""

    @abstractmethod
    def pull(self, remote: str, local: Path, max_bytes: int) -> None:
        """Copy `remote` into `local` through a temporary file, so an interrupted pull leaves no half
        file; a phone that sends more than `max_bytes` (whatever its STAT said) is cut off there and
        nothing is kept (`TooLarge`)."""

    @abstractmethod
    def size(self, remote: str) -> int | None:
        """The size of `remote` in bytes, or None when it does not exist (the sync service's STAT)."""

    @abstractmethod
    def close(self) -> None: ...

    def shell_silent(self, command: str) -> None:
        """Run a command that prints nothing when it succeeds (rm, chmod): the ADB shell service
        reports no exit status, so any output is the error."""
        output = self.shell(command).strip()
        if output:
            raise RunnerError(
                f"`{command}` failed on the phone ({output}); fix that on the phone, or set AndroidSettings.remote_root to a folder "
                "that adb may write and the app may read under scoped storage: one under /data/local/tmp/, "
                "or the app's own /sdcard/Android/data/org.autovit.bench/files/"
            )

    def getprop(self, name: str) -> str:
        return self.shell(f"getprop {name}").strip()


class TooLarge(RunnerError):
    """The phone sent more of a file than it can hold, or than its STAT said."""

    def __init__(self, remote: str, max_bytes: int) -> None:
        super().__init__(
            f"the phone sent more than {max_bytes:,} bytes of {remote}, more than it can be, so the pull was stopped and nothing kept; "
            "rebuild and reinstall the app from this checkout (android_bench/README.md)"
        )


class CappedBuffer(BytesIO):
    """Where a pull lands: refuses to grow past `max_bytes`, so a phone cannot fill memory or disk."""

    def __init__(self, remote: str, max_bytes: int) -> None:
        super().__init__()
        self.remote, self.max_bytes = remote, max_bytes

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.max_bytes:
            raise TooLarge(self.remote, self.max_bytes)
        return super().write(data)
