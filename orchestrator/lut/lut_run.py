"""What a profile (`profile.Profiler`) and a transfer (`transfer.Transferer`) share: a run in a
directory of its own that `--resume` continues (`rundir.RunDirectory`), whose sessions
(`sessions.Sessions`) run with every device that measures held ready for the whole run, and which
ends in a LUT. Each says only how it measures (`_measured`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from orchestrator.lut.rundir import RunDirectory
from orchestrator.lut.sessions import Sessions


class LutRun(ABC):
    sessions: Sessions
    directory: RunDirectory

    def run(self, resume: bool = False) -> tuple[dict[str, Any], Path]:
        """Measure and write the LUT; on a finished run, return the LUT it wrote."""
        return self.directory.run(resume, self._measure)

    def _measure(self) -> tuple[dict[str, Any], Path]:
        with self.sessions.unattended():
            return self._measured()

    @abstractmethod
    def _measured(self) -> tuple[dict[str, Any], Path]:
        """Export, measure and attribute with the devices held; return the LUT written and its path."""
