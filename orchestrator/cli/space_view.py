"""What `bench space list/show` print: a space as a document and as rich tables."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from search.space import SearchSpace
from search.space.config import compact_number
from search.space.params import count_params
from search.space.sampling import max_config, min_config


def _values(values: tuple) -> list:
    return [compact_number(v) for v in values]


def params_range(space: SearchSpace) -> tuple[int, int]:
    return count_params(min_config(space), space), count_params(max_config(space), space)


def _stages(space: SearchSpace) -> list[dict[str, Any]]:
    """Per stage its kind and the allowed values of each dimension, in network order."""
    mbconv = [
        {"name": s.name, "kind": "mbconv", "width": _values(s.width), "depth": _values(s.depth), "expansion": _values(s.expansion), "stride": s.stride}
        for s in space.mbconv
    ]
    transformer = [
        {"name": s.name, "kind": "transformer", "width": _values(s.width), "depth": _values(s.depth), "heads": _values(s.heads),
         "mlp_ratio": _values(s.mlp_ratio), "stride": s.stride}
        for s in space.transformer
    ]
    return [
        {"name": "Conv", "kind": "conv", "width": _values(space.stem.width), "stride": space.stem.stride}, *mbconv, *transformer,
        {"name": space.head.name, "kind": "head", "width": [space.head.num_classes], "expansion": [space.head.expansion]},
    ]


def space_document(space: SearchSpace) -> dict[str, Any]:
    """Machine-readable form: per stage its kind and the allowed values of each dimension."""
    low, high = params_range(space)
    return {
        "name": space.name,
        "description": space.description,
        "hash": space.hash,
        "resolution": {"choices": list(space.resolutions), "default": space.default_resolution},
        "num_transformer_stages": list(space.num_transformer_stages),
        "stages": _stages(space),
        "num_subnets": space.num_subnets(),
        "params": {"min": low, "max": high},
        "paper_params_m": list(space.paper_params_m) if space.paper_params_m else None,
        "head_dim": space.head_dim,
        "patch_size": space.patch_size,
        "norm": space.norm,
        "transition_expansion": space.transition_expansion,
        "increasing_transformer_width": space.increasing_transformer_width,
    }


def _cell(values: list | None) -> str:
    return ",".join(str(v) for v in values) if values else "-"


def stages_table(doc: dict[str, Any]) -> Table:
    table = Table(title=f"search space {doc['name']} ({doc['hash']})", title_justify="left")
    for column in ("stage", "kind", "width", "depth", "heads", "mlp/exp", "stride"):
        table.add_column(column, no_wrap=True)
    for st in doc["stages"]:
        ratio = st.get("mlp_ratio") or st.get("expansion")
        table.add_row(
            st["name"], st["kind"], _cell(st["width"]), _cell(st.get("depth")), _cell(st.get("heads")),
            _cell(ratio), str(st.get("stride", "-")),
        )
    return table


def spaces_table(docs: list[dict[str, Any]]) -> Table:
    table = Table(title="search spaces")
    for column in ("name", "subnets", "params (M)", "paper params (M)", "resolutions"):
        table.add_column(column)
    for d in docs:
        paper = "-" if not d["paper_params_m"] else f"{d['paper_params_m'][0]}-{d['paper_params_m'][1]}"
        table.add_row(
            d["name"],
            f"{d['num_subnets']:.2e}",
            f"{d['params']['min'] / 1e6:.2f}-{d['params']['max'] / 1e6:.2f}",
            paper,
            _cell(d["resolution"]["choices"]),
        )
    return table
