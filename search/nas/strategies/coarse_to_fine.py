"""Coarse-to-fine (the paper's Algorithm 2): the coarse phase's slowest skeletons seed an evolution
that mutates with the settings' depth and per-layer probabilities."""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import TYPE_CHECKING

from search.nas.strategies.coarse import coarse_phase
from search.nas.strategies.registry import Strategy, register
from search.space.config import SubnetConfig

if TYPE_CHECKING:
    from search.nas.strategies.loop import Search
    from search.nas.strategies.state import SearchState


@register
class CoarseToFine(Strategy):
    name = "coarse-to-fine"

    def initial(self, search: Search, state: SearchState, rng: random.Random) -> list[SubnetConfig]:
        seeds, report = coarse_phase(search.pricer, self.s.coarse_samples, self.s.population, self.s.seed)
        state.coarse = {**asdict(report), "candidates_per_s": report.candidates_per_s}
        search.log(
            f"coarse phase: {report.samples} subnets priced in {report.seconds:.2f} s ({report.candidates_per_s:,.0f}/s), "
            f"{report.feasible} within budget, {report.skeletons} skeletons, {len(seeds)} seeds"
        )
        # A budget few subnets meet: the coarse sample may hold none of them, the wider draw does.
        return seeds or search.pricer.random_feasible(rng, self.s.population, set())
