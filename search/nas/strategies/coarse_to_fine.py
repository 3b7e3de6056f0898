"""Coarse-to-fine (the paper's Algorithm 2): the coarse phase's slowest skeletons seed an evolution
that mutates with the settings' depth and per-layer probabilities."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from search.nas.strategies.coarse import coarse_phase
from search.nas.strategies.registry import Breeding, Context, Seeds, Strategy, register


@dataclass(frozen=True)
class CoarseToFineSettings(Breeding):
    coarse_samples: int


@register
class CoarseToFine(Strategy):
    name = "coarse-to-fine"
    Settings = CoarseToFineSettings

    def initial(self, ctx: Context) -> Seeds:
        seeds, report = coarse_phase(ctx.pricer, self.s.coarse_samples, ctx.population, ctx.seed)
        ctx.log(
            f"coarse phase: {report.samples} subnets priced in {report.seconds:.2f} s ({report.candidates_per_s:,.0f}/s), "
            f"{report.feasible} within budget, {report.skeletons} skeletons, {len(seeds)} seeds"
        )
        # A budget few subnets meet: the coarse sample may hold none of them, the wider draw does.
        return Seeds(seeds or ctx.pricer.random_feasible(ctx.rng, ctx.population, set()), {**asdict(report), "candidates_per_s": report.candidates_per_s})
