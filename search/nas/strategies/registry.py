"""Strategies found by name, and the small context each is given.

A strategy is one class registered by name (`register`, as timm registers its models): its own
settings (`Settings`, built from the fields of the user's `SearchSettings` it names), what it seeds
the first generation with, how many generations it runs and how it breeds a generation from the
parents. It sees a `Context` (the pricer, the random state, the log, the shared counts), never the
loop that runs it, so strategies and the loop import nothing of each other.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from infra.errors import UserError
from search.nas.budget import Pricer
from search.space.config import SubnetConfig
from search.space.sampling import crossover, mutate

STRATEGIES: dict[str, type[Strategy]] = {}  # name -> class, in the order they registered


@dataclass(frozen=True)
class Context:
    """What a strategy may use: the pricer (budgets, feasibility, random feasible subnets), the
    search's random state, its log, and the counts every strategy shares."""

    pricer: Pricer
    rng: random.Random
    log: Callable[[str], None]
    population: int
    parents: int
    seed: int


@dataclass(frozen=True)
class Seeds:
    """A strategy's first generation, and what it reports of how it chose them (kept in the state)."""

    configs: list[SubnetConfig]
    report: dict[str, Any] | None = None


@dataclass(frozen=True)
class Breeding:
    """The settings of breeding by crossover and mutation (depth and per-layer mutation probabilities)."""

    generations: int
    p_depth: float
    p_layer: float


class Strategy:
    """What a strategy decides; the loop evaluates each generation and keeps the state."""

    name: ClassVar[str]
    Settings: ClassVar[type] = Breeding

    def __init__(self, settings: Any) -> None:
        self.s = settings

    @classmethod
    def from_settings(cls, settings: Any) -> Strategy:
        """The strategy with its own settings, taken by name from the user's `SearchSettings`."""
        return cls(cls.Settings(**{f.name: getattr(settings, f.name) for f in fields(cls.Settings)}))

    def initial(self, ctx: Context) -> Seeds:
        """The first generation's subnets (all within the budget)."""
        raise NotImplementedError

    def generations(self) -> int:
        return self.s.generations

    def breed(self, ctx: Context, parents: list[SubnetConfig], seen: set[str]) -> list[SubnetConfig]:
        """The next generation's new subnets, within the budgets and not in `seen` (which it extends):
        half by crossover of two parents, half by mutation of one, as far as the parents'
        neighbourhood allows (the loop fills the rest with random feasible subnets)."""
        children: list[SubnetConfig] = []
        n_cross = ctx.population // 2
        for _ in range(ctx.population * 50 if parents else 0):
            if len(children) == ctx.population:
                break
            if len(children) < n_cross and len(parents) > 1:
                a, b = ctx.rng.sample(parents, 2)
                child = crossover(ctx.pricer.space, a, b, ctx.rng)
            else:
                child = mutate(ctx.pricer.space, ctx.rng.choice(parents), ctx.rng, self.s.p_depth, self.s.p_layer)
            if child.hash not in seen and ctx.pricer.feasible(child):
                seen.add(child.hash)
                children.append(child)
        return children


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
