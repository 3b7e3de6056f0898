"""The search loop every strategy runs: evaluate a generation, keep the state, breed the next."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, fields

from infra.shown import duration
from search.nas.budget import BudgetError, Pricer, Reach
from search.nas.strategies.registry import Context, get_strategy
from search.nas.strategies.state import Candidate, SearchSettings, SearchState
from search.space.config import SubnetConfig
from search.training.scored import listening, scored

# A generation's progress is said at most this often: one is a minute or more on a CPU (8 subnets of
# the quick path: 50-95 s), which passed in silence between two generation lines.
PROGRESS_EVERY_S = 30.0


def cli_option(field: str) -> str:
    """A setting as `bench search` takes it (`--coarse-samples`)."""
    return f"--{field.replace('_', '-')}"


class GenerationProgress:
    """How far through its generation the search is, as a log line at most every `every_s` seconds:
    the subnets evaluated of the generation's and the time left in it at the pace so far. It hears
    the share scored of the batch this process scores (`search.training.scored`): under torchrun
    each process scores its share alongside the others, so the main process's share stands for the
    generation's."""

    def __init__(
        self, log: Callable[[str], None], generation: int, generations: int, subnets: int, every_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.label, self.subnets, self.every_s, self.clock = log, f"generation {generation}/{generations}", subnets, every_s, clock
        self.start = self.said = clock()

    def __call__(self, done: int, of: int) -> None:
        now = self.clock()
        if done >= of or now - self.said < self.every_s:  # the generation's own line says the last
            return
        self.said = now
        share = done / of
        left = (now - self.start) * (1 - share) / share
        self.log(f"{self.label}: {round(share * self.subnets)} of its {self.subnets} subnets evaluated, about {duration(left)} left in it")


class Search:
    """Runs one strategy; `save` is called with the state after every generation.

    A generation's new subnets are evaluated as one batch by `evaluate_many` (accuracies in the
    order of the configs), so a caller can split them over processes; by default each goes through
    `evaluate` in turn. Whatever scores the batch says how far through it is
    (`search.training.scored`), and the log says it every `PROGRESS_EVERY_S`. `option` names a
    setting as the caller took it (the CLI's options, the API's `SearchSettings` fields)."""

    def __init__(
        self, settings: SearchSettings, pricer: Pricer, evaluate: Callable[[SubnetConfig], float],
        save: Callable[[SearchState], None] = lambda state: None, log: Callable[[str], None] = lambda message: None,
        evaluate_many: Callable[[list[SubnetConfig]], list[float]] | None = None, option: Callable[[str], str] = cli_option,
    ) -> None:
        settings.check(option)
        self.s, self.pricer, self.save, self.log, self.option = settings, pricer, save, log, option
        self.strategy = get_strategy(settings.strategy).from_settings(settings)
        self.evaluate = evaluate
        self.evaluate_many = evaluate_many or self._one_by_one

    def _one_by_one(self, configs: list[SubnetConfig]) -> list[float]:
        """Each config through `evaluate` in turn, saying how far through the batch it is, as
        `evaluate_many`'s batch scorers say it."""
        accuracies: list[float] = []
        for config in configs:
            accuracies.append(self.evaluate(config))
            scored(len(accuracies), len(configs))
        return accuracies

    def _budget_left(self, state: SearchState) -> int:
        if self.s.max_evaluations is None:
            return 1 << 62
        return self.s.max_evaluations - len(state.evaluated)

    def _evaluate_population(self, state: SearchState) -> None:
        """Evaluate the population's configs not evaluated yet, in population order, up to the
        evaluation budget, saying how far through them it is now and then."""
        new: dict[str, SubnetConfig] = {}
        for config in state.population:
            if config.hash not in state.evaluated and config.hash not in new:
                new[config.hash] = config
        configs = list(new.values())[: max(0, self._budget_left(state))]
        progress = GenerationProgress(self.log, state.generation + 1, self.strategy.generations(), len(configs), PROGRESS_EVERY_S)
        with listening(progress):
            accuracies = self.evaluate_many(configs)
        for config, acc in zip(configs, accuracies, strict=True):
            state.evaluated[config.hash] = Candidate.of(config, acc, self.pricer.figures(config), state.generation)

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
                f"best {_score(best.accuracy)} at {self.pricer.predicted_words(best.predicted)}, {best.params / 1e6:.3f}M params"
            )
            self.save(state)
        return state


def _score(accuracy: float) -> str:
    """A subnet's score as the log says it: an accuracy as a percentage; the API's `run_search`
    ranks by any number a user's function returns (a proxy, a parameter count), which as a
    percentage would read "13089800.00%"."""
    return f"{accuracy:.2%}" if 0 <= accuracy <= 1 else f"score {accuracy:.6g}"
