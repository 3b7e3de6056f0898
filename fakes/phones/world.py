"""What a network truly costs on a simulated phone: its quiet time, before the phone's conditions.

A network is the blocks `search.nas.predictor.parts` lists for its config (the overhead, the stem,
each stage's transition or shell and layers, the head), in network order. Each block costs its entry
in a committed LUT of the program's kind, space and resolution (those entries are removal deltas
measured on this project's x86 host: real, positive-on-the-whole block costs), times its kind's scale
(`kind_scale`: a phone prices blocks in other proportions than the host), times the factor of every
interaction that applies (`interactions`: a block after one of a given kind costs `factor` times
as much, as fused neighbours do), times the phone's speed. So the phone's truth is additive but for
the interactions, which the behaviour file states; a LUT profiled on the phone can only learn them
in the context it was measured in. A block's entry below `FLOOR_MS` (removal deltas of tiny blocks
can be negative) costs `FLOOR_MS`: no block runs in no time. A block the LUT has no entry of (a
probe network's shell fed by a width its previous stage takes only in a variant) costs as the
nearest entry of its kind and stage does (`_nearest`).

The memory a phone reports follows the LUT's own memory model, where the LUT records memory: the
load is the sum of the blocks' loads, the peak the load plus the largest working set of one block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from search.api import load_lut
from search.nas.lut import Lut
from search.nas.predictor import parts
from search.space import SearchSpace, load_space
from search.space.config import SubnetConfig

FLOOR_MS = 0.001


@dataclass(frozen=True)
class Network:
    """A network as the simulated phone sees a program: a config (perhaps outside the space: layer
    copies, fewer stages), with its head or without (ended at its last stage, or by a global pool),
    or the runtime's overhead alone."""

    config: SubnetConfig | None  # None: the overhead network
    head: bool = True
    backend: str | None = None  # the backend it was exported for (int8 or float32), where known

    @property
    def space(self) -> str | None:
        return None if self.config is None else self.config.space

    @property
    def resolution(self) -> int | None:
        return None if self.config is None else self.config.resolution


@dataclass(frozen=True)
class Block:
    kind: str
    key: str


@cache
def _lut(ref: str) -> Lut:
    return Lut.of(load_lut(ref))


@cache
def _space(name: str) -> SearchSpace:
    return load_space(name)


class World:
    """The quiet cost of networks on one phone (`behaviour.world` of a phone file)."""

    def __init__(self, world: Mapping[str, Any]) -> None:
        self.speed = float(world["speed"])
        self.kind_scale = {k: float(v) for k, v in world["kind_scale"].items()}
        self.interactions = [(i["part"], i["after"], float(i["factor"])) for i in world["interactions"]]
        self.luts = [(entry["backend"], entry["lut"]) for entry in world["luts"]]
        self.load_ms_per_mib = float(world.get("load_ms_per_mib", 5.0))
        self.warm_load_share = float(world.get("warm_load_share", 0.4))

    def lut_for(self, backend: str, network: Network) -> Lut:
        """The committed LUT this phone's truth reads for a program of `backend` and of the network's
        space and resolution (the overhead network: the first of the backend's)."""
        mine = [_lut(ref) for b, ref in self.luts if b == backend]
        fits = [lut for lut in mine if network.config is None or (lut.space_name, lut.resolution) == (network.space, network.resolution)]
        if not fits:
            held = ", ".join(f"{lut.space_name} at {lut.resolution} px" for lut in mine) or "none"
            raise LookupError(
                f"the simulated phone prices no {backend} program of {network.space} at {network.resolution} px (its world's {backend} LUTs: {held})"
            )
        return fits[0]

    def blocks(self, lut: Lut, network: Network) -> list[Block]:
        """The network's blocks in order, each with its kind (from the LUT's entry)."""
        if network.config is None:
            keys = ["overhead"]
        else:
            keys = [p.key for p in parts(network.config, _space(lut.space_name))]
            if not network.head:
                keys = keys[:-1]
        return [Block(lut.entries[key]["kind"], key) for key in (k if k in lut.entries else _NEAREST.get((lut.id, k)) or _nearest(lut, k) for k in keys)]

    def block_ms(self, lut: Lut, blocks: Sequence[Block]) -> list[float]:
        """Each block's quiet time on this phone, in order."""
        out = []
        for i, block in enumerate(blocks):
            ms = max(float(lut.entries[block.key]["latency_ms"]), FLOOR_MS) * self.kind_scale.get(block.kind, 1.0) * self.speed
            if i:
                for part, after, factor in self.interactions:
                    if block.kind == part and blocks[i - 1].kind == after:
                        ms *= factor
            out.append(ms)
        return out

    def quiet_ms(self, backend: str, network: Network) -> float:
        """The network's time on this phone with nothing moving its speed: the benchmark's truth."""
        lut = self.lut_for(backend, network)
        return float(sum(self.block_ms(lut, self.blocks(lut, network))))

    def memory(self, backend: str, network: Network) -> dict[str, int] | None:
        """What loading and running it adds to the app's memory (None where the LUT records none)."""
        lut = self.lut_for(backend, network)
        if lut.memory is None:
            return None
        entries = [lut.entries[b.key]["memory"] for b in self.blocks(lut, network)]
        load = max(sum(float(m["load_bytes"]) for m in entries), 0.0)
        working = max((float(m.get("working_bytes", 0.0)) for m in entries), default=0.0)
        return {"load_bytes": int(load), "peak_bytes": int(load + max(working, 0.0))}


def _nearest(lut: Lut, key: str) -> str:
    """The LUT's entry closest to a block it has no entry of: of the same kind and stage, the one whose
    widths, expansion, heads and ratio are nearest (in log ratio). A probe network may hold a block
    no subnet has (a stage's shell fed by a width its previous stage takes only in a variant)."""
    kind, stage, params = _parse(key)
    same = [k for k, e in lut.entries.items() if e["kind"] == kind and e["stage"] == stage]
    if not same:
        raise LookupError(f"the simulated phone's LUT {lut.short} has no entry of kind {kind} in stage {stage} near {key!r}")

    def distance(k: str) -> float:
        other = lut.entries[k]["params"]
        return sum(abs(math.log(float(other[p]) / float(v))) for p, v in params.items() if isinstance(v, (int, float)) and p in other and float(other[p]) > 0 and float(v) > 0)

    return _NEAREST.setdefault((lut.id, key), min(same, key=lambda k: (distance(k), k)))


_NEAREST: dict[tuple[str, str], str] = {}


def _parse(key: str) -> tuple[str, str | None, dict[str, Any]]:
    """An entry key's kind, stage and parameters (`search.nas.lut.entry_key`, read back)."""
    family, *rest = key.split("/")
    if family in ("stem", "head"):
        return family, None, {"width": int(rest[0][1:])}
    stage, part = rest[0], rest[1]
    if part in ("transition", "shell"):
        a, b = rest[2].split("->")
        return f"{family}_{part}" if family == "mbconv" else "transformer_shell", stage, {"in_width": int(a), "width": int(b)}
    return f"{family}_layer", stage, dict(_pair(p) for p in rest[2:])


LETTERS = {"w": "width", "e": "expansion", "h": "heads", "r": "mlp_ratio"}  # a layer key's parameters (`w16/e2`)


def _pair(text: str) -> tuple[str, float]:
    return LETTERS[text[0]], float(text[1:])
