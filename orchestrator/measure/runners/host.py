"""The host runner: runs a run directory in a child process on this machine's CPU; and `HOST`, the
platform it serves."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from infra.locks import queued
from infra.processes import own_main_only
from orchestrator.export.cache import cache_root
from orchestrator.measure.contract import read_json
from orchestrator.measure.progress import wait_shown
from orchestrator.measure.runners.base import Check, Diagnosis, Finding, Runner, RunnerError, Step
from orchestrator.measure.runners.platform import DeviceEntry, Platform
from orchestrator.measure.steady import DISTURBED

BUSY_LOAD = 0.75  # a 1-minute load average above most of a core (or a quarter of the cores) is other work


def stderr_log(message: str) -> None:
    print(f"host: {message}", file=sys.stderr, flush=True)


class HostRunner(Runner):
    platform = "host"

    def __init__(self, timeout_s: float = 3600.0, threads: int = 1, log: Callable[[str], None] = stderr_log) -> None:
        self.timeout_s, self.threads, self.log = timeout_s, threads, log

    def keep_ready(self, job_dir: Path) -> AbstractContextManager[None]:
        """One timing job at a time on this machine: two at once share its cores and caches and
        measure neither (two profiles at once gave a LUT whose entries summed below zero), so a
        second job (a profile, a validation, a measurement, from any process of this user) waits
        for the first to end, as a phone's sessions wait on its lock."""
        return queued(cache_root() / "locks" / "host-timing.lock", "this machine's CPU for timing", wait_shown(self.log))

    def diagnose(self) -> list[Check]:
        return Diagnosis([
            Step("ExecuTorch runtime loads", _runtime_loads), Step("thread count", self._threads_fit), Step("nothing else running", _quiet),
        ]).walk()

    def _threads_fit(self) -> str:
        cores = os.cpu_count() or 1
        detail = f"{self.threads} thread(s) on {cores} core(s)"
        if not 0 <= self.threads <= cores:
            raise Finding(detail, f"set runtime.threads to at most {cores} in your devices file")
        return detail

    def run(self, run_dir: Path) -> dict[str, Any]:
        result_path = run_dir / "result.json"
        result_path.unlink(missing_ok=True)
        log_path = run_dir / "runner.log"
        proc = _sessions().Process(target=_session, args=(run_dir.resolve(), log_path.resolve()), name=f"host session {run_dir.name}")
        with own_main_only():
            proc.start()
        try:
            proc.join(timeout=self.timeout_s)
        except BaseException:
            proc.kill()
            proc.join()
            raise
        if proc.exitcode is None:
            proc.kill()
            proc.join()
            raise RunnerError(f"the host runner did not finish within {self.timeout_s:.0f} s; see {log_path}")
        code = proc.exitcode
        if not result_path.exists():
            log = f"see {log_path}" if log_path.is_file() else "it wrote no log: it ended while it started (out of memory, or killed)"
            raise RunnerError(f"the host runner exited with code {code} without writing a result; {log}")
        result = read_json(result_path, "result")
        if result["status"] != "ok":
            raise RunnerError(f"the host runner failed: {result['error']} (run directory {run_dir})")
        return result


def _sessions() -> multiprocessing.context.ForkServerContext:
    """Where sessions start: a server process of this command that has imported the timing child
    (torch and the runtime) and forks each session from itself, so a session starts in milliseconds
    instead of importing torch again (2.3 s of CPU; a profile runs dozens of sessions). It imports
    nothing else: neither the command's own modules nor its state reach a session."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["orchestrator.measure.runners.host_child"])
    return context


def _session(run_dir: Path, log_path: Path) -> None:
    """The session's entry in the forked process (the timing child is imported there, not here)."""
    from orchestrator.measure.runners.host_child import session

    session(run_dir, log_path)


def _runtime_loads() -> str:
    try:
        from executorch.runtime import Runtime

        Runtime.get()
    except Exception as exc:  # an import or loader failure of any kind means no measurement
        raise Finding(f"{type(exc).__name__}: {exc}", "reinstall with ./scripts/setup.sh (it pins executorch==1.5.1)") from None
    return f"executorch {version('executorch')}"


def machine_load(seconds: float = 2.0, chunk_s: float = 0.25) -> tuple[float, float]:
    """(the 1-minute load average, how far this machine's speed moved over `seconds`): a fixed small
    workload timed in chunks of `chunk_s`, (slowest - quickest) / median of the chunks' medians. A
    burst of other work slows whole chunks (on the development VM 1.6-1.8x for 0.5-2 s)."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((96, 96)).astype(np.float32)
    medians = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        stop, times = time.perf_counter() + chunk_s, []
        while time.perf_counter() < stop:
            start = time.perf_counter_ns()
            a @ a
            times.append(time.perf_counter_ns() - start)
        medians.append(statistics.median(times))
    return os.getloadavg()[0], (max(medians) - min(medians)) / statistics.median(medians)


def _quiet() -> str:
    """Whether anything else runs on this machine now: a profile or a validation timed beside other
    work is disturbed (a busy machine's quick profile found 65 of 69 entries wide, one at -4.8 ms)."""
    cores = os.cpu_count() or 1
    load, spread = machine_load()
    detail = f"load average {load:.2f} over the last minute on {cores} core(s); speed moved {spread:.0%} over 2 s"
    if load > max(BUSY_LOAD, 0.25 * cores) or spread > DISTURBED - 1:
        raise Finding(
            detail, "other work is running on this machine: close it, or wait until it ends, before a profile or a validation (they would "
            "time it with their networks); a search's measurement is scaled by the LUT's anchor network, a profile's entries are not",
        )
    return detail


def _host_runner(entry: DeviceEntry, **overrides: Any) -> HostRunner:
    return HostRunner(threads=entry.threads)  # one CPU: nothing to pick, no waits to show


def _int8(checks: list[Check]) -> Check:
    """This machine runs int8 programs on the installed ExecuTorch's XNNPACK kernels, the runtime the
    float programs run on."""
    return Check("int8 operators in the runtime", True, f"ExecuTorch {version('executorch')}'s XNNPACK int8 kernels")


HOST = Platform("host", format="pte", what="this machine", build=_host_runner, int8=_int8)
