"""Seeded sampling, mutation and crossover of subnet configs.

Every function takes an explicit `random.Random`, so a search is reproducible from its seed and
DDP ranks seeded alike draw the same subnet. Every function returns a config that passes
`validate`: mutation and crossover retry, and fall back to a parent, rather than emit an
invalid network.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

from search.space import SearchSpace, TransformerStageSpace
from search.space.config import ConfigError, MBConvStage, SubnetConfig, TransformerStage, validate

_RETRIES = 100


def _layers(rng: random.Random, st: TransformerStageSpace, depth: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    heads = tuple(rng.choice(st.heads) for _ in range(depth))
    ratios = tuple(float(rng.choice(st.mlp_ratio)) for _ in range(depth))
    return heads, ratios


def random_config(space: SearchSpace, rng: random.Random, resolution: int | None = None) -> SubnetConfig:
    """Uniform per dimension; transformer widths uniform over the allowed (increasing) sequences."""
    n = rng.choice(space.num_transformer_stages)
    widths = rng.choice(space.transformer_width_sequences(n))
    transformer = []
    for st, w in zip(space.transformer, widths):
        heads, ratios = _layers(rng, st, rng.choice(st.depth))
        transformer.append(TransformerStage(w, heads, ratios))
    return SubnetConfig(
        space=space.name,
        resolution=resolution if resolution is not None else rng.choice(space.resolutions),
        stem=rng.choice(space.stem.width),
        mbconv=tuple(
            MBConvStage(rng.choice(s.width), rng.choice(s.depth), float(rng.choice(s.expansion))) for s in space.mbconv
        ),
        transformer=tuple(transformer),
    )


def _extreme_config(space: SearchSpace, pick, resolution: int | None) -> SubnetConfig:
    n = pick(space.num_transformer_stages)
    return SubnetConfig(
        space=space.name,
        resolution=resolution if resolution is not None else space.default_resolution,
        stem=pick(space.stem.width),
        mbconv=tuple(MBConvStage(pick(s.width), pick(s.depth), float(pick(s.expansion))) for s in space.mbconv),
        transformer=tuple(
            TransformerStage(pick(s.width), (pick(s.heads),) * pick(s.depth), (float(pick(s.mlp_ratio)),) * pick(s.depth))
            for s in space.transformer[:n]
        ),
    )


def min_config(space: SearchSpace, resolution: int | None = None) -> SubnetConfig:
    """The smallest subnet: fewest stages, every dimension at its minimum (default resolution)."""
    return validate(_extreme_config(space, min, resolution), space)


def max_config(space: SearchSpace, resolution: int | None = None) -> SubnetConfig:
    """The largest subnet, i.e. the whole supernet (default resolution)."""
    return validate(_extreme_config(space, max, resolution), space)


def _mutate_stage(
    rng: random.Random, st: TransformerStageSpace, stage: TransformerStage, p_depth: float, p_layer: float
) -> TransformerStage:
    heads, ratios = list(stage.heads), list(stage.mlp_ratio)
    if rng.random() < p_depth:
        depth = rng.choice(st.depth)
        extra_h, extra_r = _layers(rng, st, max(0, depth - len(heads)))
        heads, ratios = (heads + list(extra_h))[:depth], (ratios + list(extra_r))[:depth]
    width = rng.choice(st.width) if rng.random() < p_layer else stage.width
    for i in range(len(heads)):
        if rng.random() < p_layer:
            heads[i] = rng.choice(st.heads)
        if rng.random() < p_layer:
            ratios[i] = float(rng.choice(st.mlp_ratio))
    return TransformerStage(width, tuple(heads), tuple(ratios))


def _mutate_once(space: SearchSpace, config: SubnetConfig, rng: random.Random, p_depth: float, p_layer: float) -> SubnetConfig:
    def maybe(value, choices, p):
        return rng.choice(choices) if rng.random() < p else value

    n = maybe(len(config.transformer), space.num_transformer_stages, p_depth)
    stages = list(config.transformer[:n])
    for st in space.transformer[len(stages) : n]:
        heads, ratios = _layers(rng, st, rng.choice(st.depth))
        stages.append(TransformerStage(rng.choice(st.width), heads, ratios))
    return SubnetConfig(
        space=config.space,
        resolution=config.resolution,
        stem=maybe(config.stem, space.stem.width, p_layer),
        mbconv=tuple(
            MBConvStage(
                maybe(c.width, s.width, p_layer), maybe(c.depth, s.depth, p_depth), float(maybe(c.expansion, s.expansion, p_layer))
            )
            for c, s in zip(config.mbconv, space.mbconv)
        ),
        transformer=tuple(_mutate_stage(rng, st, c, p_depth, p_layer) for st, c in zip(space.transformer, stages)),
    )


def _first_valid(space: SearchSpace, make, fallback: SubnetConfig) -> SubnetConfig:
    for _ in range(_RETRIES):
        candidate = make()
        try:
            return validate(candidate, space)
        except ConfigError:
            continue
    return fallback


def mutate(
    space: SearchSpace, config: SubnetConfig, rng: random.Random, p_depth: float = 0.2, p_layer: float = 0.4
) -> SubnetConfig:
    """The paper's mutation: each depth (and the stage count) changes with `p_depth`, then every
    width and every layer's heads and MLP ratio with `p_layer`. The resolution is the LUT's, kept."""
    return _first_valid(space, lambda: _mutate_once(space, config, rng, p_depth, p_layer), config)


def crossover(space: SearchSpace, a: SubnetConfig, b: SubnetConfig, rng: random.Random) -> SubnetConfig:
    """Stage-wise uniform crossover: each stage comes whole from one parent, so per-layer choices
    stay consistent with that stage's depth."""

    def child() -> SubnetConfig:
        n = len(rng.choice((a, b)).transformer)
        stages = []
        for i in range(n):
            donors = [p for p in (a, b) if len(p.transformer) > i]
            stages.append(rng.choice(donors).transformer[i])
        return SubnetConfig(
            space=a.space,
            resolution=a.resolution,
            stem=rng.choice((a, b)).stem,
            mbconv=tuple(rng.choice(pair) for pair in zip(a.mbconv, b.mbconv)),
            transformer=tuple(stages),
        )

    return _first_valid(space, child, rng.choice((a, b)))


def every_config(space: SearchSpace, resolution: int | None = None) -> Iterator[SubnetConfig]:
    """Every subnet of the space, at `resolution` or at each of the space's, lazily, in a fixed order."""
    mbconv = [[MBConvStage(w, d, float(e)) for w in s.width for d in s.depth for e in s.expansion] for s in space.mbconv]
    for res in (resolution,) if resolution is not None else space.resolutions:
        for stem, mb in itertools.product(space.stem.width, itertools.product(*mbconv)):
            for stages in space.num_transformer_stages:
                for widths in space.transformer_width_sequences(stages):
                    choices = [
                        [
                            TransformerStage(width, tuple(h for h, _ in layers), tuple(float(r) for _, r in layers))
                            for depth in ss.depth
                            for layers in itertools.product(itertools.product(ss.heads, ss.mlp_ratio), repeat=depth)
                        ]
                        for ss, width in zip(space.transformer, widths)
                    ]
                    for transformer in itertools.product(*choices):
                        yield SubnetConfig(space.name, res, stem, mb, transformer)
