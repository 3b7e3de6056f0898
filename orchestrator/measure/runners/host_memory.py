"""What one model adds to the resident memory of the process that runs it on this machine, measured
in a process of its own: the session forks one child per model before it starts its own runtime,
and the child loads the program, runs it, and reports (a) `load_bytes`, the resident memory the
load added (the program's weights, XNNPACK's packed copies of them, the planned buffers), and
(b) `peak_bytes`, the highest resident memory while loading and running it, both above the
child's level before the load. A model of its own process is what separates models: in one
process, the memory one model's run freed is reused by the next without the resident size moving.

Linux only (`/proc/self/status`, and `/proc/self/clear_refs` to start the peak at the level before
the load); elsewhere the host reports no memory, which the contract allows.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from infra.processes import die_with

METHOD = "host: resident set (VmRSS, VmHWM) of a process forked per model, above its level before the load"
RUNS = 3  # inferences after the load: the first allocates the delegate's workspace, later ones find what a steady run adds


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def measurable() -> bool:
    return sys.platform.startswith("linux") and Path("/proc/self/status").exists()


def _reset_peak() -> None:
    """Start VmHWM at the resident size now (writing 5 to clear_refs, Linux 4.0+); where that is
    refused, the peak of a freshly forked process already starts at its resident size."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _measure(load: Any, path: str, make_input: Any) -> dict[str, Any]:
    inputs = [make_input()]
    _reset_peak()
    base = _status_kib("VmRSS")
    program = load(path)
    method = program.load_method("forward")
    loaded = _status_kib("VmRSS")
    for _ in range(RUNS):
        method(inputs)
    peak = max(_status_kib("VmHWM"), loaded)
    return {"load_bytes": max(0, loaded - base) * 1024, "peak_bytes": max(0, peak - base) * 1024, "method": METHOD}


def memory_of(load: Any, path: str, make_input: Any) -> dict[str, Any] | None:
    """One model's memory, from a child forked for it (`load(path)` gives the program; `make_input()`
    its input); None where this machine cannot tell it or the child failed (the session's timing
    goes on: memory is reported beside latency, not instead of it)."""
    if not measurable():
        return None
    reader, writer = os.pipe()
    session = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: measure, write one JSON line, leave without running the parent's exit handlers
        code = 1
        try:
            die_with(session)  # a session ended mid-measurement leaves no child running models on
            os.close(reader)
            os.write(writer, json.dumps(_measure(load, path, make_input)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader, "rb") as answer:
        data = answer.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not data:
        return None
    return json.loads(data)
