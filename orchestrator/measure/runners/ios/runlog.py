"""runner.log of an iOS session: the runner's own steps, and the device syslog lines that belong to
the benchmark app."""

from __future__ import annotations

import posixpath
from collections import deque
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pymobiledevice3.services.os_trace import SyslogEntry


class RunLog:
    """runner.log: the runner's own steps, and the device syslog lines that belong to the app (its
    process, or any process naming its bundle id, such as SpringBoard refusing to launch it).
    Lines that arrive before the launch returns the app's pid wait in a bounded buffer."""

    def __init__(self, file: IO[str], bundle_id: str) -> None:
        self.file, self.bundle_id = file, bundle_id
        self.pid: int | None = None
        self.waiting: deque[SyslogEntry] = deque(maxlen=10_000)

    def step(self, text: str) -> None:
        self._write(f"[runner] {text}")

    def app_started(self, pid: int) -> None:
        self.pid = pid
        self.flush()

    def entry(self, entry: SyslogEntry) -> None:
        if self.pid is None:
            self.waiting.append(entry)
        elif self._belongs(entry):
            self._write(self._format(entry))

    def flush(self) -> None:
        while self.waiting:
            entry = self.waiting.popleft()
            if self._belongs(entry):
                self._write(self._format(entry))

    def _belongs(self, entry: SyslogEntry) -> bool:
        return entry.pid == self.pid or self.bundle_id in entry.message

    @staticmethod
    def _format(entry: SyslogEntry) -> str:
        return f"{entry.timestamp.isoformat(timespec='milliseconds')} {posixpath.basename(entry.filename)}[{entry.pid}] <{entry.level.name}>: {entry.message}"

    def _write(self, line: str) -> None:
        self.file.write(line.rstrip("\n") + "\n")
        self.file.flush()
