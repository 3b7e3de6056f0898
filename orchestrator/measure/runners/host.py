"""The host runner: runs a run directory in a child process on this machine's CPU; and `HOST`, the
platform it serves."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from orchestrator.measure.contract import read_json
from orchestrator.measure.runners.base import Check, Diagnosis, Finding, Runner, RunnerError, Step
from orchestrator.measure.runners.platform import DeviceEntry, Platform


class HostRunner(Runner):
    platform = "host"

    def __init__(self, timeout_s: float = 3600.0, threads: int = 1) -> None:
        self.timeout_s, self.threads = timeout_s, threads

    def diagnose(self) -> list[Check]:
        return Diagnosis([Step("ExecuTorch runtime loads", _runtime_loads), Step("thread count", self._threads_fit)]).walk()

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
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "orchestrator.measure.runners.host_child", str(run_dir), str(os.getpid())], stdout=log, stderr=log)
            try:
                code = proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise RunnerError(f"the host runner did not finish within {self.timeout_s:.0f} s; see {log_path}") from None
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if not result_path.exists():
            raise RunnerError(f"the host runner exited with code {code} without writing a result; see {log_path}")
        result = read_json(result_path, "result")
        if result["status"] != "ok":
            raise RunnerError(f"the host runner failed: {result['error']} (run directory {run_dir})")
        return result


def _runtime_loads() -> str:
    try:
        from executorch.runtime import Runtime

        Runtime.get()
    except Exception as exc:  # an import or loader failure of any kind means no measurement
        raise Finding(f"{type(exc).__name__}: {exc}", "reinstall with ./scripts/setup.sh (it pins executorch==1.5.1)") from None
    return f"executorch {version('executorch')}"


def _host_runner(entry: DeviceEntry, **overrides: Any) -> HostRunner:
    return HostRunner(threads=entry.threads)  # one CPU: nothing to pick, no waits to show


HOST = Platform("host", format="pte", what="this machine", build=_host_runner)
