"""One measurement session: the single path from model files to a device's result.

Profiles, validation, `bench measure` and the search's delivery all stage their models into a
run directory, write `request.json` and let the device's runner produce `result.json`; this does it
once for all. Its defaults (the full timing plan, seed 0) are the toolkit's measurement defaults;
only a profile's presets (`orchestrator.lut.profile`) choose other timings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.measure.contract import make_request
from orchestrator.measure.devices import Device
from orchestrator.measure.runners.base import Runner
from orchestrator.measure.runners.registry import runner_for
from orchestrator.measure.timing import TimingPlan
from search.files import write_json_atomic


def run_session(
    device: Device,
    run_dir: Path,
    models: dict[str, tuple[Path, Sequence[int]]],
    timing: TimingPlan = TimingPlan(),
    seed: int = 0,
    run_id: str | None = None,
    runner: Runner | None = None,
) -> dict[str, Any]:
    """Measure `models` (id -> (file, input shape)) interleaved in one session; returns the result."""
    runner = runner or runner_for(device)
    files = runner.stage(run_dir, {mid: path for mid, (path, _) in models.items()})
    entries = [{"id": mid, "file": files[mid], "input_shape": list(shape)} for mid, (_, shape) in models.items()]
    request = make_request(
        run_id or run_dir.name, device.backend, entries, device.threads, device.runtime.get("compute_units"), timing, seed
    )
    write_json_atomic(run_dir / "request.json", request)
    return runner.run(run_dir)
