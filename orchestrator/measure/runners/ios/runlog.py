"""runner.log of an iOS session or job: the runner's own steps, the waits it also shows as they
happen, and (when asked for) the device log lines of the benchmark app's own process."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pymobiledevice3.services.os_trace import SyslogEntry


class RunLog:
    """runner.log: the runner's own steps, and the syslog entries of the app's process. The stream is
    asked for that pid only; entries of any other pid are still dropped here, because a phone that
    ignores the filter would otherwise fill the log with every process's chatter."""

    def __init__(self, file: IO[str], show: Callable[[str], None] | None = None) -> None:
        self.file, self.show = file, show
        self.pid: int | None = None

    def step(self, text: str) -> None:
        self._write(f"[runner] {text}")

    def say(self, text: str) -> None:
        """A step the user waits on or should know of (a cool-down, a hot phone, the app started,
        stopped or launched again): into the log, and shown as it happens."""
        self.step(text)
        if self.show is not None:
            self.show(text)

    def app_started(self, pid: int) -> None:
        self.pid = pid

    def entry(self, entry: SyslogEntry) -> None:
        if entry.pid == self.pid:
            self._write(f"{entry.timestamp.isoformat(timespec='milliseconds')} {posixpath.basename(entry.filename)}[{entry.pid}] <{entry.level.name}>: {entry.message}")

    def _write(self, line: str) -> None:
        self.file.write(line.rstrip("\n") + "\n")
        self.file.flush()
