"""The host runner's child process: `python -m orchestrator.measure.runners.host_child RUN_DIR`.

Runs in its own process so a crash in the runtime, a hang or a leak cannot take the orchestrator
down, and so every session starts with a fresh XNNPACK thread pool. Whatever happens, it tries to
leave a `result.json` (status "error" with the reason) before exiting.

The host runner forks each session from a server that has imported this module (`session`), so
torch and the runtime, 2.3 s of CPU of every session's start, are imported once per command; the
phone peers of the tests start it as a script, as above.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

# The C++ runtime itself, not `executorch.runtime`: that wrapper (and `portable_lib`) import the
# whole compiler (`executorch.exir`), ~5 s of every session's start on this machine for nothing
# a measurement uses. executorch is pinned (constraints.txt).
from executorch.extension.pybindings import _C as runtime

from infra.files import write_json_atomic
from infra.processes import die_with, die_with_starter
from orchestrator.measure.contract import read_json, summarize, validate
from orchestrator.measure.cpu import cpu_model
from orchestrator.measure.runners.host_memory import memory_of
from orchestrator.measure.timing import TimingPlan, interleaved_latencies


def host_facts() -> dict[str, Any]:
    return {"platform": "host", "model": platform.node(), "os": platform.platform(), "cores": os.cpu_count() or 1, "cpu_model": cpu_model()}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _load(path: str, threads: int) -> Any:
    if threads > 0:
        runtime._unsafe_reset_threadpool(threads)
    return runtime._load_program(path, program_verification=runtime.Verification.InternalConsistency)


def _warm_load_ms(path: str) -> float:
    """A second open of a program the session has opened and run (its file cached, the runtime
    started): what an app pays to reopen a model, as AI Hub's warm load. The copy is freed at once."""
    start = time.perf_counter()
    program = _load(path, 0)
    program.load_method("forward")
    elapsed = (time.perf_counter() - start) * 1e3
    del program
    return elapsed


def _memory(run_dir: Path, request: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Each model's memory, each measured in a child of its own (`host_memory`), with the session's
    thread count and an input of the model's shape."""
    return {
        model["id"]: memory_of(
            lambda path: _load(path, request["threads"]), str(run_dir / model["file"]), lambda shape=model["input_shape"]: torch.randn(shape),
        )
        for model in request["models"]
    }


def run(run_dir: Path) -> dict[str, Any]:
    request = read_json(run_dir / "request.json", "request")
    memory = _memory(run_dir, request)  # before this process starts a thread pool: the children are forked
    if request["threads"] > 0:
        runtime._unsafe_reset_threadpool(request["threads"])
    generator = torch.Generator().manual_seed(request["seed"])
    programs, calls, loaded = [], {}, []
    for model in request["models"]:
        start = time.perf_counter()
        programs.append(_load(str(run_dir / model["file"]), 0))  # the thread pool is set above
        method = programs[-1].load_method("forward")  # a method must not outlive its program
        load_ms = (time.perf_counter() - start) * 1e3
        inputs = [torch.randn(model["input_shape"], generator=generator)]
        start = time.perf_counter()
        method(inputs)
        first_ms = (time.perf_counter() - start) * 1e3
        calls[model["id"]] = lambda m=method, i=inputs: m(i)
        loaded.append((model["id"], load_ms, first_ms, _warm_load_ms(str(run_dir / model["file"]))))
    measure = request["measure"]
    timing = TimingPlan(request["warmup"]["runs"], request["warmup"]["seconds"], measure["runs"], measure["seconds"], int(measure.get("burst", 1)))
    samples = interleaved_latencies(calls, timing)
    return {
        "runtime": {
            "name": "executorch", "version": version("executorch"), "threads": runtime._threadpool_get_thread_count(),
            "compute_units": None,
        },
        "rounds": len(next(iter(samples.values()))),
        "models": [
            {
                "id": mid, "load_ms": load_ms, "first_inference_ms": first_ms, "warm_load_ms": warm_ms, "samples_ms": samples[mid], "summary": summarize(samples[mid]),
                **({"memory": memory[mid]} if memory.get(mid) else {}),
            }
            for mid, load_ms, first_ms, warm_ms in loaded
        ],
    }


def main(run_dir: Path) -> int:
    started = _now()
    base = {"schema": "autovit-bench/result", "version": 1, "device": host_facts(), "started_at": started}
    try:
        run_id = read_json(run_dir / "request.json", "request")["run_id"]
        body = run(run_dir)
        doc = {**base, "run_id": run_id, "status": "ok", "error": None, **body, "finished_at": _now()}
        code = 0
    except Exception as exc:  # the result file is how the parent learns what went wrong
        doc = {
            **base, "run_id": "unknown", "status": "error", "error": f"{type(exc).__name__}: {exc}",
            "runtime": {"name": "executorch", "version": version("executorch"), "threads": 0}, "rounds": 0, "models": [], "finished_at": _now(),
        }
        code = 1
    write_json_atomic(run_dir / "result.json", validate(doc, "result", "the result being written"))
    return code


def session(run_dir: Path, log_path: Path) -> None:
    """A session in a process forked from the host runner's server: its output goes to `log_path`,
    and it ends with the command that asked for it (an orphan would go on timing and write into a
    run directory a resumed profile uses)."""
    die_with_starter()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.exit(main(run_dir))


if __name__ == "__main__":
    # As a script, the phone peers of the tests start it. An orphan would go on timing, so it ends
    # with its parent, whose pid comes with the command (an orphan's ppid is already another
    # process's by the time it could ask); without it, the process that started this one.
    die_with(int(sys.argv[2]) if len(sys.argv) > 2 else os.getppid())
    sys.exit(main(Path(sys.argv[1])))
