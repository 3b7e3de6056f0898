"""Random search: every evaluation spent on random feasible subnets, in one generation."""

from __future__ import annotations

from dataclasses import dataclass

from search.nas.strategies.registry import Context, Seeds, Strategy, register


@dataclass(frozen=True)
class RandomSettings:
    generations: int


@register
class RandomSearch(Strategy):
    name = "random"
    Settings = RandomSettings

    def initial(self, ctx: Context) -> Seeds:
        return Seeds(ctx.pricer.random_feasible(ctx.rng, ctx.population * self.s.generations, set()))

    def generations(self) -> int:
        return 1
