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

Each strategy is a small class registered by name (`registry.register`, as timm registers its
models) with its own settings: what it seeds the first generation with, how many generations it
runs and how it breeds them. It sees a small context (pricer, random state, log), never the loop. A
new strategy is one module here that registers itself; `Search` runs whichever the settings name,
and the tests run over every registered one.
"""
import importlib
import pkgutil

from search.nas.strategies.registry import STRATEGIES, Context, Seeds, Strategy, get_strategy, register

# Every module of this package is imported, so each strategy's registers itself: a new strategy is a
# new module and nothing else (the others are the machinery every strategy shares).
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from search.nas.strategies.coarse import CoarseReport, coarse_phase, skeleton
from search.nas.strategies.loop import Search
from search.nas.strategies.state import Candidate, SearchSettings, SearchState, pareto_front, state_schema

__all__ = [
    "STRATEGIES", "Candidate", "CoarseReport", "Context", "Search", "SearchSettings", "SearchState", "Seeds", "Strategy",
    "coarse_phase", "get_strategy", "pareto_front", "register", "skeleton", "state_schema",
]
