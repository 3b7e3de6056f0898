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

METHODS = ("removal", "isolated")
LAYER_COPIES = 2  # how many copies of a layer its removal pair differs by (plan versions 2 and 3; version 1 had 1)
CONTEXTS = ("smallest", "widest")  # the context network: see orchestrator/plan/builder.py
PLAN_VERSION = 4  # the plan profiles are measured with now
# A plan version's layer copies, context network and whether each entry has a working-set network.
# Version 1 timed a layer as one copy against none, version 2 as two, both in the smallest subnet;
# version 3 times them in the widest; version 4 adds the networks that show each part's own working
# memory (orchestrator/plan/builder.py).
PLAN_VERSIONS = {1: (1, "smallest", False), 2: (LAYER_COPIES, "smallest", False), 3: (LAYER_COPIES, "widest", False), 4: (LAYER_COPIES, "widest", True)}


@dataclass(frozen=True)
class ProbeSpec:
    """One network to export and time. `config` may lie outside the space and may list fewer stages
    than the space (a truncated network); `head=False` ends the network at its last stage."""

    kind: str  # "net", "overhead" or "block"
    resolution: int
    config: str | None = None  # canonical SubnetConfig JSON
    head: bool = True
    block: str | None = None  # canonical JSON of one block measured alone (isolated method)
    pool: bool | None = None  # True: a network without its head ends in a global average pool (a working-set network)

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
    copies: int = 1  # copies of the block the reference has more than the variant: the entry is the delta over them
    working: str | None = None  # probe id of the network that shows the block's own working memory (plan version 4)

    def to_dict(self) -> dict[str, Any]:
        """`copies` is left out at 1 and `working` where there is none, so the earlier plans' ids
        (recorded in their LUTs) are unchanged."""
        body = dataclasses.asdict(self)
        if self.copies == 1:
            del body["copies"]
        if self.working is None:
            del body["working"]
        return body


@dataclass(frozen=True)
class Plan:
    space: SearchSpace
    resolution: int
    context: SubnetConfig
    entries: tuple[Entry, ...]
    probes: dict[str, ProbeSpec]
    anchor: str  # probe id of the context network, timed in every session to measure its speed
    method: str = "removal"
    layer_copies: int = 1
    context_kind: str = "smallest"
    working_sets: bool = False  # every entry has a network that shows its own working memory

    @property
    def version(self) -> int:
        """1: every layer timed as one copy against none; 2: as `layer_copies` copies (a slope); both in
        the smallest subnet. 3: in the widest (an isolated plan of it keeps 3, having one copy); 4: with
        each entry's working-set network."""
        if self.working_sets:
            return 4
        if self.context_kind == "widest":
            return 3
        return 1 if self.layer_copies == 1 else 2

    @property
    def id(self) -> str:
        body = {"v": self.version, "space": self.space.hash, "entries": [e.to_dict() for e in self.entries]}
        blob = json.dumps(
            body if self.method == "removal" else {**body, "method": self.method},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def lut_plan_version(measurement: dict[str, Any]) -> int:
    """The plan version a LUT was measured with: recorded since version 3; before, told by its layer copies."""
    return int(measurement.get("plan_version") or (2 if measurement.get("layer_copies", 1) == LAYER_COPIES else 1))
