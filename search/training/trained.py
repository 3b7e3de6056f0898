"""A trained supernet as a user takes it (the public API's `Supernet` and `build_model`): loaded
once from `bench train`'s checkpoint, giving subnets as plain modules with BatchNorm recalibrated
and scoring them with the search's own evaluator, so a score here is the one `bench search` ranks
by. torch is imported by the methods, so that importing the API to price subnets stays light."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.errors import UserError
from search.space.config import SubnetConfig, as_config, validate

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from search.training.evaluate import Evaluator

# How a supernet's subnets are scored (`bench search`'s defaults, and the API's): held-out images in
# batches of 128, and BatchNorm statistics re-estimated on 4 such batches of training images (512
# images: half the time per subnet of 1,024).
EVAL_BATCH = 128
CALIBRATION_BATCHES = 4


class Supernet:
    """A trained supernet (`bench train`'s `last.pt`), loaded once, that gives any of its subnets as
    a plain PyTorch module and scores it as `bench search` does (Once-for-All's `get_active_subnet`).

    A subnet inherits the supernet's weights, but a BatchNorm's statistics in the supernet are a mix
    over every subnet trained through it and wrong for any one, so `subnet` re-estimates them on
    training images of `data`, and `accuracy` is that subnet's on the images held out of training:
    the search's own functions (`search.training.evaluate`), so a score here is the one `bench
    search` ranks by. The checkpoint is read once and each data set's images once, so scoring
    hundreds of subnets, a search, costs their forward passes alone; `build_model` reads the
    checkpoint on every call. (Not `search.supernet.model.Supernet`, the internal module it holds.)"""

    def __init__(self, doc: dict[str, Any], device: torch.device) -> None:
        """Use `Supernet.load`; `doc` is a checkpoint as `load_checkpoint` checked it."""
        from search.training.checkpoint import build_supernet, checkpoint_space
        from search.training.settings import TrainSettings

        self.path = Path(doc["path"])
        self.space, trained = checkpoint_space(doc)  # the space as bundled (what LUTs and sampling take), and with its classifier
        self.num_classes: int = trained.head.num_classes
        self.classes: list[str] | None = doc.get("classes")
        self._settings = TrainSettings(**doc["settings"])
        self.resolution: int = self._settings.resolution
        self.data = Path(self._settings.data)  # what it was trained on: the default data, as `bench search` has it
        self.device = device
        self._module = build_supernet(doc, trained).to(device).eval()
        self._evaluators: dict[tuple[Path, int], Evaluator] = {}

    @classmethod
    def load(cls, checkpoint: str | os.PathLike[str], device: str | None = None) -> Supernet:
        """The supernet of `checkpoint` (a `last.pt`, or the run folder holding it), on `device`
        (default: the GPU where there is one, else the CPU), where its subnets are built and scored."""
        import torch

        from search.training.checkpoint import load_checkpoint

        if not isinstance(checkpoint, (str, os.PathLike)):
            raise UserError(f"checkpoint must be the path of a supernet checkpoint (bench train's last.pt), not {type(checkpoint).__name__}")
        try:
            place = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        except (RuntimeError, TypeError):
            raise UserError(f"device must be a torch device such as 'cpu' or 'cuda:0', or None, not {device!r}") from None
        if place.type not in ("cpu", "cuda"):  # "meta" holds no numbers: every score would fail later, far from here
            raise UserError(f"device {device!r} cannot run a subnet; give 'cpu', 'cuda' or 'cuda:N', or None")
        if place.type == "cuda" and not torch.cuda.is_available():
            raise UserError(f"device {device!r}, but torch sees no GPU here; give 'cpu', or None for the GPU where there is one")
        if place.type == "cuda" and place.index is not None and place.index >= torch.cuda.device_count():
            raise UserError(f"device {device!r}, but torch sees {torch.cuda.device_count()} GPU(s) here; give one of cuda:0 to cuda:{torch.cuda.device_count() - 1}")
        return cls(load_checkpoint(Path(checkpoint)), place)

    def subnet(self, config: SubnetConfig | dict[str, Any], data: str | os.PathLike[str] | None = None) -> nn.Module:
        """The subnet as a static module (eval mode, on the supernet's device), BatchNorm
        re-estimated on training images of `data` (an ImageFolder; default: the one the supernet
        was trained on), exactly as the search evaluates and delivers it."""
        from search.training.evaluate import recalibrated

        config = validate(as_config(config), self.space)
        return recalibrated(self._module, config, self.evaluator(data, config.resolution).calibration, self.device).eval()

    def accuracy(self, config: SubnetConfig | dict[str, Any], data: str | os.PathLike[str] | None = None) -> float:
        """The subnet's top-1 accuracy in [0, 1] on the images `bench search` ranks subnets on:
        `data`'s search split (DATA/search) where it has one, else its held-out training images
        (default data: the supernet's own); computed once per subnet."""
        config = validate(as_config(config), self.space)
        return self.evaluator(data, config.resolution)(config)

    def evaluator(self, data: Any, resolution: int) -> Evaluator:
        """The search's evaluator of this supernet's subnets on `data` (None: the supernet's own) at
        `resolution`, its images read once: split as the supernet's training split them (its holdout
        and seed), refused when its classes are not the ones the classifier learnt (scores on them
        would rank subnets by chance)."""
        from search.training.data import open_data, tensor_batches
        from search.training.evaluate import Evaluator

        if data is not None and not isinstance(data, (str, os.PathLike)):
            raise UserError(f"data must be the path of an ImageFolder (train/<class>/<image>) or None, not {type(data).__name__}")
        root = Path(data) if data is not None else self.data
        if not root.is_dir():
            fix = "pass data, the path of an ImageFolder (train/<class>/<image>) of the supernet's classes"
            if data is None:
                raise UserError(f"the supernet {self.path} was trained on data {root}, which is not a folder here; {fix}")
            raise UserError(f"data {root} is not a folder; {fix}")
        key = (root.resolve(), resolution)
        if key not in self._evaluators:
            s = self._settings
            images = open_data(root, resolution, s.holdout, s.seed, s.hflip, EVAL_BATCH * CALIBRATION_BATCHES, s.augment)
            if images.classes != self.classes:
                raise UserError(
                    f"data {root} has the classes {images.classes!r:.80}, but the supernet {self.path} was trained on "
                    f"{self.classes!r:.80}; pass data with the supernet's classes"
                )
            batches = tensor_batches(images.calibration, EVAL_BATCH), tensor_batches(images.selection, EVAL_BATCH)
            self._evaluators[key] = Evaluator(self._module, *batches, self.device)
        return self._evaluators[key]


def build_model(
    config: SubnetConfig | dict[str, Any], checkpoint: str | os.PathLike[str], data: str | os.PathLike[str] | Iterable[Tensor] | None = None,
) -> nn.Module:
    """A subnet as a plain PyTorch module (eval mode, on the CPU) with the weights it inherits from
    a supernet checkpoint (`bench train`'s `last.pt`, or its run folder), as `bench search`
    evaluates and delivers it. Inside the supernet a BatchNorm's statistics are a mix over every
    subnet trained through it, so they are wrong for any one: give `data` (an ImageFolder, read as
    `Supernet.subnet` reads it, or batches of input tensors) and they are re-estimated on it. It
    reads the checkpoint on each call: for many subnets, `Supernet.load` once."""
    from search.supernet.extract import extract
    from search.training.evaluate import recalibrate_batchnorm

    supernet = Supernet.load(checkpoint, "cpu")
    if isinstance(data, (str, os.PathLike)):
        return supernet.subnet(config, data)
    model = extract(supernet._module, validate(as_config(config), supernet.space))
    if data is not None:
        recalibrate_batchnorm(model, _tensor_batches(data), supernet.device)
    return model.eval()


def _tensor_batches(data: Iterable[Any]) -> list[tuple[Tensor, None]]:
    """`build_model`'s data given as batches of input tensors (or (input, label) pairs), as
    `recalibrate_batchnorm` takes them."""
    import torch

    batches = [x[0] if isinstance(x, (tuple, list)) else x for x in data]
    if not batches or not all(isinstance(x, torch.Tensor) and x.dim() == 4 for x in batches):
        raise UserError("data must be an ImageFolder path or batches of input tensors shaped (N, 3, H, W)")
    return [(x, None) for x in batches]
