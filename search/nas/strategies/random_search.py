"""Random search: every evaluation spent on random feasible subnets, in one generation."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from search.nas.strategies.registry import Strategy, register
from search.space.config import SubnetConfig

if TYPE_CHECKING:
    from search.nas.strategies.loop import Search
    from search.nas.strategies.state import SearchState


@register
class RandomSearch(Strategy):
    name = "random"

    def initial(self, search: Search, state: SearchState, rng: random.Random) -> list[SubnetConfig]:
        return search.pricer.random_feasible(rng, self.s.population * self.s.generations, set())

    def generations(self) -> int:
        return 1
