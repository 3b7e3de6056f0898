"""Layer-wise spaces: a fixed chain of layers, each one of a few blocks (FBNet's 22 layers x 9
blocks, as HW-NAS-Bench and HELP time it). They are here because public whole-network timings of
real phones exist for them (docs/real_phones.md), so a LUT can be fitted and judged on real
phones' data; they have no supernet, no probe networks and no exporter, so only the commands that
read LUTs (`bench lut fit`, `bench lut list|show`, `bench profile --from ... --timings`, the API's
pricing) take them, and the others say so.

A network is the tuple of its layers' block names. Its latency sums an `overhead` entry (stem,
header, pooling, classifier and the runtime's fixed cost: constant across the space) and one entry
per layer for the block it holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from infra.errors import UserError

FAMILY = "layerwise"
SKIP = "skip"


class LayerwiseError(UserError):
    """A malformed layer-wise space file, or a network that is not one of its networks."""


@dataclass(frozen=True)
class Op:
    name: str
    kernel: int
    expansion: int
    groups: int


@dataclass(frozen=True)
class Layer:
    """One searchable position: its name (L00...), its stage and the shape its block sees."""

    name: str
    stage: str
    in_width: int
    width: int
    stride: int
    in_size: int

    @property
    def out_size(self) -> int:
        return self.in_size // self.stride


@dataclass(frozen=True)
class LayerwiseSpace:
    name: str
    description: str
    source: str
    resolution: int
    input_channels: int
    stem_width: int
    layers: tuple[Layer, ...]
    ops: tuple[Op, ...]
    head_width: int
    num_classes: int

    @cached_property
    def hash(self) -> str:
        """Content hash of everything that shapes a network, as an AutoViT space's: LUTs record it."""
        data = asdict(self)
        data.pop("description")
        data.pop("source")
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(op.name for op in self.ops)

    def num_networks(self) -> int:
        return len(self.ops) ** len(self.layers)

    def flops(self, layer: Layer, op: Op) -> float:
        """Multiply-accumulates of one block: an inverted residual's expansion (grouped 1x1),
        depthwise kxk (with the stride) and projection (grouped 1x1); a skip is free where shapes
        match and a 1x1 projection where they do not. Only the transfer uses it, as a kind of work
        a new device may price differently from the source (orchestrator/lut/transfer_fit.py)."""
        hw_in, hw_out = layer.in_size**2, layer.out_size**2
        if op.name == SKIP:
            return 0.0 if layer.in_width == layer.width and layer.stride == 1 else float(hw_out * layer.in_width * layer.width)
        mid = layer.in_width * op.expansion
        return float(hw_in * layer.in_width * mid / op.groups + hw_out * mid * op.kernel**2 + hw_out * mid * layer.width / op.groups)

    def indices(self, network: Sequence[Any], where: str = "the network") -> np.ndarray:
        """A network's block per layer as op indices, from names or indices; anything else is
        refused naming the layer and the blocks allowed."""
        if isinstance(network, (str, bytes)) or len(network) != len(self.layers):
            raise LayerwiseError(f"{where} has {len(network) if not isinstance(network, (str, bytes)) else 'no list of'} blocks; a {self.name} network has one per layer ({len(self.layers)})")
        out = np.empty(len(self.layers), dtype=np.int64)
        for i, value in enumerate(network):
            if isinstance(value, str) and value in self.op_names:
                out[i] = self.op_names.index(value)
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < len(self.ops):
                out[i] = int(value)
            else:
                raise LayerwiseError(
                    f"{where}: layer {self.layers[i].name} holds {value!r}, which is not a block of {self.name} "
                    f"({', '.join(self.op_names)}, or their indices 0-{len(self.ops) - 1})"
                )
        return out

    def config(self, indices: Sequence[int]) -> dict[str, Any]:
        """A network as validation records and LUT contexts store it."""
        return {"space": self.name, "ops": [self.ops[int(i)].name for i in indices]}


def space_from_dict(data: dict[str, Any]) -> LayerwiseSpace:
    """Build a layer-wise space: each stage's first layer takes the previous width and the stride,
    the rest keep the stage's width at stride 1."""
    try:
        if data["family"] != FAMILY:
            raise LayerwiseError(f"space {data['name']!r} is of family {data['family']!r}, not {FAMILY!r}")
        size, width, layers = int(data["resolution"]) // int(data["stem"]["stride"]), int(data["stem"]["width"]), []
        for stage in data["stages"]:
            for i in range(int(stage["layers"])):
                stride = int(stage["stride"]) if i == 0 else 1
                layers.append(Layer(f"L{len(layers):02d}", stage["name"], width, int(stage["width"]), stride, size))
                size, width = size // stride, int(stage["width"])
        return LayerwiseSpace(
            data["name"], data["description"], data["source"], int(data["resolution"]), int(data["input_channels"]), int(data["stem"]["width"]),
            tuple(layers), tuple(Op(o["name"], int(o["kernel"]), int(o["expansion"]), int(o["groups"])) for o in data["ops"]),
            int(data["head"]["width"]), int(data["head"]["num_classes"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LayerwiseError(f"layer-wise space file is missing or mistypes the field {exc}") from exc


def _files() -> dict[str, Path]:
    folder = resources.files("search.space") / "layerwise"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".json")}


def layerwise_names() -> list[str]:
    return sorted(_files())


def load_layerwise(name: str) -> LayerwiseSpace:
    files = _files()
    if name not in files:
        raise LayerwiseError(f"unknown layer-wise space {name!r}; known: {', '.join(layerwise_names())}")
    return space_from_dict(json.loads(files[name].read_text()))
