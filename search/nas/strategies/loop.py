"""The search loop every strategy runs: evaluate a generation, keep the state, breed the next."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict

from search.nas.budget import BudgetError, Pricer
from search.nas.strategies.registry import get_strategy
from search.nas.strategies.state import Candidate, SearchSettings, SearchState
from search.space.config import SubnetConfig
from search.space.sampling import crossover, mutate


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
        self.strategy = get_strategy(settings.strategy)(settings)
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
        p_depth, p_layer = self.strategy.mutation()
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

    def run(self, state: SearchState | None = None) -> SearchState:
        self.pricer.check_reachable()
        start = time.perf_counter()
        if state is None:
            state = SearchState(asdict(self.s))
            rng = random.Random(self.s.seed)
            state.population = self.strategy.initial(self, state, rng)
            if not state.population:
                least = self.pricer.least_budget()
                raise BudgetError(
                    f"no random subnet drawn was within the {self.pricer.budget.latency_ms:g} ms budget by every check"
                    + (f"; raise the budget to at least {least:.3g}" if least is not None else "; raise the parameter budget")
                )
        else:
            rng = random.Random()
            rng.setstate(state.rng)
        generations = self.strategy.generations()
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


