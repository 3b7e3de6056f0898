"""Search strategies over a trained supernet: coarse-to-fine (the paper's Algorithm 2), plain
evolution and random search, all under the same budgets and the same evaluation counter.

Coarse phase (no accuracy needed): draw `coarse_samples` random subnets, price them with the LUT
and the parameter count, keep those within both budgets. A *skeleton* is a subnet's coarse
structure: stage count, every stage's width and depth (MBConv and transformer) and the stem; the
fine choices (per-layer heads and MLP ratios, MBConv expansion) vary around it. The rule, after the
paper's Algorithm 2, where latency is the primary indicator and the parameter count only the memory
threshold T_p: group the feasible subnets by skeleton, represent each skeleton by its feasible
member predicted slowest (the fullest use of the budget; ties: more parameters), and seed the fine
phase with the `population` skeletons whose representatives are slowest.

Fine phase: evolution ranked by held-out accuracy: keep the `parents` best subnets evaluated so
far, make half the next population by crossover of two parents and half by mutation of one
(depth with `p_depth`, each layer choice with `p_layer`); a child must meet both budgets and be
new. When the parents' neighbourhood is exhausted (small spaces, tight budgets), the rest of the
population is random feasible subnets, so every generation still spends its evaluations. Plain evolution is the same loop seeded with random feasible subnets and mutating every
choice with probability 0.1 (the paper's Table 6 baseline); random search evaluates random
feasible subnets. The state is saved after every generation, so a search resumes where it stopped.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from infra.errors import UserError
from infra.schema_check import schema_problem
from search.nas.budget import BudgetError, Pricer
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch, decode
from search.space.sampling import crossover, mutate

STRATEGIES = ("coarse-to-fine", "evolution", "random")
PLAIN_MUTATION = 0.1


@cache
def state_schema() -> dict[str, Any]:
    return json.loads((resources.files("search.nas") / "schemas" / "search_state.json").read_text())


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
        """Each field's type and range, named as a Python caller wrote it (the CLI's options refuse
        the same values first, naming the options)."""
        counts = {"population": 2, "generations": 1, "parents": 1, "coarse_samples": 1, "seed": 0}
        for name, least in counts.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise UserError(f"SearchSettings.{name} must be an integer of at least {least}, not {value!r}")
        if self.max_evaluations is not None and (not isinstance(self.max_evaluations, int) or self.max_evaluations < 1):
            raise UserError(f"SearchSettings.max_evaluations must be None or an integer of at least 1, not {self.max_evaluations!r}")
        for name in ("p_depth", "p_layer"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise UserError(f"SearchSettings.{name} must be a probability between 0 and 1, not {value!r}")

    def check(self, option: Callable[[str], str] = lambda field: f"--{field.replace('_', '-')}") -> None:
        """What depends on several fields, naming them by `option` (the CLI's by default)."""
        if self.strategy not in STRATEGIES:
            raise UserError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if not 0 < self.parents <= self.population:
            raise UserError(f"{option('parents')} must be between 1 and the population ({self.population}), not {self.parents}")


@dataclass
class Candidate:
    config: SubnetConfig
    accuracy: float
    predicted_ms: float
    params: int
    generation: int

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "accuracy": self.accuracy, "predicted_ms": self.predicted_ms,
                "params": self.params, "generation": self.generation}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        return cls(SubnetConfig.from_dict(d["config"]), d["accuracy"], d["predicted_ms"], d["params"], d["generation"])


@dataclass
class CoarseReport:
    samples: int
    feasible: int
    skeletons: int
    seconds: float

    @property
    def candidates_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds else float("inf")


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
        """Most accurate first; ties go to the lower predicted latency (then to the earlier evaluated)."""
        return sorted(self.evaluated.values(), key=lambda c: (c.accuracy, -c.predicted_ms), reverse=True)

    def best(self) -> Candidate:
        return self.ranked()[0]


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


class Search:
    """Runs one strategy; `save` is called with the state after every generation.

    A generation's new subnets are evaluated as one batch by `evaluate_many` (accuracies in the
    order of the configs), so a caller can split them over processes; by default each goes through
    `evaluate` in turn."""

    def __init__(
        self, settings: SearchSettings, pricer: Pricer, evaluate: Callable[[SubnetConfig], float],
        save: Callable[[SearchState], None] = lambda state: None, log: Callable[[str], None] = lambda message: None,
        evaluate_many: Callable[[list[SubnetConfig]], list[float]] | None = None,
    ) -> None:
        settings.check()
        self.s, self.pricer, self.save, self.log = settings, pricer, save, log
        self.evaluate_many = evaluate_many or (lambda configs: [evaluate(c) for c in configs])

    def _budget_left(self, state: SearchState) -> int:
        if self.s.max_evaluations is None:
            return 1 << 62
        return self.s.max_evaluations - len(state.evaluated)

    def _evaluate_population(self, state: SearchState) -> None:
        """Evaluate the population's configs not evaluated yet, in population order, up to the
        evaluation budget."""
        new: dict[str, SubnetConfig] = {}
        for config in state.population:
            if config.hash not in state.evaluated and config.hash not in new:
                new[config.hash] = config
        configs = list(new.values())[: max(0, self._budget_left(state))]
        for config, acc in zip(configs, self.evaluate_many(configs), strict=True):
            state.evaluated[config.hash] = Candidate(config, acc, self.pricer.latency(config), self.pricer.params(config), state.generation)

    def _children(self, state: SearchState, rng: random.Random) -> list[SubnetConfig]:
        parents = state.ranked()[: self.s.parents]
        parent_configs = [c.config for c in parents]
        plain = self.s.strategy == "evolution"
        p_depth, p_layer = (PLAIN_MUTATION, PLAIN_MUTATION) if plain else (self.s.p_depth, self.s.p_layer)
        children: list[SubnetConfig] = []
        seen = set(state.evaluated)
        n_cross = self.s.population // 2
        for attempt in range(self.s.population * 50 if parent_configs else 0):
            if len(children) == self.s.population:
                break
            if len(children) < n_cross and len(parent_configs) > 1:
                a, b = rng.sample(parent_configs, 2)
                child = crossover(self.pricer.space, a, b, rng)
            else:
                child = mutate(self.pricer.space, rng.choice(parent_configs), rng, p_depth, p_layer)
            if child.hash not in seen and self.pricer.feasible(child):
                seen.add(child.hash)
                children.append(child)
        return children + self.pricer.random_feasible(rng, self.s.population - len(children), seen)

    def _initial(self, state: SearchState, rng: random.Random) -> list[SubnetConfig]:
        if self.s.strategy == "coarse-to-fine":
            seeds, report = coarse_phase(self.pricer, self.s.coarse_samples, self.s.population, self.s.seed)
            state.coarse = {**asdict(report), "candidates_per_s": report.candidates_per_s}
            self.log(
                f"coarse phase: {report.samples} subnets priced in {report.seconds:.2f} s ({report.candidates_per_s:,.0f}/s), "
                f"{report.feasible} within budget, {report.skeletons} skeletons, {len(seeds)} seeds"
            )
            # A budget few subnets meet: the coarse sample may hold none of them, the wider draw does.
            return seeds or self.pricer.random_feasible(rng, self.s.population, set())
        size = self.s.population * self.s.generations if self.s.strategy == "random" else self.s.population
        return self.pricer.random_feasible(rng, size, set())

    def run(self, state: SearchState | None = None) -> SearchState:
        self.pricer.check_reachable()
        start = time.perf_counter()
        if state is None:
            state = SearchState(asdict(self.s))
            rng = random.Random(self.s.seed)
            state.population = self._initial(state, rng)
            if not state.population:
                least = self.pricer.least_budget()
                raise BudgetError(
                    f"no random subnet drawn was within the {self.pricer.budget.latency_ms:g} ms budget by every check"
                    + (f"; raise the budget to at least {least:.3g}" if least is not None else "; raise the parameter budget")
                )
        else:
            rng = random.Random()
            rng.setstate(state.rng)
        generations = 1 if self.s.strategy == "random" else self.s.generations
        while state.generation < generations and self._budget_left(state) > 0:
            base = state.seconds
            self._evaluate_population(state)
            state.generation += 1
            if state.generation < generations:
                state.population = self._children(state, rng)
            state.rng = rng.getstate()
            state.seconds = base + time.perf_counter() - start
            start = time.perf_counter()
            best = state.best()
            self.log(
                f"generation {state.generation}/{generations}: {len(state.evaluated)} subnets evaluated, "
                f"best {best.accuracy:.2%} at {best.predicted_ms:.2f} ms predicted, {best.params / 1e6:.3f}M params"
            )
            self.save(state)
        return state


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates no other candidate beats on both accuracy and predicted latency."""
    ordered = sorted(candidates, key=lambda c: (c.predicted_ms, -c.accuracy))
    front: list[Candidate] = []
    best = -np.inf
    for c in ordered:
        if c.accuracy > best:
            front.append(c)
            best = c.accuracy
    return front
