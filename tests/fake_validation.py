"""`bench validate` without exporting or timing anything: the measurement step replaced by one that
reports the subnets at 1 to 2 ms and the anchor at `anchor_ms`, so tests of what validate reads,
checks and writes run in a second or two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.lut.validation import ValidationRun
from search.nas.run_result import ModelRun
from search.space.config import SubnetConfig


def fake_measurements(monkeypatch, anchor_ms: float = 1.0) -> list[int]:
    """Patch validation's measurement; returns a list that counts the measurements made (one entry
    per call), so a test can tell a refusal before the work from one after it."""
    calls: list[int] = []

    def measure(configs: list[SubnetConfig], anchor: SubnetConfig, space: Any, device: Any, run_dir: Path, *rest: Any, **kw: Any) -> ValidationRun:
        calls.append(len(configs))
        return ValidationRun(configs, [ModelRun.timed(float(ms)) for ms in np.linspace(1.0, 2.0, len(configs))], anchor_ms, {"platform": "host", "runtime": {"threads": 1}})

    monkeypatch.setattr("orchestrator.lut.validation.measure_subnets", measure)
    return calls
