"""The request/result contract between the orchestrator and every device runner.

A run directory holds `request.json` and the model files; the runner writes `result.json`
atomically. Both documents are validated against the versioned schemas in
`orchestrator/measure/schemas/`, which the Kotlin and Swift apps implement too.
"""

from __future__ import annotations

import json
import math
import statistics
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.schema_check import schema_problem
from infra.strict_json import load_json
from orchestrator.measure.steady import steady_rounds
from orchestrator.measure.timing import TimingPlan

VERSION = 1


class ContractError(UserError):
    """A request or result that does not follow the contract."""


@cache
def schema(kind: str) -> dict[str, Any]:
    return json.loads((resources.files("orchestrator.measure") / "schemas" / f"{kind}.v{VERSION}.json").read_text())


def validate(doc: Any, kind: str, source: str) -> dict[str, Any]:
    if (found := schema_problem(doc, schema(kind))) is not None:
        where, problem = found
        raise ContractError(f"{source} is not a valid {kind} (at {where}: {problem})") from None
    return doc


def read_json(path: Path, kind: str) -> dict[str, Any]:
    """A request or result file, strictly: NaN, Infinity and oversize files are refused at parse time."""
    doc = load_json(path, f"the {kind} file", f"it must follow orchestrator/measure/schemas/{kind}.v{VERSION}.json", ContractError)
    return validate(doc, kind, str(path))


def check_result(result: dict[str, Any], request: dict[str, Any], source: str) -> dict[str, Any]:
    """What a schema cannot say: that a valid result answers this request, round for round, with
    latencies that can be real. Every runner's result passes here before attribution sees it, and
    leaves with each model's summary computed here from its checked samples: a phone's own summary
    is never read (one reporting a median of -1 ms beside real samples would otherwise be believed).
    The summaries are of the rounds no burst of other work disturbed (`steady_rounds`, listed in
    the checked result; `orchestrator.measure.steady`)."""
    if result["run_id"] != request["run_id"]:
        raise ContractError(f"{source} answers run {result['run_id']!r}, not {request['run_id']!r}")
    got, wanted = [m["id"] for m in result["models"]], [m["id"] for m in request["models"]]
    if sorted(got) != sorted(wanted) or len(set(got)) != len(got):
        raise ContractError(f"{source} has models {got} where the request asked for {wanted}")
    rounds = result["rounds"]
    if rounds < 1:
        raise ContractError(f"{source} has no measured rounds")
    for m in result["models"]:
        if len(m["samples_ms"]) != rounds:
            raise ContractError(f"{source} has {len(m['samples_ms'])} samples of model {m['id']!r} for {rounds} rounds")
        bad = next((x for x in (*m["samples_ms"], m["load_ms"], m["first_inference_ms"], *([m["warm_load_ms"]] if "warm_load_ms" in m else [])) if not (math.isfinite(x) and x > 0)), None)
        if bad is not None:
            raise ContractError(f"{source} has a latency of {bad} ms for model {m['id']!r}; every latency must be a positive number")
        if (memory := m.get("memory")) is not None and memory["peak_bytes"] < memory["load_bytes"]:
            raise ContractError(
                f"{source} has a peak of {memory['peak_bytes']} bytes for model {m['id']!r} below its load's {memory['load_bytes']}; "
                "the peak includes the load"
            )
    keep = steady_rounds([m["samples_ms"] for m in result["models"]])
    return {
        **result, "steady_rounds": keep.tolist(),
        "models": [{**m, "summary": summarize([m["samples_ms"][i] for i in keep])} for m in result["models"]],
    }


def make_request(
    run_id: str,
    backend: str,
    models: list[dict[str, Any]],
    threads: int,
    compute_units: str | None,
    timing: TimingPlan,
    seed: int = 0,
    cooldown_s: float = 0.0,
) -> dict[str, Any]:
    doc = {
        "schema": "autovit-bench/request",
        "version": VERSION,
        "run_id": run_id,
        "backend": backend,
        "models": models,
        "threads": threads,
        "compute_units": compute_units,
        "warmup": {"runs": timing.warmup_runs, "seconds": timing.warmup_s},
        "measure": {"runs": timing.runs, "seconds": timing.min_s, **({"burst": timing.burst} if timing.burst > 1 else {})},
        "cooldown_s": cooldown_s,
        "seed": seed,
    }
    return validate(doc, "request", "the request being written")


def summarize(samples_ms: list[float]) -> dict[str, Any]:
    """Median, mean, 20%-trimmed mean (ExecuTorch's benchmark app's choice), p90, spread."""
    ordered = sorted(samples_ms)
    n = len(ordered)
    cut = int(n * 0.1)
    trimmed = ordered[cut : n - cut] or ordered
    return {
        "median_ms": statistics.median(ordered),
        "mean_ms": statistics.fmean(ordered),
        "trimmed_mean_ms": statistics.fmean(trimmed),
        "p90_ms": ordered[min(n - 1, int(round(0.9 * (n - 1))))],
        "std_ms": statistics.pstdev(ordered),
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "runs": n,
    }
