"""The toolkit's public Python surface: what a researcher imports to price subnets against a LUT
inside their own loop, or to run the toolkit's search with their own accuracy function.

The names in `__all__` keep their meaning and signatures across 0.x releases (docs/api.md lists
what they promise and what may change); everything else under `search/` and `orchestrator/` is
internal and may change with any commit. This module stands above `search`'s four sub-packages
(it imports them, none imports it), so that importing a sub-package stays as light as it was. It
holds the functions a user needs that the sub-packages do not offer in one call (a LUT by id,
predictions with their interval and parameter count, every config of a space, a search driven by
a user's accuracy) and names the existing types they take and return, so a user never has to
import an internal module.
"""

from __future__ import annotations

import itertools
import os
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from infra.errors import UserError
from search.nas.budget import Pricer, make_budget
from search.nas.lut import read_lut
from search.nas.predictor import LatencyPredictor
from search.nas.strategies import Candidate, Search, SearchSettings
from search.space import SearchSpace, load_space, space_names
from search.space.config import MBConvStage, SubnetConfig, TransformerStage, validate
from search.space.encoding import ConfigBatch, encode, random_batch
from search.space.params import params_batch
from search.space.sampling import crossover, mutate, random_config

__all__ = [
    "Candidate",
    "ConfigBatch",
    "Found",
    "Prediction",
    "Predictions",
    "Predictor",
    "SearchSettings",
    "SearchSpace",
    "SubnetConfig",
    "UserError",
    "crossover",
    "iter_configs",
    "load_lut",
    "load_space",
    "lut_folder",
    "mutate",
    "random_batch",
    "run_search",
    "sample_configs",
    "space_names",
]


LUT_ID = re.compile(r"^[0-9a-f]{1,16}$")


def lut_folder() -> Path:
    """Where `bench profile` writes LUTs and where ids are looked up: $BENCH_LUTS, else ./luts."""
    return Path(os.environ.get("BENCH_LUTS", "luts"))


def load_lut(ref: str | Path, folder: Path | None = None) -> dict[str, Any]:
    """A LUT document, checked as every reader checks it (schema, content id, names, intervals).

    `ref` is a path to a LUT file, or the id of one (or a unique prefix of it, as `bench` prints
    it) in `folder` (default `lut_folder()`), where LUT files are named `<device>/<space>/<id>.json`.
    """
    path = Path(ref)
    if path.is_file():
        return read_lut(path)
    root = folder if folder is not None else lut_folder()
    found = [] if not LUT_ID.match(str(ref)) else sorted(p for p in root.glob(f"*/*/{ref}*.json") if not p.name.endswith(".validation.json"))
    if len(found) > 1:
        raise UserError(f"LUT id prefix {str(ref)!r} is ambiguous under {root} ({', '.join(p.stem for p in found)}); give more characters")
    if not found:
        raise UserError(f"no LUT file {str(ref)!r} and no LUT with that id under {root}; give a path, or an id `bench lut list` shows")
    return read_lut(found[0])


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

    def __init__(self, lut: dict[str, Any] | str | Path, space: SearchSpace | None = None, num_classes: int | None = None) -> None:
        self.lut: dict[str, Any] = lut if isinstance(lut, dict) else load_lut(lut)
        self.space: SearchSpace = space or load_space(self.lut["space"]["name"])
        self.resolution: int = self.lut["resolution"]
        self._latency = LatencyPredictor(self.lut, self.space)
        self._trained_space = self.space.for_classes(num_classes) if num_classes else self.space
        self._params = params_batch(self._trained_space)

    def predict(self, config: SubnetConfig) -> Prediction:
        """One subnet; an invalid config, or one at another resolution, is an error naming it."""
        many = self.predict_many([config])
        return Prediction(float(many.ms[0]), float(many.low[0]), float(many.high[0]), int(many.params[0]))

    def predict_many(self, configs: Sequence[SubnetConfig] | ConfigBatch) -> Predictions:
        """Configs (each validated) or a `ConfigBatch` (from `random_batch`: millions per second)."""
        batch = configs if isinstance(configs, ConfigBatch) else encode([validate(c, self.space) for c in configs], self.space)
        low, high = self._latency.interval_batch(batch)
        return Predictions(self._latency.predict_batch(batch), low, high, self._params(batch).astype(np.int64))


def sample_configs(space: SearchSpace, n: int, seed: int = 0, resolution: int | None = None) -> list[SubnetConfig]:
    """`n` random subnets (uniform per choice, as training samples them); reproducible by `seed`."""
    rng = random.Random(seed)
    return [random_config(space, rng, resolution) for _ in range(n)]


def iter_configs(space: SearchSpace, resolution: int | None = None) -> Iterator[SubnetConfig]:
    """Every subnet of the space (at one resolution, or at each of the space's), lazily: tiny has
    213 million, the paper's spaces far more (`space.num_subnets()` counts them)."""
    mbconv = [[MBConvStage(w, d, float(e)) for w in s.width for d in s.depth for e in s.expansion] for s in space.mbconv]
    for res in (resolution,) if resolution is not None else space.resolutions:
        for stem, mb in itertools.product(space.stem.width, itertools.product(*mbconv)):
            for stages in space.num_transformer_stages:
                for widths in space.transformer_width_sequences(stages):
                    choices = [
                        [
                            TransformerStage(width, tuple(h for h, _ in layers), tuple(float(r) for _, r in layers))
                            for depth in ss.depth
                            for layers in itertools.product(itertools.product(ss.heads, ss.mlp_ratio), repeat=depth)
                        ]
                        for ss, width in zip(space.transformer, widths)
                    ]
                    for transformer in itertools.product(*choices):
                        yield SubnetConfig(space.name, res, stem, mb, transformer)


@dataclass(frozen=True)
class Found:
    """A search's outcome: the most accurate subnet within budget and every subnet it evaluated."""

    best: Candidate
    evaluated: list[Candidate]
    limit_ms: float  # what predictions were held to


def run_search(
    predictor: Predictor,
    accuracy: Callable[[SubnetConfig], float],
    latency_ms: float,
    params_m: float | None = None,
    settings: SearchSettings | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Found:
    """The toolkit's search (coarse-to-fine by default, `SearchSettings` as `bench search` takes
    them) with `accuracy(config)` scoring each subnet: yours, higher is better. Predictions are held
    at or below `latency_ms` (the CLI tightens that by a validated LUT's margin; pass a lower budget
    for the same effect) and parameters at or below `params_m` millions."""
    pricer = Pricer(predictor._latency, predictor._trained_space, make_budget(latency_ms, params_m, None))
    state = Search(settings or SearchSettings(), pricer, accuracy, log=log).run()
    return Found(state.best(), list(state.evaluated.values()), pricer.budget.limit_ms)
