"""What a search scores with: the trained supernet, the data (checked against the classes it was
trained on), the cached calibration and selection batches, BatchNorm recalibration, evaluation and
the test split. The search ranks subnets with it and the finish scores its candidates with it, so
both see the same images the same way.
"""

from __future__ import annotations

import functools
from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import torch

from infra.errors import UserError
from search.space import SearchSpace
from search.space.config import SubnetConfig
from search.supernet.model import Supernet
from search.supernet.static import StaticSubnet
from search.training.checkpoint import build_supernet
from search.training.data import open_data, tensor_batches
from search.training.evaluate import Evaluator, correct, recalibrated
from search.training.settings import TrainSettings
from search.training.trained import CALIBRATION_BATCHES, EVAL_BATCH


class Scorer:
    """The supernet and data of one checkpoint, loaded once, on `device`.

    A job builds its own; a caller that runs many searches of one supernet (a benchmark) builds one
    and gives it to each job (`open_job(scorer=...)`), so the supernet and data are read once and
    `scores` (selection accuracy by subnet hash, which every evaluator reads first and fills) is
    shared by all of them; the caller may keep it on disk."""

    def __init__(
        self, ckpt: dict[str, Any], space: SearchSpace, device: torch.device, data: Path | None = None,
        eval_batch_size: int = EVAL_BATCH, calibration_batches: int = CALIBRATION_BATCHES, scores: MutableMapping[str, float] | None = None,
    ) -> None:
        self.ckpt, self.space, self.device = ckpt, space, device
        self.train_settings = TrainSettings(**ckpt["settings"])
        self.root = data or Path(self.train_settings.data)
        self.eval_batch_size, self.calibration_count = eval_batch_size, calibration_batches
        self.scores: MutableMapping[str, float] = {} if scores is None else scores
        self._batches: tuple[list, list] | None = None

    def _data(self) -> Any:
        """The data, refused when its classes are not the ones the supernet was trained on (labels
        of another set would score subnets on what their outputs do not mean)."""
        s = self.train_settings
        data = open_data(self.root, s.resolution, s.holdout, s.seed, s.hflip, self.eval_batch_size * self.calibration_count, s.augment)
        trained = self.ckpt.get("classes")
        if data.classes != trained:
            raise UserError(
                f"the data {self.root} has the classes {_some(data.classes)}, but checkpoint {self.ckpt['path']} was trained on "
                f"{_some(trained or [])}; pass --data with the checkpoint's classes, or train a supernet on this data"
            )
        return data

    def _load(self) -> tuple[list, list]:
        """The supernet, the data and its cached calibration and selection batches (the images
        subnets are ranked on: `ImageData.selection`), loaded once."""
        if self._batches is None:
            self.supernet: Supernet = build_supernet(self.ckpt, self.space).to(self.device).eval()
            self.data = self._data()
            self._batches = (
                tensor_batches(self.data.calibration, self.eval_batch_size),
                tensor_batches(self.data.selection, self.eval_batch_size),
            )
        return self._batches

    def selection_name(self) -> str:
        """The images subnets are ranked on, in words (the data's search split, or train/'s held-out part)."""
        self._load()
        return self.data.selection_name

    def selection_where(self) -> str:
        """Where a subnet's ranking accuracy was scored, as it follows the accuracy in a sentence."""
        self._load()
        return "held out" if self.data.search is None else "on the search split"

    def selection_record(self) -> str:
        """The selection images as resume compares them."""
        self._load()
        return f"{'DATA/search' if self.data.search is not None else 'DATA/train held out'}, {len(self.data.selection)} images"

    def evaluator(self, cache: Mapping[str, float] | None = None) -> Evaluator:
        """Accuracy on the selection images of subnets of this checkpoint's supernet: from `scores`,
        else from `cache` (a resumed search's own), else scored and kept in `scores`."""
        calibration, selection = self._load()
        return Evaluator(self.supernet, calibration, selection, self.device, ChainMap(self.scores, dict(cache or {})))

    def calibration_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The training images BatchNorm is recalibrated on (an int8 model's observers see the first ones)."""
        return self._load()[0]

    def selection_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The images subnets are ranked on."""
        return self._load()[1]

    @functools.cached_property
    def test_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """The data's test split (val/), read once, or None where it has none."""
        self._load()
        return tensor_batches(self.data.test, self.eval_batch_size) if self.data.test is not None else None

    def test_correct(self, static: torch.nn.Module) -> torch.Tensor | None:
        """Per test image, whether a recalibrated subnet gets it right (reported beside the held-out
        accuracy the search ranked by); None when the data has no test split."""
        return correct(static, self.test_batches, self.device) if self.test_batches is not None else None

    def holdout_correct(self, static: torch.nn.Module) -> torch.Tensor:
        """Per selection image, whether a recalibrated subnet gets it right (candidates against each other)."""
        return correct(static, self.selection_batches(), self.device)

    def recalibrated(self, config: SubnetConfig, batches: int | None = None) -> StaticSubnet:
        """`config`'s subnet with BatchNorm recalibrated on the calibration images (their first
        `batches` where given)."""
        calibration = self.calibration_batches()
        return recalibrated(self.supernet, config, calibration[:batches], self.device)


def _some(classes: list[str], shown: int = 10) -> str:
    """A list of classes as a user reads it: all of a few, else the first and how many in all."""
    names = ", ".join(classes[:shown])
    return f"[{names}]" if len(classes) <= shown else f"[{names}, ...] ({len(classes)} in all)"
