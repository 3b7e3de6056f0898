"""Plain evolution (the paper's Table 6 baseline): random feasible subnets seed it, and every choice
of a child mutates with probability `PLAIN_MUTATION`."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from search.nas.strategies.registry import Strategy, register
from search.space.config import SubnetConfig

if TYPE_CHECKING:
    from search.nas.strategies.loop import Search
    from search.nas.strategies.state import SearchState

PLAIN_MUTATION = 0.1


@register
class Evolution(Strategy):
    name = "evolution"

    def initial(self, search: Search, state: SearchState, rng: random.Random) -> list[SubnetConfig]:
        return search.pricer.random_feasible(rng, self.s.population, set())

    def mutation(self) -> tuple[float, float]:
        return PLAIN_MUTATION, PLAIN_MUTATION
