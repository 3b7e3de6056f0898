"""Memory as the contract reports it (`models[].memory` of a result: bytes a model adds to the
process that runs it, at its load and at its peak) and as people read it: MiB."""

from __future__ import annotations

from typing import Any

from search.nas.memory import Memory


def memory_text(memory: dict[str, Any] | None) -> str:
    """One model's memory in words: what its load added and its peak, or that the runner measured none
    (apps before memory was in the contract, a host other than Linux)."""
    if memory is None:
        return "memory not measured by this device's runner"
    shown = Memory.of(memory).to_dict()
    return f"memory: load +{shown['load_mib']:.1f} MiB, peak +{shown['peak_mib']:.1f} MiB"
