"""The plan's data: a network to export and time (`ProbeSpec`), an entry and the two networks that
measure it (`Entry`), and the whole plan (`Plan`). Ids are content hashes of these, so they key
the export cache and are recorded in every LUT: changing what they hash changes every id."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from search.space import SearchSpace
from search.space.config import SubnetConfig

PLAN_VERSION = 1
METHODS = ("removal", "isolated")


@dataclass(frozen=True)
class ProbeSpec:
    """One network to export and time. `config` may lie outside the space and may list fewer stages
    than the space (a truncated network); `head=False` ends the network at its last stage."""

    kind: str  # "net", "overhead" or "block"
    resolution: int
    config: str | None = None  # canonical SubnetConfig JSON
    head: bool = True
    block: str | None = None  # canonical JSON of one block measured alone (isolated method)

    def to_dict(self) -> dict[str, Any]:
        """Fields that are unset are left out, so adding a field never changes existing ids (and
        cache keys, and the plan ids recorded in LUTs)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None or k == "config"}

    @property
    def id(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.block is not None:
            return tuple(json.loads(self.block)["input_shape"])
        return (1, 3, self.resolution, self.resolution)

    def subnet_config(self) -> SubnetConfig:
        if self.config is None:
            raise ValueError("the overhead probe has no subnet config")
        return SubnetConfig.from_json(self.config)


@dataclass(frozen=True)
class Entry:
    key: str
    kind: str
    stage: str | None
    params: dict[str, Any]
    reference: str  # probe id of the network with the block
    variant: str | None  # probe id of the network without it (None: the entry is the reference itself)


@dataclass(frozen=True)
class Plan:
    space: SearchSpace
    resolution: int
    context: SubnetConfig
    entries: tuple[Entry, ...]
    probes: dict[str, ProbeSpec]
    anchor: str  # probe id of the context network, timed in every session to measure its speed
    method: str = "removal"

    @property
    def id(self) -> str:
        body = {"v": PLAN_VERSION, "space": self.space.hash, "entries": [dataclasses.asdict(e) for e in self.entries]}
        blob = json.dumps(
            body if self.method == "removal" else {**body, "method": self.method},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
