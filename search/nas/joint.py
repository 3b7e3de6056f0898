"""One model for several devices: a subnet is within the budgets only when it is within every one.

An app ships one architecture to its Android build (XNNPACK, often int8) and its iPhone build
(Core ML). A model searched for one device can land over another's budget (on this machine's four
devices, up to 1.16x another device's budget of the same quantile), so each device's budget is held
at once: every subnet is priced by each device's LUT with that LUT's own calibrated interval
(`Pricer`), and is feasible only where all of them admit it. The first device is the primary: its
prediction is the one a candidate is listed with; the others' are asked for by name.

The coarse phase ranks subnets by the share of the budget they use on the device that binds them
(`Priced.load`), so a subnet that is cheap on one device and at its limit on another counts as at
its limit. A budget set no subnet meets at once is refused naming, for each device, the least
budget it would need given the others, and the device whose raise is the smallest.
"""

from __future__ import annotations

import numpy as np

from search.nas.budget import BudgetError, Priced, Pricer, round_up
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch


class JointPricer(Pricer):
    """Several devices' pricers (device name -> its `Pricer`, the primary first) held as one."""

    def __init__(self, pricers: dict[str, Pricer]) -> None:
        if not pricers:
            raise ValueError("a joint budget needs at least one device")
        primary = next(iter(pricers.values()))
        super().__init__(primary.predictor, primary.space, primary.budget)
        self.pricers = pricers

    def excess(self, config: SubnetConfig, slack: float = 0.0) -> str | None:
        for name, pricer in self.pricers.items():
            if (excess := pricer.excess(config, slack)) is not None:
                return f"{excess} on {name}"
        return None

    def _priced(self, batch: ConfigBatch) -> Priced:
        each = [p._priced(batch) for p in self.pricers.values()]
        feasible = np.logical_and.reduce([e.feasible for e in each])
        return Priced(batch, each[0].ms, each[0].params, feasible, np.maximum.reduce([e.load for e in each]))

    def least_given_others(self) -> dict[str, float | None]:
        """Per device, the least budget (rounded up, so that it passes) at which some subnet meets it
        while meeting every other device's budget as it stands; None where no subnet meets the others."""
        least = {name: np.inf for name in self.pricers}
        for batch in self._reachable_draws():
            feasible = {name: p._priced(batch).feasible for name, p in self.pricers.items()}
            for name, pricer in self.pricers.items():
                others = np.logical_and.reduce([f for n, f in feasible.items() if n != name] or [np.ones(len(batch), dtype=bool)])
                if others.any():
                    least[name] = min(least[name], float(pricer.needed(batch)[others].min()))
        return {name: round_up(v) if np.isfinite(v) else None for name, v in least.items()}

    def least_budget(self) -> float | None:
        return self.least_given_others()[next(iter(self.pricers))]

    def check_reachable(self, latency: str = "--budget", params_name: str = "--params-m", memory_name: str = "--memory-mb") -> None:
        """Each device's budget alone first (its own message, naming its LUT), then all at once: a
        set no subnet meets together is refused naming what each device would need given the others."""
        for name, pricer in self.pricers.items():
            pricer.check_reachable(f"{latency} {pricer.predictor.lut.short}=MS ({name})", params_name, memory_name)
        if any(self._priced(batch).feasible.any() for batch in self._reachable_draws()):
            return
        least = self.least_given_others()
        raises = {name: v / self.pricers[name].budget.latency_ms for name, v in least.items() if v is not None}
        if not raises:
            raise BudgetError(f"no subnet is within every device's budget at once ({self._budgets()}), nor within all but one; raise several of them")
        binding = min(raises, key=raises.__getitem__)
        lut = self.pricers[binding].predictor.lut.short
        raise BudgetError(
            f"no subnet is within every device's budget at once, though each alone is met ({self._budgets()}): "
            f"{needs_sentence(least, {name: p.budget.latency_ms for name, p in self.pricers.items()})}; {binding} binds: raise its budget to "
            f"at least {least[binding]:.3g} ({latency} {lut}={least[binding]:.3g}), the smallest raise that admits a subnet"
        )

    def _budgets(self) -> str:
        return ", ".join(f"{name} {p.budget.latency_ms:g} ms" for name, p in self.pricers.items())


def needs_sentence(least: dict[str, float | None], budgets: dict[str, float]) -> str:
    """What each device would need given the others' budgets, in words: the least budget that admits
    a subnet where there is one, and the devices whose own budget cannot help because the others'
    budgets leave no subnet between them."""
    some = [f"{name} {v:.3g} ms (budget {budgets[name]:g})" for name, v in least.items() if v is not None]
    none = [name for name, v in least.items() if v is None]
    parts = [f"given the others' budgets, the least that admits a subnet is {', '.join(some)}"] if some else []
    if none:
        parts.append(f"no budget of {' or '.join(none)} alone admits one, since the others' budgets leave no subnet between them")
    return "; ".join(parts)
