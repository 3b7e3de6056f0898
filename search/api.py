"""The toolkit's public Python surface: what a researcher imports to price subnets against a LUT
inside their own loop, or to run the toolkit's search with their own accuracy function.

The names in `__all__` keep their meaning and signatures across 0.x releases (docs/api.md lists
what they promise and what may change); everything else under `search/` and `orchestrator/` is
internal and may change with any commit. This module stands above `search`'s four sub-packages
(it imports them, none imports it), so that importing a sub-package stays as light as it was. It
holds the functions a user needs that the sub-packages do not offer in one call (a LUT by id,
predictions with their interval and parameter count, every config of a space, a search driven by
a user's accuracy, a trained supernet loaded once to take and score subnets from) and names the
existing types they take and return, so a user never has to import an internal module.
"""

from __future__ import annotations

import math
import os
import random
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from infra.errors import UserError
from infra.files import env_path
from search.nas.budget import Pricer, held
from search.nas.constraints import CONSTRAINTS, Limit, get_constraint, shared_constraints
from search.nas.lut import Lut, as_lut, find_lut, read_lut, shipped_luts
from search.nas.predictor import LatencyPredictor
from search.nas.strategies import Candidate, Search, SearchSettings, SearchState, pareto_front
from search.space import SearchSpace, load_space, space_names
from search.space.config import SubnetConfig, as_config, validate
from search.space.encoding import ConfigBatch, encode, random_batch
from search.space.params import params_batch
from search.space.sampling import crossover, every_config, mutate, random_config
from search.supernet.found import FoundModel, load_found
from search.supernet.quantize import quantize
from search.training.trained import Supernet, build_model

__all__ = [
    "Candidate",
    "ConfigBatch",
    "Found",
    "FoundModel",
    "Prediction",
    "Predictions",
    "Predictor",
    "SearchSettings",
    "SearchSpace",
    "SubnetConfig",
    "Supernet",
    "UserError",
    "build_model",
    "crossover",
    "iter_configs",
    "load_found",
    "load_lut",
    "load_space",
    "lut_folder",
    "mutate",
    "pareto",
    "price_networks",
    "quantize",
    "random_batch",
    "run_search",
    "sample_configs",
    "space_names",
]



def lut_folder() -> Path:
    """Where `bench profile` writes LUTs and where ids are looked up first: $BENCH_LUTS, else ./luts.
    Set but empty is refused, as `bench` refuses it: it would make the current folder the store."""
    return env_path("BENCH_LUTS", Path("luts"))


def load_lut(ref: str | os.PathLike[str], folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A LUT document, checked as every reader checks it (schema, content id, names, intervals).

    `ref` is a path to a LUT file, or the id of one (or a unique prefix of it, as `bench` prints
    it) in `folder`, where LUT files are named `<device>/<space>/<id>.json`. Without `folder`, an id
    is looked up in `lut_folder()` and then among the LUTs committed with the toolkit, which ship
    inside the package: `load_lut("aa5a9101")` works from any folder and from the wheel."""
    if not isinstance(ref, (str, os.PathLike)):
        raise UserError(f"ref must be a LUT id or a path to a LUT file, not {type(ref).__name__} {ref!r}")
    if folder is not None and not isinstance(folder, (str, os.PathLike)):
        raise UserError(f"folder must be a path to a folder of LUTs or None, not {type(folder).__name__} {folder!r}")
    path = Path(ref)
    if path.is_file():
        return dict(read_lut(path).doc)
    roots = [Path(folder)] if folder is not None else [lut_folder(), shipped_luts()]
    if (found := find_lut(str(ref), roots)) is not None:
        return dict(read_lut(found).doc)
    where = " or ".join(str(root) for root in roots)
    raise UserError(f"no LUT file {str(ref)!r} and no LUT with that id under {where}; give a path, or an id `bench lut list` shows")


def price_networks(lut: str | os.PathLike[str] | dict[str, Any], networks: Sequence[Sequence[Any]], budget_ms: float | None = None) -> np.ndarray:
    """Milliseconds per network of a layer-wise space (FBNet: each network its 22 blocks, by name
    or index) from a LUT (a document from `load_lut`, or its id or path), fitted with `bench lut
    fit` or transferred from one. With `budget_ms`, whether each is within it once the LUT's
    calibrated margin is added (`measurement.fit.margin`; none for a transferred LUT)."""
    from search.nas.layerwise_predictor import LayerwisePredictor
    from search.space.layerwise import load_layerwise

    doc = as_lut(lut if isinstance(lut, dict) else load_lut(lut))
    predictor = LayerwisePredictor(doc, load_layerwise(doc.space_name))
    if budget_ms is not None:
        if isinstance(budget_ms, bool) or not isinstance(budget_ms, Real) or not math.isfinite(budget_ms) or budget_ms <= 0:
            raise UserError(f"budget_ms must be a finite number of milliseconds above 0, not {budget_ms!r}")
        return predictor.within(networks, float(budget_ms))
    return predictor.predict(networks)


class Prediction(NamedTuple):
    """One subnet priced: predicted latency (ms) with its interval, and its parameter count."""

    ms: float
    low: float
    high: float
    params: int


@dataclass(frozen=True)
class Predictions:
    """Many subnets priced at once; arrays in the order of the configs given."""

    ms: np.ndarray
    low: np.ndarray
    high: np.ndarray
    params: np.ndarray

    def __len__(self) -> int:
        return len(self.ms)


class Predictor:
    """A LUT's latency model of one space at one resolution, with parameter counts.

    `ms` is the LUT's sum over what a subnet contains and `low`-`high` its 95% interval, both from
    `search.nas.predictor.LatencyPredictor` (the latency `bench search` prices with), so the API
    and the toolkit never disagree. `num_classes` sizes the classifier the parameter count assumes
    (default: the space's), as a supernet trained on your data has it."""

    def __init__(self, lut: dict[str, Any] | Lut | str | Path, space: SearchSpace | None = None, num_classes: int | None = None) -> None:
        record = as_lut(lut, "the LUT given as lut") if isinstance(lut, (dict, Lut)) else as_lut(load_lut(lut))
        self.lut: dict[str, Any] = dict(record.doc)  # the document, as `load_lut` gives it
        if space is not None and not isinstance(space, SearchSpace):
            raise UserError(f"space must be a SearchSpace (load_space(name)) or None, not {type(space).__name__}")
        if num_classes is not None and (not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1):
            raise UserError(f"num_classes must be a whole number of at least 1 or None, not {num_classes!r}")
        self.space: SearchSpace = space or load_space(record.space_name)
        self.resolution: int = record.resolution
        self._record = record
        self._latency = LatencyPredictor(record, self.space)
        self._trained_space = self.space.for_classes(num_classes) if num_classes else self.space
        self._params = params_batch(self._trained_space)

    def predict(self, config: SubnetConfig | dict[str, Any]) -> Prediction:
        """One subnet, as a `SubnetConfig` or its dict (`to_dict()`, a `best.json`); an invalid
        config, or one at another resolution, is an error naming it."""
        many = self.predict_many([config])
        return Prediction(float(many.ms[0]), float(many.low[0]), float(many.high[0]), int(many.params[0]))

    def predict_many(self, configs: Sequence[SubnetConfig | dict[str, Any]] | ConfigBatch) -> Predictions:
        """Configs or their dicts (each validated), or a `ConfigBatch` (from `random_batch`: millions
        per second)."""
        if isinstance(configs, (str, bytes, dict)) or not isinstance(configs, (Sequence, ConfigBatch)):
            raise UserError(f"configs must be a list of SubnetConfigs or their dicts, or a ConfigBatch, not {type(configs).__name__}")
        batch = configs if isinstance(configs, ConfigBatch) else encode([validate(as_config(c), self.space) for c in configs], self.space)
        low, high = self._latency.interval_batch(batch)
        return Predictions(self._latency.predict_batch(batch), low, high, self._params(batch).astype(np.int64))

    @property
    def precision(self) -> str:
        """The arithmetic of the programs the LUT priced: "float32", or "int8" for an int8 device's
        LUT, which prices a model `quantize` gives (int8 changes the blocks' costs relative to each
        other, so a float32 LUT does not price an int8 model, nor the other way round)."""
        return self._record.device.precision

    def sample(self, n: int, seed: int = 0) -> list[SubnetConfig]:
        """`n` random subnets at the LUT's resolution, every one of which it prices: `sample_configs`
        of this predictor's space and resolution (a LUT was measured at one resolution, and the
        space's default may be another: tiny's is 64 px, the quick LUT's 128)."""
        return sample_configs(self.space, n, seed, self.resolution)


def _space(space: Any) -> SearchSpace:
    """`space` as the functions that list a space's subnets take it; anything else is refused here,
    not as an AttributeError deep inside."""
    if not isinstance(space, SearchSpace):
        raise UserError(f"space must be a SearchSpace (load_space(name)), not {type(space).__name__} {space!r:.60}")
    return space


def _resolution(resolution: Any, space: SearchSpace) -> int | None:
    """One of the space's resolutions, or None for each of them: a config at any other would be
    refused by everything that takes it (pricing, training, building)."""
    if resolution is None:
        return None
    if not isinstance(resolution, Integral) or isinstance(resolution, bool) or resolution not in space.resolutions:
        allowed = ", ".join(str(r) for r in space.resolutions)
        raise UserError(f"resolution must be one of space {space.name}'s resolutions ({allowed}) or None, not {resolution!r}")
    return int(resolution)


# SubnetConfigs are Python objects (about 0.1 ms and 1.4 KB each): a hundred thousand take seconds
# and 140 MB, a billion would never end. More is random_batch's work (arrays, millions per second).
MAX_SAMPLES = 100_000


def sample_configs(space: SearchSpace, n: int, seed: int = 0, resolution: int | None = None) -> list[SubnetConfig]:
    """`n` random subnets at one resolution (uniform per choice, as training samples them),
    reproducible by `seed`. Without `resolution` it is the space's default, as `bench train` and
    `bench profile` default to, never a mix: a supernet is trained, a LUT measured and a search run
    at one resolution, so a mixed sample is one that no LUT prices whole. For a LUT's resolution use
    `Predictor.sample`, or pass `resolution=predictor.resolution`."""
    space = _space(space)
    resolution = _resolution(resolution, space) or space.default_resolution
    if not isinstance(n, Integral) or isinstance(n, bool) or not 0 <= n <= MAX_SAMPLES:
        raise UserError(
            f"n must be a whole number from 0 to {MAX_SAMPLES:,}, not {n!r}; for more subnets draw a ConfigBatch with "
            "random_batch(space, n, rng, resolution)"
        )
    rng = random.Random(seed)
    return [random_config(space, rng, resolution) for _ in range(n)]


def iter_configs(space: SearchSpace, resolution: int | None = None) -> Iterator[SubnetConfig]:
    """Every subnet of the space (at one resolution, or at each of the space's), lazily: tiny has
    213 million, the paper's spaces far more (`space.num_subnets()` counts them). The arguments are
    checked at the call, not at the first `next()`."""
    space = _space(space)
    return every_config(space, _resolution(resolution, space))


def on_stderr(message: str) -> None:
    """A search's progress by default (`log`): a line on stderr, where a terminal or a notebook
    shows it and a script's own output on stdout stays apart; a generation on a CPU takes a minute
    or more, which passed in silence. `log=lambda message: None` silences it."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Found:
    """A search's outcome: the most accurate subnet within budget, every subnet it evaluated, and
    the budgets predictions were held to (device -> constraint -> value, as `Candidate.predicted`)."""

    best: Candidate
    evaluated: list[Candidate]
    limits: dict[str, dict[str, float]]

    @classmethod
    def of(cls, state: SearchState, pricer: Pricer) -> Found:
        return cls(state.best(), list(state.evaluated.values()), {h.name: {name: limit.value for name, limit in h.limits.items()} for h in pricer})

    @property
    def limit_ms(self) -> float:
        """Deprecated: the latency budget of a one-device search; read `limits[device]["latency"]`."""
        warnings.warn("Found.limit_ms is deprecated: read Found.limits[device]['latency']", DeprecationWarning, stacklevel=2)
        budgets = [by["latency"] for by in self.limits.values() if "latency" in by]
        if len(budgets) != 1:
            raise UserError(f"this search held {len(budgets)} latency budgets ({self.limits}), not one: read Found.limits[device]['latency']")
        return budgets[0]


def run_search(
    predictor: Predictor,
    accuracy: Callable[[SubnetConfig], float],
    latency_ms: float,
    params_m: float | None = None,
    settings: SearchSettings | None = None,
    log: Callable[[str], None] = on_stderr,
    **limits: float | None,
) -> Found:
    """The toolkit's search (coarse-to-fine by default, `SearchSettings` as `bench search` takes
    them) with `accuracy(config)` scoring each subnet: yours, higher is better, a finite number.
    Predictions are held at or below `latency_ms`, each subnet's interval from the LUT's entries at
    or below `latency_ms` + 5% (`bench search` calibrates those intervals on the LUT's validation
    first), parameters at or below `params_m` millions, and each budget of `limits` (one keyword per
    registered constraint held on every device: `memory_mb`, `size_mb`, `load_ms`, ..., which the
    LUT must price, as `search` takes them). `log` is given the search's progress, a
    line at a time: each generation's best, and within a generation the subnets evaluated and the
    time left every 30 s (by default on stderr; `log=lambda message: None` is silent)."""
    if not isinstance(predictor, Predictor):
        raise UserError(f"predictor must be a Predictor (Predictor(load_lut(...))), not {type(predictor).__name__}")
    if not callable(accuracy):
        raise UserError(f"accuracy must be a function of a SubnetConfig returning a number, not {type(accuracy).__name__}")
    if settings is not None and not isinstance(settings, SearchSettings):
        raise UserError(f"settings must be a SearchSettings or None, not {type(settings).__name__}")
    _check_log(log)
    settings = settings or SearchSettings()
    settings.check(option=settings_field)
    given = {**limits, "params_m": params_m}
    if latency_ms is None:  # the budget a search of one LUT is for; the others are optional
        raise UserError("run_search() needs latency_ms, the latency budget in ms on the predictor's device")
    held_to = {
        name: Limit(get_constraint(name), value, argument)
        for name, (value, argument) in shared_limits({"latency_ms": latency_ms, **given}, "run_search()", one_device=True).items()
    }
    pricer = Pricer([held(predictor._record, held_to, predictor.space, predictor._trained_space)], predictor._trained_space)
    pricer.check_reachable()

    def score(config: SubnetConfig) -> float:
        """Your accuracy, refused unless a finite number: a NaN would compare false with every
        other score and could end up the best."""
        value = accuracy(config)
        if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
            raise UserError(f"accuracy(config) must return a finite number, but returned {value!r} for subnet {config.hash}")
        return float(value)

    state = Search(settings, pricer, score, log=log, option=settings_field).run()
    return Found.of(state, pricer)


def settings_field(field: str) -> str:
    """A search setting as the API takes it."""
    return f"SearchSettings.{field}"


def shared_limits(given: Mapping[str, Any], caller: str = "search()", one_device: bool = False) -> dict[str, tuple[float, str]]:
    """The API's one door from keyword budgets to the budgets held on every device: one keyword per
    registered constraint that is not each device's own (`params_m`, `memory_mb`, `size_mb`,
    `load_ms`, ...; None: not set), checked by its constraint, by constraint name with the keyword it
    came as; with `one_device` (`run_search`'s one predictor), each device's own too (`latency_ms`).
    A keyword no registered constraint takes is refused naming those that are. `run_search` and
    `search` both take their budgets through here, so a new constraint is an argument of both."""
    known = {c.argument: c for c in (CONSTRAINTS.values() if one_device else shared_constraints())}
    if unknown := sorted(set(given) - set(known)):
        raise UserError(f"{caller} got {', '.join(unknown)}, which is no budget; the budgets held on every device are {', '.join(sorted(known))}")
    return {known[argument].name: (known[argument].check(value, argument), argument) for argument, value in given.items() if value is not None}


def _check_log(log: Any) -> None:
    """The progress callback, refused before a search starts rather than at its first generation."""
    if not callable(log):
        raise UserError(f"log must be a function of one string (print, or lambda message: None), not {type(log).__name__}")


def pareto(found: Found | Iterable[Candidate]) -> list[Candidate]:
    """The evaluated subnets that no other beats on both accuracy and cost (the share of its budgets
    used on the device that binds it: of one device's latency budget, its predicted latency), cheapest
    first: the trade-off a search found, of which `found.best` is the most accurate within budget."""
    candidates = list(found.evaluated if isinstance(found, Found) else found if isinstance(found, Iterable) else [found])
    if not all(isinstance(c, Candidate) for c in candidates):
        raise UserError(f"found must be what run_search returned, or a list of its Candidates, not {type(found).__name__} {found!r:.60}")
    return pareto_front(candidates)
