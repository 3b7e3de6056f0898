"""Plain evolution (the paper's Table 6 baseline): random feasible subnets seed it, and every choice
of a child mutates with probability `PLAIN_MUTATION`, whatever the settings' probabilities (those
are coarse-to-fine's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from search.nas.strategies.registry import Context, Seeds, Strategy, register

PLAIN_MUTATION = 0.1


@dataclass(frozen=True)
class EvolutionSettings:
    generations: int
    p_depth: ClassVar[float] = PLAIN_MUTATION
    p_layer: ClassVar[float] = PLAIN_MUTATION


@register
class Evolution(Strategy):
    name = "evolution"
    Settings = EvolutionSettings

    def initial(self, ctx: Context) -> Seeds:
        return Seeds(ctx.pricer.random_feasible(ctx.rng, ctx.population, set()))
