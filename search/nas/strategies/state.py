"""A search's settings, its candidates and its saved state (resumable after every generation)."""

from __future__ import annotations

import json
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from numbers import Integral
from typing import Any

import numpy as np

from infra.errors import UserError
from infra.schema_check import schema_problem
from search.nas.budget import Figures
from search.nas.strategies.registry import STRATEGIES, get_strategy
from search.space.config import SubnetConfig


@cache
def state_schema() -> dict[str, Any]:
    return json.loads((resources.files("search.nas") / "schemas" / "search_state.json").read_text())


# Each count's range (least, most), for the API's `SearchSettings` and `bench search`'s options alike.
COUNTS = {
    "population": (2, 100_000), "generations": (1, 100_000), "parents": (1, 100_000), "coarse_samples": (1, 100_000_000), "seed": (0, 2**32 - 1),
}


@dataclass(frozen=True)
class SearchSettings:
    strategy: str = "coarse-to-fine"
    population: int = 50
    generations: int = 20
    parents: int = 10
    p_depth: float = 0.2
    p_layer: float = 0.4
    coarse_samples: int = 100_000
    max_evaluations: int | None = None  # stop once this many subnets were evaluated (strategy comparisons)
    seed: int = 0

    def __post_init__(self) -> None:
        """Each field's type and range, named as a Python caller wrote it; the CLI's options take
        their ranges from `COUNTS` too and refuse the same values first, naming the options."""
        if not isinstance(self.strategy, str):
            raise UserError(f"SearchSettings.strategy must be a strategy's name ({', '.join(STRATEGIES)}), not {type(self.strategy).__name__} {self.strategy!r:.60}")
        for name, (least, most) in COUNTS.items():
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or not least <= value <= most:
                raise UserError(f"SearchSettings.{name} must be an integer from {least:,} to {most:,}, not {value!r}")
        if self.max_evaluations is not None and (not isinstance(self.max_evaluations, Integral) or isinstance(self.max_evaluations, bool) or self.max_evaluations < 1):
            raise UserError(f"SearchSettings.max_evaluations must be None or an integer of at least 1, not {self.max_evaluations!r}")
        for name in ("p_depth", "p_layer"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise UserError(f"SearchSettings.{name} must be a probability between 0 and 1, not {value!r}")

    def check(self, option: Callable[[str], str] = lambda field: f"--{field.replace('_', '-')}") -> None:
        """What depends on several fields, naming them by `option` (the CLI's by default)."""
        get_strategy(self.strategy)
        if not 0 < self.parents <= self.population:
            raise UserError(f"{option('parents')} must be between 1 and the population ({self.population}), not {self.parents}")


@dataclass
class Candidate:
    """An evaluated subnet with its figures (`budget.Figures`): `cost`, the share of its budgets it
    uses on the device that binds it, is what ties and the Pareto front rank by; `predicted` holds
    each held budget's prediction, device by device."""

    config: SubnetConfig
    accuracy: float
    cost: float
    params: int
    generation: int
    predicted: dict[str, dict[str, float]] = field(default_factory=dict)  # device -> constraint -> predicted figure

    @classmethod
    def of(cls, config: SubnetConfig, accuracy: float, figures: Figures, generation: int) -> Candidate:
        return cls(config, accuracy, figures.cost, figures.params, generation, figures.predicted)

    def priced(self, figures: Figures) -> None:
        """Its figures from this search's pricer (a resumed state's are priced again: the file is anyone's to edit)."""
        self.cost, self.params, self.predicted = figures.cost, figures.params, figures.predicted

    def prediction(self, constraint: str, device: str | None = None) -> float:
        """Its predicted figure of a held budget (`"latency"`, `"memory"`, ...) on `device`, which
        may be left out where one device holds that budget."""
        held = {name: by[constraint] for name, by in self.predicted.items() if constraint in by and device in (None, name)}
        if len(held) != 1:
            where = f"on {device}" if device is not None else f"on {len(held)} devices ({', '.join(held)}); name one" if held else "on no device"
            raise UserError(f"subnet {self.config.hash} has no one {constraint} prediction {where}: the search held {self.predicted}")
        return next(iter(held.values()))

    @property
    def predicted_ms(self) -> float:
        """Deprecated: read `prediction("latency")` (a search may hold several devices, and budgets other than latency)."""
        warnings.warn("Candidate.predicted_ms is deprecated: read Candidate.prediction('latency', device=None)", DeprecationWarning, stacklevel=2)
        return self.prediction("latency")

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "accuracy": self.accuracy, "cost": self.cost,
                "params": self.params, "generation": self.generation, "predicted": self.predicted}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        """A saved candidate; one saved before figures were per budget (`predicted_ms`) reads with
        a cost of 0 until the resumed search prices it again (`SearchJob`)."""
        return cls(SubnetConfig.from_dict(d["config"]), d["accuracy"], d.get("cost", 0.0), d["params"], d["generation"], d.get("predicted", {}))


@dataclass
class SearchState:
    """Everything needed to continue a search: saved after every generation."""

    settings: dict[str, Any]
    generation: int = 0  # generations finished
    population: list[SubnetConfig] = field(default_factory=list)  # to evaluate next
    evaluated: dict[str, Candidate] = field(default_factory=dict)
    rng: Any = None
    coarse: dict[str, Any] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings, "generation": self.generation,
            "population": [c.to_dict() for c in self.population],
            "evaluated": [c.to_dict() for c in self.evaluated.values()],
            "rng": [self.rng[0], list(self.rng[1]), self.rng[2]] if self.rng else None,
            "coarse": self.coarse, "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, d: Any) -> SearchState:
        """A saved state, checked against `schemas/search_state.json` and its generator's state
        restored once, because a resumed search reads a file anyone may have edited: a value of the
        wrong type would otherwise fail deep in the search. Raises ValueError saying where it breaks."""
        if (found := schema_problem(d, state_schema())) is not None:
            where, problem = found
            raise ValueError(f"{where}: {problem}")
        rng = (d["rng"][0], tuple(d["rng"][1]), d["rng"][2]) if d["rng"] else None
        if rng is not None:
            try:
                random.Random().setstate(rng)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ValueError(f"rng: not a state of Python's random generator ({exc})") from None
        evaluated = [Candidate.from_dict(c) for c in d["evaluated"]]
        return cls(
            d["settings"], d["generation"], [SubnetConfig.from_dict(c) for c in d["population"]],
            {c.config.hash: c for c in evaluated}, rng, d["coarse"], d["seconds"],
        )

    def ranked(self) -> list[Candidate]:
        """Most accurate first; ties go to the lower cost (the share of its budgets used; then to the earlier evaluated)."""
        return sorted(self.evaluated.values(), key=lambda c: (c.accuracy, -c.cost), reverse=True)

    def best(self) -> Candidate:
        return self.ranked()[0]


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates no other candidate beats on both accuracy and cost (the share of its budgets used:
    on one device with one ranking budget, the order of its predicted latency)."""
    ordered = sorted(candidates, key=lambda c: (c.cost, -c.accuracy))
    front: list[Candidate] = []
    best = -np.inf
    for c in ordered:
        if c.accuracy > best:
            front.append(c)
            best = c.accuracy
    return front
