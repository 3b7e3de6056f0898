"""A program's inputs and outputs, read from the program itself: what a deployment manifest tells
an app to give and to expect, so the manifest describes the file delivered and not what the
exporter meant to write.

Each backend family reads them from its own programs (`orchestrator/export/backends/`); these are
the words they read them into.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

METHOD = "forward"  # the method every exported program runs


@dataclass(frozen=True)
class Port:
    """One input or output: `kind` is tensor, image, label (a classifier's top label) or
    probabilities (its label -> probability dictionary)."""

    name: str | None  # Core ML's feature name; None for an ExecuTorch method's positional argument
    kind: str
    shape: list[int] | None = None
    dtype: str | None = None
    color_layout: str | None = None  # an image input's

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProgramIO:
    method: str | None  # the method an ExecuTorch app calls; Core ML has one prediction
    inputs: list[Port]
    outputs: list[Port]
    labels: list[str] | None  # the class labels the program carries (a Core ML classifier's), in order
