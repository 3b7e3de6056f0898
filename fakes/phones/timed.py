"""The simulated phone's second truth: the real program timed on this machine, for end-to-end realism.

The world (`world.py`) prices a network from a committed LUT's entries: exact, instant, and blind to
what a real program does that a table does not (its runtime's fusion, its kernels' choices). In this
mode each program the phone is given is timed for real, once (by its sha256), by the host runner
(ExecuTorch on this machine's CPU, one thread: `orchestrator.measure.runners.host`), and its median
times the phone's `speed` is its quiet time; the phone's conditions then move it as they move the
world's. It costs real seconds per new program, so the world stays the benchmark's default.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from orchestrator.export.cache import fingerprint
from orchestrator.measure.devices import get_device
from orchestrator.measure.session import run_session
from orchestrator.measure.timing import TimingPlan

TIMING = TimingPlan(warmup_runs=3, warmup_s=0.05, runs=15, min_s=0.2)  # a median steady to a percent or two on an idle core


class HostTimed:
    """Each program's median on this machine, times `speed`; a program is timed the first time it is seen."""

    def __init__(self, speed: float, timing: TimingPlan = TIMING) -> None:
        self.speed, self.timing = speed, timing
        self.host_ms: dict[str, float] = {}  # program sha256 -> its median here

    def quiet_ms(self, program: Path, input_shape: Sequence[int]) -> float:
        if program.suffix != ".pte":
            raise LookupError(f"{program.name} is no ExecuTorch program: the timed truth runs programs on this machine, which runs .pte files only")
        digest = fingerprint(program)["artifact_sha256"]
        if digest not in self.host_ms:
            with tempfile.TemporaryDirectory(prefix="timed-truth-") as work:
                result = run_session(get_device("host"), Path(work) / "run", {"net": (program.resolve(), list(input_shape))}, self.timing)
            self.host_ms[digest] = float(result["models"][0]["summary"]["median_ms"])
        return self.host_ms[digest] * self.speed
