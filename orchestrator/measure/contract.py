"""The request/result contract between the orchestrator and every device runner.

A run directory holds `request.json` and the model files; the runner writes `result.json`
atomically. Both documents are validated against the versioned schemas in
`orchestrator/measure/schemas/`, which the Kotlin and Swift apps implement too.
"""

from __future__ import annotations

import json
import statistics
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from orchestrator.measure.timing import TimingPlan
from search.errors import UserError

VERSION = 1


class ContractError(UserError):
    """A request or result that does not follow the contract."""


@cache
def schema(kind: str) -> dict[str, Any]:
    return json.loads((resources.files("orchestrator.measure") / "schemas" / f"{kind}.v{VERSION}.json").read_text())


def validate(doc: Any, kind: str, source: str) -> dict[str, Any]:
    try:
        jsonschema.validate(doc, schema(kind))
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise ContractError(f"{source} is not a valid {kind} (at {where}: {exc.message})") from None
    return doc


def read_json(path: Path, kind: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ContractError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return validate(doc, kind, str(path))


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
        "measure": {"runs": timing.runs, "seconds": timing.min_s},
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
