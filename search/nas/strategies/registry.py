"""Strategies found by name: each registers its class here when its module is imported."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, ClassVar

from infra.errors import UserError
from search.space.config import SubnetConfig

if TYPE_CHECKING:
    from search.nas.strategies.loop import Search
    from search.nas.strategies.state import SearchSettings, SearchState

STRATEGIES: dict[str, type[Strategy]] = {}  # name -> class, in the order they registered


class Strategy:
    """What a strategy decides; the loop (`Search`) does the rest: evaluate, breed the next
    generation from the parents by crossover and mutation, save the state."""

    name: ClassVar[str]

    def __init__(self, settings: SearchSettings) -> None:
        self.s = settings

    def initial(self, search: Search, state: SearchState, rng: random.Random) -> list[SubnetConfig]:
        """The first generation's subnets (all within the budget)."""
        raise NotImplementedError

    def generations(self) -> int:
        """How many generations the search runs."""
        return self.s.generations

    def mutation(self) -> tuple[float, float]:
        """The depth and per-layer mutation probabilities of its children."""
        return self.s.p_depth, self.s.p_layer


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make `cls` a strategy found by its `name`."""
    if cls.name in STRATEGIES:
        raise ValueError(f"strategy {cls.name!r} is registered twice")
    STRATEGIES[cls.name] = cls
    return cls


def get_strategy(name: str) -> type[Strategy]:
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
