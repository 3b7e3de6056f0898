"""A LUT's program size: what each entry's block adds to the program a device is given, by removal,
as its latency is attributed. A program's size is its file's bytes (a `.pte`), or its folder's
(an `.mlpackage`), as exported for the device's backend, so the weights are counted in the
device's precision and form (int8 halves them; Core ML stores fp16). Sizes do not vary between
sessions, so each entry is its two networks' difference, per copy of the block. A subnet's size is
the sum over its entries (the program's fixed parts: the overhead and fixed parts' entries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.plan.spec import Entry
from search.nas.constraints.size import program_bytes

METHOD = "each network's program bytes as exported for the device, by removal: the entry is the difference per copy of its block"


def lut_size(entries: Sequence[Entry], programs: Mapping[str, Path], method: str, suffix: str) -> tuple[dict[str, float], dict[str, Any]] | None:
    """Each entry's size in bytes and the LUT's `measurement.size` record; None for the isolated
    method (each block's network carries the program's fixed parts again)."""
    if method != "removal":
        return None
    size = {pid: program_bytes(path) for pid, path in programs.items()}
    return (
        {e.key: (size[e.reference] - (size[e.variant] if e.variant is not None else 0.0)) / e.copies for e in entries},
        {"method": METHOD, "form": suffix},
    )
