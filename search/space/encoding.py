"""Subnet configs as integer arrays, so thousands of them are sampled and priced at numpy speed.

Each dimension is stored as the index of its value among the space's choices (depths as values).
Transformer stages beyond a config's stage count have depth 0; per-layer arrays are padded to the
space's largest depth. `random_batch` draws from the same distribution as `sampling.random_config`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.space import SearchSpace
from search.space.config import MBConvStage, SubnetConfig, TransformerStage


@dataclass(frozen=True)
class ConfigBatch:
    resolution: np.ndarray  # (N,) pixels
    stem: np.ndarray  # (N,) width index
    mb_width: np.ndarray  # (N, M) width index
    mb_depth: np.ndarray  # (N, M) depth value
    mb_expansion: np.ndarray  # (N, M) expansion index
    t_stages: np.ndarray  # (N,) number of transformer stages
    t_width: np.ndarray  # (N, T) width index
    t_depth: np.ndarray  # (N, T) depth value, 0 for absent stages
    t_heads: np.ndarray  # (N, T, D) heads index per layer
    t_ratio: np.ndarray  # (N, T, D) MLP ratio index per layer

    def __len__(self) -> int:
        return len(self.stem)


def max_depth(space: SearchSpace) -> int:
    return max(max(s.depth) for s in space.transformer)


def encode(configs: list[SubnetConfig], space: SearchSpace) -> ConfigBatch:
    n, m, t, d = len(configs), len(space.mbconv), len(space.transformer), max_depth(space)
    b = ConfigBatch(
        np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros((n, m), np.int64), np.zeros((n, m), np.int64),
        np.zeros((n, m), np.int64), np.zeros(n, np.int64), np.zeros((n, t), np.int64), np.zeros((n, t), np.int64),
        np.zeros((n, t, d), np.int64), np.zeros((n, t, d), np.int64),
    )
    for row, c in enumerate(configs):
        b.resolution[row] = c.resolution
        b.stem[row] = space.stem.width.index(c.stem)
        for j, (st, ss) in enumerate(zip(c.mbconv, space.mbconv)):
            b.mb_width[row, j] = ss.width.index(st.width)
            b.mb_depth[row, j] = st.depth
            b.mb_expansion[row, j] = ss.expansion.index(st.expansion)
        b.t_stages[row] = len(c.transformer)
        for i, (st, ss) in enumerate(zip(c.transformer, space.transformer)):
            b.t_width[row, i] = ss.width.index(st.width)
            b.t_depth[row, i] = st.depth
            b.t_heads[row, i, : st.depth] = [ss.heads.index(h) for h in st.heads]
            b.t_ratio[row, i, : st.depth] = [ss.mlp_ratio.index(r) for r in st.mlp_ratio]
    return b


def decode(batch: ConfigBatch, row: int, space: SearchSpace) -> SubnetConfig:
    transformer = []
    for i in range(int(batch.t_stages[row])):
        ss, depth = space.transformer[i], int(batch.t_depth[row, i])
        transformer.append(
            TransformerStage(
                ss.width[batch.t_width[row, i]],
                tuple(ss.heads[k] for k in batch.t_heads[row, i, :depth]),
                tuple(float(ss.mlp_ratio[k]) for k in batch.t_ratio[row, i, :depth]),
            )
        )
    return SubnetConfig(
        space=space.name,
        resolution=int(batch.resolution[row]),
        stem=space.stem.width[batch.stem[row]],
        mbconv=tuple(
            MBConvStage(ss.width[batch.mb_width[row, j]], int(batch.mb_depth[row, j]), float(ss.expansion[batch.mb_expansion[row, j]]))
            for j, ss in enumerate(space.mbconv)
        ),
        transformer=tuple(transformer),
    )


def random_batch(space: SearchSpace, n: int, rng: np.random.Generator, resolution: int | None = None) -> ConfigBatch:
    """`n` random configs: uniform per dimension, transformer widths uniform over allowed sequences."""
    t, d = len(space.transformer), max_depth(space)
    stages = rng.choice(np.asarray(space.num_transformer_stages), n)
    t_width = np.zeros((n, t), np.int64)
    for count in space.num_transformer_stages:
        rows = np.flatnonzero(stages == count)
        seqs = np.asarray([[s.width.index(w) for s, w in zip(space.transformer, seq)] for seq in space.transformer_width_sequences(count)])
        t_width[rows, :count] = seqs[rng.integers(0, len(seqs), len(rows))]
    t_depth = np.stack([rng.choice(np.asarray(s.depth), n) for s in space.transformer], axis=1)
    t_depth[np.arange(t)[None, :] >= stages[:, None]] = 0
    res = np.full(n, resolution) if resolution is not None else rng.choice(np.asarray(space.resolutions), n)
    return ConfigBatch(
        resolution=res,
        stem=rng.integers(0, len(space.stem.width), n),
        mb_width=np.stack([rng.integers(0, len(s.width), n) for s in space.mbconv], axis=1),
        mb_depth=np.stack([rng.choice(np.asarray(s.depth), n) for s in space.mbconv], axis=1),
        mb_expansion=np.stack([rng.integers(0, len(s.expansion), n) for s in space.mbconv], axis=1),
        t_stages=stages,
        t_width=t_width,
        t_depth=t_depth,
        t_heads=np.stack([rng.integers(0, len(s.heads), (n, d)) for s in space.transformer], axis=1),
        t_ratio=np.stack([rng.integers(0, len(s.mlp_ratio), (n, d)) for s in space.transformer], axis=1),
    )
