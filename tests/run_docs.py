"""Session results as the contract hands them on (`orchestrator.measure.contract.check_result`):
every field a runner must give, for tests that stand in for a device. A stand-in with fewer fields
than the contract's would test code against documents no runner can send."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.measure.contract import summarize


def model_doc(mid: str, samples_ms: Sequence[float] = (1.0,) * 5, memory: tuple[int, int] | None = None, method: str = "host: resident set",
              load_ms: float = 1.0, first_inference_ms: float = 1.0, warm_load_ms: float | None = 0.5, steady: Sequence[int] | None = None) -> dict[str, Any]:
    """One model's part of a checked result; `memory`: its (load, peak) bytes, and `warm_load_ms`, each None where its runner measured none."""
    kept = [samples_ms[i] for i in steady] if steady is not None else list(samples_ms)
    return {
        "id": mid, "load_ms": load_ms, "first_inference_ms": first_inference_ms, "samples_ms": list(samples_ms), "summary": summarize(kept),
        **({"warm_load_ms": warm_load_ms} if warm_load_ms is not None else {}),
        **({"memory": {"load_bytes": memory[0], "peak_bytes": memory[1], "method": method}} if memory is not None else {}),
    }


def result_doc(models: list[dict[str, Any]], steady: Sequence[int] | None = None, run_id: str = "run/session", **extra: Any) -> dict[str, Any]:
    """A checked result of `models` (`model_doc`s, all of one round count)."""
    rounds = len(models[0]["samples_ms"]) if models else 1
    return {
        "run_id": run_id, "status": "ok", "rounds": rounds, "steady_rounds": list(steady) if steady is not None else list(range(rounds)),
        "device": {"platform": "host"}, "runtime": {}, "models": models, **extra,
    }
