"""The search loop every strategy runs: evaluate a generation, keep the state, breed the next."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, fields

from search.nas.budget import BudgetError, Pricer, Reach
from search.nas.strategies.registry import Context, get_strategy
from search.nas.strategies.state import Candidate, SearchSettings, SearchState
from search.space.config import SubnetConfig


def cli_option(field: str) -> str:
    """A setting as `bench search` takes it (`--coarse-samples`)."""
    return f"--{field.replace('_', '-')}"


class Search:
    """Runs one strategy; `save` is called with the state after every generation.

    A generation's new subnets are evaluated as one batch by `evaluate_many` (accuracies in the
    order of the configs), so a caller can split them over processes; by default each goes through
    `evaluate` in turn. `option` names a setting as the caller took it (the CLI's options, the
    API's `SearchSettings` fields)."""

    def __init__(
        self, settings: SearchSettings, pricer: Pricer, evaluate: Callable[[SubnetConfig], float],
        save: Callable[[SearchState], None] = lambda state: None, log: Callable[[str], None] = lambda message: None,
        evaluate_many: Callable[[list[SubnetConfig]], list[float]] | None = None, option: Callable[[str], str] = cli_option,
    ) -> None:
        settings.check(option)
        self.s, self.pricer, self.save, self.log, self.option = settings, pricer, save, log, option
        self.strategy = get_strategy(settings.strategy).from_settings(settings)
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

    def _context(self, rng: random.Random) -> Context:
        return Context(self.pricer, rng, self.log, self.s.population, self.s.parents, self.s.seed)

    def _children(self, state: SearchState, ctx: Context) -> list[SubnetConfig]:
        parents = [c.config for c in state.ranked()[: self.s.parents]]
        seen = set(state.evaluated)
        children = self.strategy.breed(ctx, parents, seen)
        return children + self.pricer.random_feasible(ctx.rng, self.s.population - len(children), seen)

    def _none_drawn(self, reach: Reach) -> str:
        """Why the first generation is empty though the budgets are reachable: they admit few
        subnets, and the strategy drew too few to meet one. Never a budget to lower."""
        tight = ", ".join(f"{words} admits {share:.2%}" for words, share in self.pricer.shares()[:3])
        draws = "coarse_samples" in {f.name for f in fields(self.strategy.Settings)}
        fix = f"raise {self.option('coarse_samples')} (the subnets the coarse phase draws), or a budget that binds" if draws else "raise a budget that binds"
        return (
            f"no random subnet drawn for the first generation was within every budget: they admit few subnets ({reach.met} of the "
            f"{reach.drawn:,} drawn to check them; alone, {tight}); {fix}"
        )

    def run(self, state: SearchState | None = None) -> SearchState:
        reach = self.pricer.check_reachable()
        start = time.perf_counter()
        if state is None:
            state = SearchState(asdict(self.s))
            rng = random.Random(self.s.seed)
            seeds = self.strategy.initial(self._context(rng))
            state.population, state.coarse = seeds.configs, seeds.report
            if not state.population:
                raise BudgetError(self._none_drawn(reach))
        else:
            rng = random.Random()
            rng.setstate(state.rng)
        ctx = self._context(rng)
        generations = self.strategy.generations()
        while state.generation < generations and self._budget_left(state) > 0:
            base = state.seconds
            self._evaluate_population(state)
            state.generation += 1
            if state.generation < generations:
                state.population = self._children(state, ctx)
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
