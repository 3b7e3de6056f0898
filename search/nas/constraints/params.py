"""Parameters: one budget (millions) for the model, counted exactly in the space as trained (its
classifier sized for the data's classes); no device measures it, so the finish holds what the
search held."""

from __future__ import annotations

import numpy as np

from search.nas.constraints.base import Constraint, Limit, Observed, Price, Subject, register
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch
from search.space.params import count_params, params_batch
from search.space.sampling import min_config


class ParamsPrice(Price):
    def __init__(self, constraint: Constraint, subject: Subject) -> None:
        super().__init__(constraint, subject)
        self._batch = params_batch(subject.space)

    def count(self, config: SubnetConfig) -> int:
        return count_params(config, self.subject.space)

    def point(self, config: SubnetConfig) -> float:
        return self.count(config) / 1e6

    def point_batch(self, batch: ConfigBatch) -> np.ndarray:
        return self._batch(batch) / 1e6

    def fits_batch(self, batch: ConfigBatch, limit: float) -> np.ndarray:
        return self._batch(batch) <= int(limit * 1e6)  # in whole parameters, as counted

    def excess(self, config: SubnetConfig, limit: float, slack: float = 0.0) -> str | None:
        if (params := self.count(config)) > int(limit * 1e6):
            return f"of {params / 1e6:.3f}M parameters, over the {limit:g}M budget"
        return None

    def unreachable(self, limit: Limit, least: float | None) -> str:
        smallest = self.point(min_config(self.subject.space, self.subject.lut.resolution))
        if smallest > limit.value:
            return f"no subnet meets {limit.value:g}M parameters: the smallest subnet has {smallest:.3f}M; raise {limit.given_as} to at least {smallest:.3f}"
        if least is None:
            return f"no subnet meets {limit.value:g}M parameters while meeting the other budgets; raise those"
        return f"no subnet meets {limit.value:g}M parameters while meeting the other budgets; raise {limit.given_as} to at least {least:.3f}"

    def describe(self, limit: Limit) -> str:
        return f"at most {limit.value:g}M parameters"


@register
class Parameters(Constraint):
    name = "params"
    order = 30
    noun = "parameters"
    unit = "M"
    option = "--params-m"
    argument = "params_m"
    help = "the parameter budget, in millions"
    measured = False
    bounds = (0.0, 1e5)
    digits = 4

    def price(self, subject: Subject) -> Price:
        return ParamsPrice(self, subject)

    def of(self, observed: Observed) -> float | None:
        return None
