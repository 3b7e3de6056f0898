"""Subnets that export in seconds, for tests that measure subnets whose choice is not what they test."""

from __future__ import annotations

import copy

from search.space import SearchSpace
from search.space.config import SubnetConfig, validate
from search.space.sampling import min_config


def small_subnets(space: SearchSpace, count: int, resolution: int = 64) -> list[SubnetConfig]:
    """`count` distinct subnets predicted apart by any LUT: the space's smallest, then the smallest
    with one more layer in one stage (MBConv stages first). Used instead of `spread_subnets`, which
    spans the range up to the largest subnet, whose export (or Core ML conversion) costs ~10 s."""
    smallest = min_config(space, resolution).to_dict()
    configs = [smallest]
    for kind in ("mbconv", "transformer"):
        for i, stage in enumerate(smallest[kind]):
            deeper = copy.deepcopy(smallest)
            deeper[kind][i]["depth"] += 1
            if kind == "transformer":
                deeper[kind][i]["heads"].append(stage["heads"][0])
                deeper[kind][i]["mlp_ratio"].append(stage["mlp_ratio"][0])
            configs.append(deeper)
    assert len(configs) >= count, f"the {space.name} space has fewer than {count} such subnets"
    return [validate(SubnetConfig.from_dict(c), space) for c in configs[:count]]
