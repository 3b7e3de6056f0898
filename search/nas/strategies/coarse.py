"""The coarse phase: many random subnets priced at once, one per skeleton kept (the paper's Algorithm 2, coarse part)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from search.nas.budget import Pricer
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch, decode


@dataclass
class CoarseReport:
    samples: int
    feasible: int
    skeletons: int
    seconds: float

    @property
    def candidates_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds else float("inf")


def skeleton(config: SubnetConfig) -> tuple:
    return (
        config.stem,
        tuple((m.width, m.depth) for m in config.mbconv),
        tuple((t.width, t.depth) for t in config.transformer),
    )


def _skeleton_keys(b: ConfigBatch) -> np.ndarray:
    """One integer row per config that equals another's exactly when their skeletons are equal."""
    present = np.arange(b.t_width.shape[1])[None, :] < b.t_stages[:, None]
    return np.column_stack([b.stem, b.mb_width, b.mb_depth, b.t_stages, np.where(present, b.t_width, -1), b.t_depth])


def coarse_phase(pricer: Pricer, samples: int, keep: int, seed: int) -> tuple[list[SubnetConfig], CoarseReport]:
    """The paper's Algorithm 2, coarse part: latency is the primary indicator and parameters only a
    memory threshold (T_p, applied with the latency budget T_l by the pricer's feasibility). So per
    skeleton the feasible member predicted slowest (the one that uses most of the budget) is kept,
    and the `keep` skeletons whose members are slowest are the seeds. Ranking by parameters instead,
    as this did before, seeded every search on the 64 px LUT with 4-stage subnets, the class that
    trains worst alone (issue 40). Vectorised; only the seeds are decoded to configs."""
    start = time.perf_counter()
    priced = pricer.price(samples, seed)
    rows = np.flatnonzero(priced.feasible)
    keys = _skeleton_keys(priced.batch)[rows]
    params, ms = priced.params[rows], priced.load[rows]  # the share of the budget used: of the device that binds, where several are held
    order = np.lexsort((-params, -ms, *keys.T[::-1]))
    sorted_keys = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = np.any(sorted_keys[1:] != sorted_keys[:-1], axis=1)
    leaders = order[first]
    ranked = leaders[np.lexsort((-params[leaders], -ms[leaders]))][:keep]
    seeds = [decode(priced.batch, int(rows[i]), pricer.space) for i in ranked]
    return seeds, CoarseReport(samples, len(rows), int(first.sum()), time.perf_counter() - start)


