"""The AutoViT search spaces, loaded from the JSON data files in `search/space/definitions/`.

A space is pure data: the allowed values of every searchable dimension per stage plus the
structural choices the paper leaves open (strides, transition expansion, head size, norm).
The design choices are written down in `search/space/definitions/README.md` next to the data.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from infra.errors import UserError

NORMS = ("batchnorm", "layernorm")


class SpaceError(UserError):
    """An unknown space name or a malformed space file."""


@dataclass(frozen=True)
class StemSpace:
    width: tuple[int, ...]
    kernel: int
    stride: int


@dataclass(frozen=True)
class MBConvStageSpace:
    name: str
    width: tuple[int, ...]
    depth: tuple[int, ...]
    expansion: tuple[float, ...]
    stride: int


@dataclass(frozen=True)
class TransformerStageSpace:
    name: str
    width: tuple[int, ...]
    depth: tuple[int, ...]
    heads: tuple[int, ...]
    mlp_ratio: tuple[float, ...]
    stride: int

    @property
    def layer_choices(self) -> int:
        """Distinct (heads, MLP ratio) choices of one transformer layer."""
        return len(self.heads) * len(self.mlp_ratio)


@dataclass(frozen=True)
class HeadSpace:
    name: str
    num_classes: int
    expansion: int


@dataclass(frozen=True)
class SearchSpace:
    name: str
    description: str
    resolutions: tuple[int, ...]
    default_resolution: int
    stem: StemSpace
    mbconv: tuple[MBConvStageSpace, ...]
    transformer: tuple[TransformerStageSpace, ...]
    num_transformer_stages: tuple[int, ...]
    head: HeadSpace
    transition_expansion: int
    head_dim: int
    patch_size: int
    norm: str
    increasing_transformer_width: bool
    paper_params_m: tuple[float, float] | None

    @property
    def total_stride(self) -> int:
        strides = [self.stem.stride] + [s.stride for s in self.mbconv] + [s.stride for s in self.transformer]
        out = 1
        for s in strides:
            out *= s
        return out

    @property
    def head_widths(self) -> tuple[int, ...]:
        """Widths the classifier may receive: those of every stage that can be the last one."""
        last = {self.transformer[n - 1].width for n in self.num_transformer_stages}
        return tuple(sorted({w for ws in last for w in ws}))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def for_classes(self, num_classes: int) -> SearchSpace:
        """This space with a classifier for another data set's classes. Its `hash` differs (the head
        differs); LUTs stay keyed to the space as profiled (see search/training/checkpoint.py)."""
        return replace(self, head=replace(self.head, num_classes=num_classes))

    @cached_property
    def hash(self) -> str:
        """Content hash of everything that shapes a network; LUTs record it to refuse a foreign space."""
        data = self.to_dict()
        data.pop("description")
        data.pop("paper_params_m")
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def transformer_width_sequences(self, num_stages: int) -> list[tuple[int, ...]]:
        """All allowed width tuples of the first `num_stages` transformer stages."""
        seqs = itertools.product(*(s.width for s in self.transformer[:num_stages]))
        if not self.increasing_transformer_width:
            return list(seqs)
        return [seq for seq in seqs if all(a < b for a, b in zip(seq, seq[1:]))]

    def num_subnets(self) -> int:
        """Exact number of distinct subnets (every resolution, stage count and per-layer choice)."""
        stem_and_mb = len(self.stem.width)
        for st in self.mbconv:
            stem_and_mb *= len(st.width) * len(st.depth) * len(st.expansion)
        tail = 0
        for n in self.num_transformer_stages:
            layers = 1
            for st in self.transformer[:n]:
                layers *= sum(st.layer_choices**d for d in st.depth)
            tail += len(self.transformer_width_sequences(n)) * layers
        return len(self.resolutions) * stem_and_mb * tail


def _tuple(values: Any) -> tuple:
    return tuple(values)


def space_from_dict(data: dict[str, Any]) -> SearchSpace:
    """Build and sanity-check a space; a malformed file fails here, not deep inside a model."""
    try:
        space = SearchSpace(
            name=data["name"],
            description=data["description"],
            resolutions=_tuple(data["resolution"]["choices"]),
            default_resolution=data["resolution"]["default"],
            stem=StemSpace(_tuple(data["stem"]["width"]), data["stem"]["kernel"], data["stem"]["stride"]),
            mbconv=tuple(
                MBConvStageSpace(s["name"], _tuple(s["width"]), _tuple(s["depth"]), _tuple(s["expansion"]), s["stride"])
                for s in data["mbconv"]
            ),
            transformer=tuple(
                TransformerStageSpace(
                    s["name"], _tuple(s["width"]), _tuple(s["depth"]), _tuple(s["heads"]), _tuple(s["mlp_ratio"]), s["stride"]
                )
                for s in data["transformer"]
            ),
            num_transformer_stages=_tuple(data["num_transformer_stages"]),
            head=HeadSpace(data["head"]["name"], data["head"]["num_classes"], data["head"]["expansion"]),
            transition_expansion=data["transition_expansion"],
            head_dim=data["head_dim"],
            patch_size=data["patch_size"],
            norm=data["norm"],
            increasing_transformer_width=data["increasing_transformer_width"],
            paper_params_m=tuple(data["paper_params_m"]) if data.get("paper_params_m") else None,
        )
    except (KeyError, TypeError) as exc:
        raise SpaceError(f"space file is missing or mistypes the field {exc}") from exc
    _check(space)
    return space


def _check(space: SearchSpace) -> None:
    if space.norm not in NORMS:
        raise SpaceError(f"space {space.name!r}: norm must be one of {', '.join(NORMS)}, not {space.norm!r}")
    if space.default_resolution not in space.resolutions:
        raise SpaceError(f"space {space.name!r}: default resolution {space.default_resolution} is not among its choices")
    multiple = space.total_stride * space.patch_size
    for r in space.resolutions:
        if r % multiple:
            raise SpaceError(
                f"space {space.name!r}: resolution {r} is not a multiple of {multiple} "
                "(total stride x patch size), so the last feature map would not split into patches"
            )
    for st in space.transformer:
        for w, r in itertools.product(st.width, st.mlp_ratio):
            if float(w * r) != int(w * r):
                raise SpaceError(f"space {space.name!r}: {st.name} width {w} x MLP ratio {r} is not an integer")
    if max(space.num_transformer_stages) > len(space.transformer):
        raise SpaceError(f"space {space.name!r}: more transformer stages allowed than defined")


def _space_files() -> dict[str, Path]:
    folder = resources.files("search.space") / "definitions"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".json")}


def space_names() -> list[str]:
    """Names of the bundled spaces, paper spaces by size first, then the rest."""
    order = {"xxs": 0, "xs": 1, "s": 2}
    return sorted(_space_files(), key=lambda n: (order.get(n, 9), n))


def load_space(name: str) -> SearchSpace:
    files = _space_files()
    if name not in files:
        from search.space.layerwise import layerwise_names

        if name in layerwise_names():
            raise SpaceError(
                f"space {name!r} is a layer-wise space of public timings, with no supernet or probe networks to build; "
                f"fit its LUTs from timings with `bench lut fit --space {name}` (docs/real_phones.md)"
            )
        raise SpaceError(f"unknown search space {name!r}; known spaces: {', '.join(space_names())}")
    return space_from_dict(json.loads(files[name].read_text()))
