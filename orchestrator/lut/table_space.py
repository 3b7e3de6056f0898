"""A space seen as an additive table: its entries (key, kind, stage, parameters), which entries a
network sums, and the arithmetic in each. It is what lets a LUT be fitted from whole-network
timings, or transferred with networks timed elsewhere, for an AutoViT space and for a layer-wise
space (FBNet) alike, without either caring which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from infra.errors import UserError
from orchestrator.lut.fit_table import Prior
from search.nas.lut import entry_key
from search.space import SearchSpace, SpaceError, load_space, space_names
from search.space.config import SubnetConfig, validate
from search.space.layerwise import LayerwiseError, LayerwiseSpace, layerwise_names, load_layerwise


@dataclass(frozen=True)
class TableEntry:
    key: str
    kind: str
    stage: str | None
    params: dict[str, Any]


class TableSpace:
    """The common face of both families. A network is whatever `parse` returns (a SubnetConfig,
    or a layer-wise network's op indices as a tuple)."""

    name: str
    hash: str
    resolution: int
    entries: tuple[TableEntry, ...]

    def parse(self, value: Any, where: str) -> Any:
        raise NotImplementedError

    def keys(self, network: Any) -> list[str]:
        raise NotImplementedError

    def config(self, network: Any) -> dict[str, Any]:
        raise NotImplementedError

    def flops(self) -> dict[str, float]:
        raise NotImplementedError

    def shape_of(self, entry: TableEntry) -> tuple[Any, ...]:
        """What makes two entries the same block in the same place, but for where (a layer-wise
        space's identical layers of one stage; an AutoViT kind in one stage)."""
        raise NotImplementedError

    def prior(self) -> Prior:
        """The fit's groups (orchestrator/lut/fit_table.py): each entry's arithmetic, its kind of
        block, and the entries of its shape; the overhead is free."""
        flops = self.flops()
        kinds = sorted({self.kind_of(e) for e in self.entries if e.kind != "overhead"})
        shapes = sorted({self.shape_of(e) for e in self.entries if e.kind != "overhead"}, key=repr)
        kind_m, shape_m = np.zeros((len(self.entries), len(kinds))), np.zeros((len(self.entries), len(shapes)))
        for i, e in enumerate(self.entries):
            if e.kind != "overhead":
                kind_m[i, kinds.index(self.kind_of(e))] = 1.0
                shape_m[i, shapes.index(self.shape_of(e))] = 1.0
        arithmetic = np.array([[flops.get(e.key, 0.0)] for e in self.entries])
        return Prior((("flops", arithmetic), ("kind", kind_m), ("shape", shape_m)), np.array([e.kind == "overhead" for e in self.entries]))

    def kind_of(self, entry: TableEntry) -> str:
        return entry.kind

    def least(self, latency: dict[str, float]) -> float:
        """The least total `latency` (entry key -> ms) gives any network of the space."""
        raise NotImplementedError

    @cached_property
    def column(self) -> dict[str, int]:
        return {e.key: i for i, e in enumerate(self.entries)}

    def counts(self, networks: Sequence[Any]) -> np.ndarray:
        """How many times each network sums each entry: the design of a fit."""
        out = np.zeros((len(networks), len(self.entries)))
        for n, network in enumerate(networks):
            for key in self.keys(network):
                out[n, self.column[key]] += 1
        return out


class LayerwiseTable(TableSpace):
    def __init__(self, space: LayerwiseSpace) -> None:
        self.space, self.name, self.hash, self.resolution = space, space.name, space.hash, space.resolution
        self.entries = (TableEntry("overhead", "overhead", None, {}),) + tuple(
            TableEntry(entry_key("layer", layer.stage, layer=layer.name, op=op.name), "layer", layer.stage, {"layer": layer.name, "op": op.name})
            for layer in space.layers
            for op in space.ops
        )

    def parse(self, value: Any, where: str) -> tuple[int, ...]:
        if isinstance(value, str):
            value = [int(v) if v.isdigit() else v for v in value.split()]
        if not isinstance(value, (list, tuple)):
            raise LayerwiseError(f"{where}: a {self.name} network is its layers' blocks (a list, or names separated by spaces), not {type(value).__name__}")
        return tuple(int(i) for i in self.space.indices(value, where))

    def keys(self, network: tuple[int, ...]) -> list[str]:
        return ["overhead"] + [self.entries[1 + i * len(self.space.ops) + op].key for i, op in enumerate(network)]

    def config(self, network: tuple[int, ...]) -> dict[str, Any]:
        return self.space.config(network)

    def kind_of(self, entry: TableEntry) -> str:
        return str(entry.params["op"])

    def least(self, latency: dict[str, float]) -> float:
        from search.nas.layerwise_predictor import least

        return least(self.space, latency)

    def shape_of(self, entry: TableEntry) -> tuple[Any, ...]:
        layer = next(layer for layer in self.space.layers if layer.name == entry.params["layer"])
        return (layer.in_width, layer.width, layer.stride, layer.in_size, entry.params["op"])

    def flops(self) -> dict[str, float]:
        out = {"overhead": 0.0}
        for layer in self.space.layers:
            for op in self.space.ops:
                out[entry_key("layer", layer.stage, layer=layer.name, op=op.name)] = self.space.flops(layer, op)
        return out


class AutoVitTable(TableSpace):
    def __init__(self, space: SearchSpace, resolution: int) -> None:
        from orchestrator.plan.builder import build_plan

        self.space, self.name, self.hash, self.resolution = space, space.name, space.hash, resolution
        self.entries = tuple(TableEntry(e.key, e.kind, e.stage, dict(e.params)) for e in build_plan(space, resolution, "removal").entries)

    def parse(self, value: Any, where: str) -> SubnetConfig:
        from search.space.config import ConfigError

        try:
            config = SubnetConfig.from_dict(value) if isinstance(value, dict) else None
            if config is None:
                raise ConfigError(f"a subnet of {self.name} is its config (a JSON object, as `bench space sample` prints), not {type(value).__name__}")
            validate(config, self.space)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None
        if config.space != self.name or config.resolution != self.resolution:
            raise UserError(f"{where}: the subnet is of space {config.space!r} at {config.resolution} px, not {self.name!r} at {self.resolution} px")
        return config

    def keys(self, network: SubnetConfig) -> list[str]:
        from search.nas.predictor import parts

        return [p.key for p in parts(network, self.space)]

    def config(self, network: SubnetConfig) -> dict[str, Any]:
        return network.to_dict()

    def shape_of(self, entry: TableEntry) -> tuple[Any, ...]:
        return (entry.kind, entry.stage)

    def least(self, latency: dict[str, float]) -> float:
        from search.space.additive import AdditiveTable, least_total

        table = AdditiveTable(self.space, lambda kind, stage=None, **p: latency.get(entry_key(kind, stage, **p), float("nan")))
        return least_total(table, self.space)

    def flops(self) -> dict[str, float]:
        from orchestrator.lut.entry_flops import entry_flops

        return entry_flops(self.space, self.resolution, "removal")


def table_space(name: str, resolution: int | None = None) -> TableSpace:
    """A registered space by name, of either family; an unknown name names both lists."""
    if name in layerwise_names():
        space = load_layerwise(name)
        if resolution is not None and resolution != space.resolution:
            raise UserError(f"space {name} is timed at {space.resolution} px only, not {resolution}; drop --resolution")
        return LayerwiseTable(space)
    if name not in space_names():
        raise SpaceError(f"unknown search space {name!r}; known spaces: {', '.join(space_names() + layerwise_names())}")
    space = load_space(name)
    return AutoVitTable(space, resolution or space.default_resolution)
