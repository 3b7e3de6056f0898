"""A budget of one kind (latency, peak memory, parameters, program size, ...) as one registration.

A constraint says everything the toolkit needs to hold a model to a budget of its kind: its name
and unit, how a user sets it (the CLI's option, the API's argument, whether each device gets its
own budget or one holds on every device), how a device's LUT prices it (a point and an interval
per subnet, vectorised for the search), what a device's measurement of a delivered model says of
it, how far a measured model may exceed it at the finish, and its lines in a validation. The
pricer, the measured finish, result.json, resume, the API, the CLI, `bench validate` and the
report iterate over the registered constraints (`CONSTRAINTS`), so a new budget is one module in
this package, as a new search strategy is one module of `strategies/` (timm's `register_model`,
nn-Meter's results keyed by metric).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any, ClassVar, NamedTuple

import numpy as np

from infra.errors import UserError
from search.nas.lut import Lut
from search.nas.memory import Reanchored
from search.nas.run_result import ModelRun
from search.space import SearchSpace
from search.space.config import SubnetConfig
from search.space.encoding import ConfigBatch

TOLERANCE = 0.05  # how far over its budget a delivered model may measure (latency and memory; 5%)


@dataclass(frozen=True)
class Subject:
    """What a constraint prices on one device: the device's LUT (with its latest validation, which
    calibrates latency's intervals), the space as profiled (`base_space`: what the LUT's entries
    price) and the space as trained (`space`: its classifier sized for the data's classes)."""

    lut: Lut
    base_space: SearchSpace
    space: SearchSpace
    memory_here: Reanchored | None = None  # the LUT's memory rescaled to this machine, where the LUT was profiled on another CPU


class Observed(NamedTuple):
    """What a device's session says of one model: its run as the runner reported it (`ModelRun`:
    median, load and first inference, memory where measured), how fast the session ran against the
    LUT (its anchor's median over its LUT latency; None where the LUT has no anchor figure) and the
    bytes of the program it ran (read when it was timed: the file may move into a delivery after).
    Every constraint reads its own figure from it (`Constraint.of`), so a constraint measured from
    a figure every run has needs no change where models are timed."""

    run: ModelRun
    speed: float | None
    program_bytes: int | None

    @property
    def median_ms(self) -> float:
        return self.run.median_ms

    @property
    def memory(self) -> Mapping[str, Any] | None:
        return self.run.memory


@dataclass(frozen=True)
class Limit:
    """A budget the user set: the constraint, its value in the constraint's unit, and how the user
    named it (`--latency-ms`, `--budget 722a8793=MS`, `memory_mb`, ...), so that every message
    names what the user typed."""

    constraint: Constraint
    value: float
    given_as: str

    def shown(self) -> str:
        return f"{self.value:g} {self.constraint.unit}"

    def beyond(self, least: float) -> str | None:
        """Where the least budget that admits a subnet is above the most the option takes, the
        clause that ends a refusal instead of naming a budget the option refuses: no budget can be
        met, since a LUT that predicts more than any device is asked for is broken (or hostile) and
        is built again. None where `least` can be given."""
        high = self.constraint.bounds[1]
        if least <= high:
            return None
        return f"above the most {self.given_as} takes ({high:g} {self.constraint.unit}), so no budget can be met with this LUT; rebuild it with `bench profile`"


class Price:
    """One constraint's prediction on one device. The defaults suit a figure without an interval
    the search must hold (parameters, memory, program size): a subnet fits where its point is at
    or below the budget; latency overrides them to hold its calibrated interval too."""

    def __init__(self, constraint: Constraint, subject: Subject) -> None:
        self.constraint, self.subject = constraint, subject

    def point(self, config: SubnetConfig) -> float:
        raise NotImplementedError

    def point_batch(self, batch: ConfigBatch) -> np.ndarray:
        raise NotImplementedError

    def interval(self, config: SubnetConfig) -> tuple[float, float]:
        """The subnet's 95% interval (where a repeat measurement would fall)."""
        point = self.point(config)
        return point, point

    def details(self, config: SubnetConfig) -> dict[str, float]:
        """Figures beside the one held that result.json records of a subnet (memory's load)."""
        return {}

    def needed_batch(self, batch: ConfigBatch) -> np.ndarray:
        """The least budget each subnet of `batch` passes at (what a refusal names)."""
        return self.point_batch(batch)

    def fits_batch(self, batch: ConfigBatch, limit: float) -> np.ndarray:
        return self.point_batch(batch) <= limit

    def excess(self, config: SubnetConfig, limit: float, slack: float = 0.0) -> str | None:
        """What puts `config` over `limit`, in words, or None where it is within it. `slack`
        (relative) passes figures over only by rounding (a batch sums in another order)."""
        value = self.point(config)
        if value > limit * (1 + slack):
            return f"{self.constraint.predicted_words(value)}, over the {limit:g} {self.constraint.unit} {self.constraint.noun} budget"
        return None

    def floor(self) -> float | None:
        """The least figure this price gives any subnet of the space, exactly, where it knows it
        (an additive table's `least_total`); None where only the draws tell."""
        return None

    def unreachable(self, limit: Limit, least: float | None) -> str:
        """Why no subnet meets `limit` with every other budget of its device met (`least`: the least
        budget that admits one, rounded up so that it passes; None: none would), as one sentence."""
        c, floor = self.constraint, self.floor()
        if floor is not None and (least is None or floor > limit.value):
            needed = max(floor, least or 0.0)
            return (
                f"no subnet fits in {limit.shown()} of {c.noun}: the least {c.noun} LUT {self.subject.lut.short} predicts for a subnet "
                f"is {floor:.3g} {c.unit}" + (f", {beyond}" if (beyond := limit.beyond(needed)) else f"; raise {limit.given_as} to at least {round_up(needed):g}")
            )
        if least is None:
            return f"no subnet meets {limit.shown()} of {c.noun} while meeting the other budgets; raise those"
        head = f"no subnet fits in {limit.shown()} of {c.noun} while meeting the other budgets"
        if beyond := limit.beyond(least):
            return f"{head}: the least budget that would is {least:g} {c.unit}, {beyond}"
        return f"{head}; raise {limit.given_as} to at least {least:g}"

    def describe(self, limit: Limit) -> str:
        """The budget in the search's opening lines."""
        return f"{self.constraint.noun} predicted at or below {limit.value:g} {self.constraint.unit}"

    def record(self, limit: Limit) -> dict[str, Any]:
        """What result.json and the search's inputs keep of the budget beside its value."""
        return {}


class Constraint:
    """One kind of budget (subclasses register themselves: `register`)."""

    name: ClassVar[str]  # "latency": the key of its figures in result.json, a validation and the search's inputs
    noun: ClassVar[str]  # "latency", "peak memory": how sentences name it
    unit: ClassVar[str]  # "ms", "MiB", "M"
    option: ClassVar[str]  # the CLI's option: "--latency-ms"
    argument: ClassVar[str]  # the API's argument: "latency_ms"
    help: ClassVar[str]  # the CLI option's help
    per_device: ClassVar[bool] = False  # each device its own budget (--budget LUT=MS), else one held on every device
    at_lut_speed: ClassVar[bool] = False  # measured at the LUT's speed (the anchor network's ratio): another CPU's budget is said in this one's units
    ranks: ClassVar[bool] = False  # the coarse phase ranks subnets by the share of this budget they use
    measured: ClassVar[bool] = True  # the finish measures it on every reachable device
    tolerance: ClassVar[float] = TOLERANCE  # how far over its budget a measured model may be
    bounds: ClassVar[tuple[float, float]] = (0.0, 1e6)  # a budget lies above the first and at most the second
    digits: ClassVar[int] = 3  # significant digits its figures are printed with
    order: ClassVar[int] = 100  # where it stands among the constraints (options, result lines, records): lowest first
    # How a profile measures it per entry, where it does so by removal (as latency is): the LUT
    # entry's field the profile fills with the difference of `entry_value` between each entry's two
    # networks (median over the sessions, per copy of the block), and the method its
    # `measurement.<name>` record states. None: a profile records nothing of it (or, as memory,
    # attributes it by a method of its own: `orchestrator.lut.memory`).
    entry_field: ClassVar[str | None] = None
    profile_method: ClassVar[str] = ""
    recorded_since: ClassVar[str] = ""  # the figures in the plural ("program sizes"): a LUT profiled before them records none

    def price(self, subject: Subject) -> Price:
        """Its pricer on one device; raises UserError (naming how to get one that can) where the
        device's LUT cannot price it."""
        raise NotImplementedError

    def of(self, observed: Observed) -> float | None:
        """The figure a device's session gives of one model, in the constraint's unit (at the LUT's
        speed for latency); None where the device measures none."""
        raise NotImplementedError

    def entry_value(self, observed: Observed) -> float | None:
        """The figure of one network a profile attributes to entries by removal (in the entry
        field's unit); None where the run gives none. Only constraints with an `entry_field`."""
        return None

    def recorded(self, lut: Lut) -> bool:
        """Whether `lut` was profiled with this figure: its `measurement.<name>` record and every
        entry's `entry_field`."""
        return self.entry_field is not None and self.name in lut.measurement and all(self.entry_field in e for e in lut.entries.values())

    def not_recorded(self, lut: Lut) -> str:
        """Why `lut` records no figure of this constraint, and how to get a LUT that does."""
        why = {
            "transfer": "a transfer LUT scales latency only", "isolated": "its blocks were measured alone", "fitted": "it was fitted to latencies alone",
        }.get(lut.method, f"it was profiled before {self.recorded_since} were recorded")
        return f"LUT {lut.id} records no {self.noun} ({why}); profile the device with `bench profile --device {lut.device.name}` for a LUT that does"

    def profile_record(self, form: str) -> dict[str, Any]:
        """Its `measurement.<name>` record in a LUT it was profiled into (`form`: the program's,
        `.pte` or `.mlpackage`)."""
        return {"method": self.profile_method}

    def validation(self, subject: Subject, configs: Sequence[SubnetConfig], observed: Sequence[Observed]) -> dict[str, Any] | None:
        """Its part of a `bench validate` record: {"record": figures, "points": [per subnet]}, or None
        where a validation records nothing of it (latency's figures are the record's own)."""
        return None

    def validation_figures(self, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Its figures in a validation record, by what they measure (`{"": figures}` for one kind)."""
        section = record.get(self.name)
        return {} if not isinstance(section, dict) or "skipped" in section else {"": section}

    def check(self, value: Any, given_as: str) -> float:
        """A budget as a finite number within the bounds, refused in one sentence naming `given_as`
        (a string, a bool, NaN or infinity: a NaN budget compares false with every prediction). Any
        real number is taken, numpy's too, as a float."""
        low, high = self.bounds
        if not isinstance(value, (Real, np.floating, np.integer)) or isinstance(value, (bool, np.bool_)) or not math.isfinite(float(value)):
            raise UserError(f"{given_as} must be a finite number above {low:g} {self.unit} and at most {high:g}, not {value!r}")
        if not low < float(value) <= high:
            raise UserError(f"{given_as} must be above {low:g} {self.unit} and at most {high:g}, not {float(value):g}")
        return float(value)

    def finish_line(
        self, device: str, predicted: float, interval: tuple[float, float], observed: Observed | None, limit: Limit | None, not_measured: str | None,
    ) -> str | None:
        """The delivered model's figure on one device in words: measured (where `observed` holds it)
        and predicted, against its budget (`limit`, where one was set); None where there is nothing
        to say (no budget, and nothing measured). `not_measured` says why the device timed nothing
        (`--no-measure`, a device out of reach) where `observed` is None: a figure the session did
        not give is the runner's limit only where there was a session."""
        measured = self.of(observed) if observed is not None else None
        if limit is None and measured is None:
            return None
        unmeasured = "not measured by this device's runner" if observed is not None else not_measured or "not measured"
        parts = [self.measured_words(observed, measured) if observed is not None and measured is not None else unmeasured if self.measured else ""]
        parts.append(f"{predicted:.{self.digits}g} {self.unit} predicted")
        if limit is not None:
            within = None if measured is None else measured <= limit.value * (1 + self.tolerance)
            standing = "within" if within else "OVER" if within is False else "judged by its prediction against"
            parts.append(f"{standing} the {limit.value:g} {self.unit} budget" + (f" (+{self.tolerance:.0%})" if within is not None else ""))
        return f"{self.noun} on {device}: " + ", ".join(p for p in parts if p)

    def measured_words(self, observed: Observed, measured: float) -> str:
        return f"{measured:.{self.digits}g} {self.unit} measured"

    def predicted_figure(self, value: float, interval: tuple[float, float], device: str) -> str:
        """A prediction on `device` with its interval where it has one (`latency 2.31 ms predicted on host (2.10-2.52 ms, 95%)`)."""
        lo, hi = interval
        spread = f" ({lo:.{self.digits}g}-{hi:.{self.digits}g} {self.unit}, 95%)" if hi > lo else ""
        return f"{self.noun} {value:.{self.digits}g} {self.unit} predicted on {device}{spread}"

    def predicted_words(self, value: float) -> str:
        return f"predicted at {value:.{self.digits}g} {self.unit}"

    def __repr__(self) -> str:
        return f"<constraint {self.name}>"


CONSTRAINTS: dict[str, Constraint] = {}  # name -> its registration, by `order` (latency first), then name


def register(cls: type[Constraint]) -> type[Constraint]:
    """Class decorator: make a constraint known by its name (one instance: constraints hold no
    state), in its `order` among the others, whatever order the modules are imported in."""
    if cls.name in CONSTRAINTS:
        raise ValueError(f"constraint {cls.name!r} is registered twice")
    registered = {**CONSTRAINTS, cls.name: cls()}
    CONSTRAINTS.clear()
    CONSTRAINTS.update(sorted(registered.items(), key=lambda item: (item[1].order, item[0])))
    return cls


def get_constraint(name: str) -> Constraint:
    if name not in CONSTRAINTS:
        raise UserError(f"unknown constraint {name!r}; the known ones are {', '.join(CONSTRAINTS)}")
    return CONSTRAINTS[name]


def shared_constraints() -> list[Constraint]:
    """The constraints a search holds on every device at once (one budget each), in registration order."""
    return [c for c in CONSTRAINTS.values() if not c.per_device]


def round_up(value: float, digits: int = 3) -> float:
    """`value` rounded up at its `digits`-th significant digit, so the number a message names passes."""
    if value <= 0:
        return value
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return math.ceil(value * scale - 1e-9) / scale
