"""Budgets, and pricing candidates against them (vectorised), for one device or several alike.

A search holds a list of targets (`Held`): a device's LUT and, per registered constraint the user
set, its limit and its pricer (`search.nas.constraints`). A subnet is within the budgets where it
is within every limit of every target, each constraint deciding what "within" means (latency also
holds its calibrated interval under the budget plus the tolerance). Nothing here names a
constraint: one more registration is one more limit in the same loops.

The coarse phase ranks subnets by the share of the budget they use, on the target that binds them,
of the constraints that rank (latency: the paper's primary indicator), so a subnet cheap on one
device and at its limit on another counts as at its limit. A set of budgets no subnet meets at
once is refused naming what the user typed: a budget no subnet meets alone with its own message,
else every budget that binds with the least value that admits a subnet given the others.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infra.errors import UserError
from search.nas.constraints import CONSTRAINTS, Limit, Price, Subject, round_up
from search.nas.lut import Lut
from search.nas.memory import Reanchored
from search.space import SearchSpace
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch, decode, random_batch
from search.space.params import count_params, params_batch

REACHABLE_SAMPLES = 50_000  # random subnets a budget is checked against before a search (about a quarter of a second, all of them)
# priced at a time, each chunk drawn with its own seed: a budget that a thousandth of the subnets
# meet is known reachable after the first chunk (~5 ms; a search checks twice), and one no subnet
# meets is refused after them all
REACHABLE_CHUNK = 1_000


class BudgetError(UserError):
    """A budget no subnet can meet; the message says what would admit one."""


def measures_within(measured: float, budget: float, tolerance: float) -> bool:
    """The finish's rule: a model measured (latency at its LUT's speed, memory, size) is within its
    budget up to its constraint's tolerance (`Constraint.tolerance`). Every door's finish asks this
    one function, so the rule changes in one place."""
    return measured <= budget * (1 + tolerance)


def finish_pick(timed: Sequence[Mapping[Any, float]], budgets: Mapping[Any, float], tolerances: Mapping[Any, float]) -> tuple[int, bool]:
    """The finish's choice among candidates, most accurate first, each measured against `budgets`
    (a key -> its budget: a device's constraint, with its constraint's tolerance; a figure a
    candidate lacks, memory its runner measured none of, is not held): the first within every one
    (True), else the one whose largest share of a budget is least, marked over (False)."""
    for i, t in enumerate(timed):
        if all(measures_within(value, budgets[key], tolerances[key]) for key, value in t.items()):
            return i, True
    return min(range(len(timed)), key=lambda i: max(value / budgets[key] for key, value in timed[i].items())), False


def held(lut: Lut, limits: Mapping[str, Limit], base_space: SearchSpace, space: SearchSpace, memory_here: Reanchored | None = None) -> Held:
    """A target priced: every registered constraint priced by `lut` (the space as profiled,
    `base_space`; parameters in the space as trained), in registration order. One with a limit
    must be priced (its refusal names how to get a LUT that can); one without is priced where the
    LUT can, for result.json's figures, and otherwise left with why (`unpriced`). `memory_here`:
    the LUT's memory rescaled to this machine (a host LUT of another CPU)."""
    subject = Subject(lut, base_space, space, memory_here)
    prices: dict[str, Price] = {}
    unpriced: dict[str, str] = {}
    for name, constraint in CONSTRAINTS.items():
        if name in limits:
            prices[name] = constraint.price(subject)
            continue
        try:
            prices[name] = constraint.price(subject)
        except UserError as exc:
            unpriced[name] = str(exc)
    return Held(lut.device.name, lut, {name: limits[name] for name in CONSTRAINTS if name in limits}, prices, unpriced)


@dataclass(frozen=True)
class Held:
    """One target of a search: a device (by its LUT), its limits, and the pricer on that device of
    every constraint its LUT prices, in registration order."""

    name: str
    lut: Lut
    limits: dict[str, Limit]
    prices: dict[str, Price]  # every constraint the LUT prices, a limit or not
    unpriced: dict[str, str] = field(default_factory=dict)  # a constraint without a limit that the LUT cannot price -> why

    def point(self, constraint: str, config: SubnetConfig) -> float:
        return self.prices[constraint].point(config)

    def interval(self, constraint: str, config: SubnetConfig) -> tuple[float, float]:
        return self.prices[constraint].interval(config)


@dataclass(frozen=True)
class Figures:
    """What a search lists a candidate with: the share of its budgets it uses on the target that
    binds it (`cost`, what ties and the Pareto front rank by; 0 where no held budget ranks), and
    every held budget's predicted figure, device by device. No device or budget is primary."""

    cost: float
    predicted: dict[str, dict[str, float]]  # device -> constraint -> its predicted figure, for every budget held there
    params: int


@dataclass(frozen=True)
class Priced:
    batch: ConfigBatch
    params: np.ndarray
    feasible: np.ndarray  # bool: within every limit of every target
    load: np.ndarray  # the largest share of a ranking budget each uses, over the targets


@dataclass
class Reach:
    """What the reachability draws said: how many subnets met every budget, of how many drawn."""

    met: int
    drawn: int

    @property
    def share(self) -> float:
        return self.met / self.drawn if self.drawn else 0.0


class Pricer:
    """Predicted figures of configs on every target, and whether they meet every budget."""

    def __init__(self, held: Sequence[Held], trained_space: SearchSpace) -> None:
        if not held:
            raise ValueError("a search holds at least one target")
        self.held, self.space = list(held), trained_space
        self.resolution = held[0].lut.resolution
        self._params_batch = params_batch(trained_space)
        self.reach: Reach | None = None

    def __iter__(self) -> Iterator[Held]:
        return iter(self.held)

    @property
    def only(self) -> Held:
        """The target of a one-device pricer (`one_device`: a script's or a benchmark's); a search
        of several devices has no one target to stand for them all."""
        if len(self.held) != 1:
            raise ValueError(f"this pricer holds {len(self.held)} devices ({', '.join(h.name for h in self.held)}), not one")
        return self.held[0]

    def pairs(self) -> Iterator[tuple[Held, Limit]]:
        for h in self.held:
            for limit in h.limits.values():
                yield h, limit

    def figures(self, config: SubnetConfig) -> Figures:
        """`config`'s figures as a search lists it (`Candidate`): its cost, each held budget's prediction, its parameters."""
        shares = [h.point(limit.constraint.name, config) / limit.value for h, limit in self.pairs() if limit.constraint.ranks]
        predicted = {h.name: {name: h.point(name, config) for name in h.limits} for h in self.held}
        return Figures(max(shares, default=0.0), predicted, count_params(config, self.space))

    def predicted_words(self, predicted: Mapping[str, Mapping[str, float]]) -> str:
        """A candidate's held predictions in words (`latency 2.31 ms, peak memory 9.1 MiB predicted`),
        each named for its device where several are held."""
        held = {h.name: h for h in self.held}
        words = [
            f"{limit.constraint.noun} {predicted[name][c]:.{limit.constraint.digits}g} {limit.constraint.unit}" + (f" on {name}" if len(self.held) > 1 else "")
            for name, h in held.items() for c, limit in h.limits.items() if c in predicted.get(name, {})
        ]
        return f"{', '.join(words)} predicted" if words else "no budget held"

    def feasible(self, config: SubnetConfig) -> bool:
        return self.excess(config) is None

    def excess(self, config: SubnetConfig, slack: float = 0.0) -> str | None:
        """What puts `config` outside the budgets, in words, or None when it is within them all.
        `slack` (relative) lets figures pass that are over only by rounding: `price` sums a batch's
        predictions in another order, which differs from one subnet's in the last digits."""
        for h, limit in self.pairs():
            if (excess := h.prices[limit.constraint.name].excess(config, limit.value, slack)) is not None:
                return f"{excess} on {h.name}" if len(self.held) > 1 else excess
        return None

    def _fits(self, batch: ConfigBatch) -> dict[tuple[str, str], np.ndarray]:
        return {(h.name, limit.constraint.name): h.prices[limit.constraint.name].fits_batch(batch, limit.value) for h, limit in self.pairs()}

    def _priced(self, batch: ConfigBatch) -> Priced:
        fits = self._fits(batch)
        feasible = np.logical_and.reduce(list(fits.values()))
        loads = [h.prices[limit.constraint.name].point_batch(batch) / limit.value for h, limit in self.pairs() if limit.constraint.ranks]
        return Priced(batch, self._params_batch(batch), feasible, np.maximum.reduce(loads) if loads else np.zeros(len(batch)))

    def price(self, n: int, seed: int) -> Priced:
        """Draw `n` random subnets and price them all at once (nothing decoded to configs yet)."""
        return self._priced(random_batch(self.space, n, np.random.default_rng(seed), self.resolution))

    def random_feasible(self, rng: random.Random, count: int, exclude: set[str]) -> list[SubnetConfig]:
        """`count` distinct feasible random subnets not in `exclude` (drawn in vectorised chunks)."""
        out: list[SubnetConfig] = []
        if count <= 0:
            return out
        seen = set(exclude)
        for _ in range(50):
            priced = self.price(max(1000, 20 * count), rng.randrange(2**32))
            for row in np.flatnonzero(priced.feasible):
                c = decode(priced.batch, int(row), self.space)
                if c.hash not in seen:
                    seen.add(c.hash)
                    out.append(c)
                    if len(out) == count:
                        return out
        return out

    def _draws(self) -> Iterator[ConfigBatch]:
        """The random subnets reachability is judged on, chunk by chunk: the same for every check,
        so that a budget a refusal names passes the check."""
        for seed in range(REACHABLE_SAMPLES // REACHABLE_CHUNK):
            yield random_batch(self.space, REACHABLE_CHUNK, np.random.default_rng(seed), self.resolution)

    def least(self) -> dict[tuple[str, str], tuple[float | None, float | None]]:
        """Per (target, constraint) with a limit: the least budget that admits a subnet of the draws
        alone, and given every other limit as it stands (each rounded up, so that it passes; None
        where none would)."""
        alone = {key: np.inf for key in self._keys()}
        given = dict(alone)
        for batch in self._draws():
            fits = self._fits(batch)
            for h, limit in self.pairs():
                key = (h.name, limit.constraint.name)
                needed = h.prices[limit.constraint.name].needed_batch(batch)
                others = np.logical_and.reduce([f for k, f in fits.items() if k != key] or [np.ones(len(batch), dtype=bool)])
                alone[key] = min(alone[key], float(needed.min()))
                if others.any():
                    given[key] = min(given[key], float(needed[others].min()))

        def shown(value: float) -> float | None:
            return round_up(value) if np.isfinite(value) else None

        return {key: (shown(alone[key]), shown(given[key])) for key in alone}

    def shares(self) -> list[tuple[str, float]]:
        """Each budget in words with the share of the reachability draws it admits alone, tightest first."""
        kept = {key: 0 for key in self._keys()}
        drawn = 0
        for batch in self._draws():
            drawn += len(batch)
            for key, fits in self._fits(batch).items():
                kept[key] += int(fits.sum())
        held = {h.name: h for h in self.held}

        def words(name: str, constraint: str) -> str:
            limit = held[name].limits[constraint]
            return f"{limit.constraint.noun} {limit.shown()}" + (f" on {name}" if len(self.held) > 1 else "")

        return sorted(((words(*key), n / drawn) for key, n in kept.items()), key=lambda pair: pair[1])

    def _keys(self) -> list[tuple[str, str]]:
        return [(h.name, limit.constraint.name) for h, limit in self.pairs()]

    def check_reachable(self) -> Reach:
        """Refuse budgets no subnet meets at once, naming what the user typed and what would admit
        one: first a budget no subnet meets alone (its constraint's own sentence), then, for a set
        met only apart, every budget that binds with the least it would need given the others."""
        met = drawn = 0
        for batch in self._draws():
            met += int(self._priced(batch).feasible.sum())
            drawn += len(batch)
            if met:
                self.reach = Reach(met, drawn)
                return self.reach
        least = self.least()
        held = {h.name: h for h in self.held}
        for (name, constraint), (alone, _) in least.items():
            limit = held[name].limits[constraint]
            if alone is None or alone > limit.value:
                raise BudgetError(self._on(name, held[name].prices[constraint].unreachable(limit, alone)))
        raise BudgetError(self._together(least, held))

    def _on(self, name: str, sentence: str) -> str:
        return f"on {name}: {sentence}" if len(self.held) > 1 else sentence

    def _together(self, least: dict[tuple[str, str], tuple[float | None, float | None]], held: dict[str, Held]) -> str:
        """A set of budgets each met alone and none at once: what each would need given the others,
        the budgets no raise of their own can help, and the smallest raise first."""
        def what(name: str, constraint: str) -> str:
            limit = held[name].limits[constraint]
            return limit.constraint.noun if len(self.held) == 1 else f"{name} {limit.constraint.noun}"

        binds = {key: given for key, (_, given) in least.items() if given is not None}
        stuck = [key for key, (_, given) in least.items() if given is None]
        budgets = ", ".join(f"{what(*key)} {held[key[0]].limits[key[1]].shown()}" for key in least)
        if not binds:
            return f"no subnet is within every budget at once ({budgets}), nor within all but one; raise several of them"
        needs = ", ".join(
            f"{what(*key)} {value:.3g} {held[key[0]].limits[key[1]].constraint.unit} (budget {held[key[0]].limits[key[1]].value:g})" for key, value in binds.items()
        )
        order = sorted(binds, key=lambda key: binds[key] / held[key[0]].limits[key[1]].value)
        raises = [f"{held[name].limits[c].given_as} to at least {binds[(name, c)]:.3g}" for name, c in order]
        parts = [f"given the others' budgets, the least that admits a subnet is {needs}"]
        if stuck:
            parts.append(
                f"no budget of {' or '.join(what(*key) for key in stuck)} alone admits one, since the others' budgets leave no subnet between them"
            )
        name, constraint = order[0]
        return (
            f"no subnet is within every budget at once, though each alone is met ({budgets}): {'; '.join(parts)}; "
            f"{what(name, constraint)} binds the least: raise {raises[0]}, the smallest raise that admits a subnet"
            + (f" (or raise one of: {', '.join(raises[1:])})" if len(raises) > 1 else "")
        )


def one_device(lut: Lut, space: SearchSpace, limits: Mapping[str, float], trained_space: SearchSpace | None = None) -> Pricer:
    """The pricer of one device's LUT held to `limits` (constraint name -> value, each named by its
    constraint's option in refusals): what a script or a benchmark prices subnets with."""
    named = {name: Limit(CONSTRAINTS[name], CONSTRAINTS[name].check(value, CONSTRAINTS[name].option), CONSTRAINTS[name].option) for name, value in limits.items()}
    trained = trained_space or space
    return Pricer([held(lut, named, space, trained)], trained)
