"""One measurement session: the single path from model files to a device's result.

Profiles, validation, `bench measure` and the search's delivery all stage their models into a
run directory, write `request.json` and let the device's runner produce `result.json`; this does it
once for all. Its defaults (the full timing plan, seed 0) are the toolkit's measurement defaults;
only a profile's presets (`orchestrator.lut.profile`) choose other timings. A caller that gives a
time budget has the counts fitted to what a round of its models costs (`orchestrator.measure.budget`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.files import write_json_atomic
from orchestrator.export.backends import get_backend
from orchestrator.measure.budget import TimeBudget, pilot, round_seconds
from orchestrator.measure.contract import ContractError, check_result, make_request
from orchestrator.measure.devices import Device
from orchestrator.measure.platforms import runner_for
from orchestrator.measure.runners.base import Runner, RunnerError
from orchestrator.measure.timing import TimingPlan
from search.nas.run_result import RunResult


def new_run_dir(prefix: str, root: Path = Path("runs")) -> Path:
    """A run directory of its own (`root/prefix-<time>[-n]`, created exclusively), so a session never
    measures what an earlier one left there; callers create it only once their inputs are checked."""
    stamp = f"{prefix}-{datetime.now():%Y%m%d-%H%M%S}"
    for n in itertools.count():
        candidate = root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")


def run_session(
    device: Device,
    run_dir: Path,
    models: dict[str, tuple[Path, Sequence[int]]],
    timing: TimingPlan = TimingPlan(),
    seed: int = 0,
    run_id: str | None = None,
    runner: Runner | None = None,
    budget: TimeBudget | None = None,
    latency_ms: Mapping[str, float] | None = None,
    on_timing: Callable[[TimingPlan, float], None] | None = None,
) -> dict[str, Any]:
    """Measure `models` (id -> (file, input shape)) interleaved in one session; returns the result.

    With a `budget`, the counts sent are `timing` fitted to what a round of these models costs here
    (`TimeBudget.fit`): from `latency_ms` (a model's latency on this device, where the caller knows
    it), or, when a model is missing there, from a pilot round timed first in a run directory of its
    own inside `run_dir`; `on_timing` is told the counts and the round's seconds before the session."""
    runner = runner or runner_for(device)
    run_id = run_id or run_dir.name
    if budget is not None:
        known = {mid: ms for mid in models if (ms := (latency_ms or {}).get(mid)) is not None and ms > 0}
        if len(known) < len(models):
            piloted = run_session(device, run_dir / f"{run_dir.name}-pilot", models, pilot(timing), seed, f"{run_id}/pilot", runner)
            known = RunResult.of(piloted).medians_ms()
        cost = round_seconds(known.values(), timing.burst)
        timing = budget.fit(timing, cost)
        if on_timing is not None:
            on_timing(timing, cost)
    files = runner.stage(run_dir, {mid: path for mid, (path, _) in models.items()})
    entries = [{"id": mid, "file": files[mid], "input_shape": list(shape)} for mid, (_, shape) in models.items()]
    fmt = get_backend(device.backend).format  # runners know formats, not how a program was exported
    request = make_request(run_id, fmt, entries, device.threads, device.runtime.get("compute_units"), timing, seed)
    write_json_atomic(run_dir / "request.json", request)
    with runner.unattended(run_dir):
        result = runner.run(run_dir)
    try:
        return check_result(result, request, f"the result of {device.name}")
    except ContractError as exc:
        raise RunnerError(
            f"{exc}, so the session in {run_dir} cannot be used; measure it again (a profile continues with --resume), "
            "and if it happens again rebuild the device's app from this checkout"
        ) from None
