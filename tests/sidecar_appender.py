"""A process that appends validation records to one LUT's sidecar, for the test of appends at once.
Its own module, light to import, so that each spawned process starts in a fraction of a second
(a test module's imports, torch among them, cost seconds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.lut.store import append_validation


def append_many(lut_path: str, record: dict[str, Any], seeds: list[int]) -> None:
    for seed in seeds:
        append_validation(Path(lut_path), {**record, "seed": seed})
