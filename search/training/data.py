"""Image data for supernet training and subnet evaluation.

`DATA` is an ImageFolder tree in ImageNet's layout: `DATA/train/<class>/<image>` for training and,
optionally, `DATA/val/<class>/<image>` as the test split. Subnets are ranked during the search on a
held-out part of `train/` (a seeded, per-class split recorded in the checkpoint), never on `val/`:
ranking on the test split would make the reported accuracy of the found subnet optimistic.

The demo and test data sets are made from scikit-learn's bundled handwritten digits
(`search.training.digit_sets`), written out as ImageFolders so they go through exactly the loader
ImageNet would.

Augmentation is chosen per data set: `crop` (a random-resized crop, ImageNet's; evaluation resizes
and centre-crops) suits photos, where any crop still shows the object; `shift` (small random
translations, rotations and scalings of the whole image; evaluation only resizes) suits images
whose object may sit anywhere up to the border, such as digits, which a crop cuts apart; `none`
only resizes. `auto` takes what the data set's `bench-data.json` recommends, else `crop`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, Subset
from torchvision import datasets, transforms

from search.training.folders import MANIFEST, DataError, holdout_indices
from search.training.settings import AUGMENTATIONS

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def resolve_augment(root: Path, augment: str) -> str:
    """`auto` becomes what the data set's manifest recommends (written by `bench data`), else `crop`."""
    if augment not in AUGMENTATIONS:
        raise DataError(f"unknown augmentation {augment!r}; choose one of {', '.join(AUGMENTATIONS)}")
    if augment != "auto":
        return augment
    try:
        recommended = json.loads((Path(root) / MANIFEST).read_text()).get("augment")
    except (OSError, ValueError, AttributeError):
        return "crop"
    return recommended if recommended in AUGMENTATIONS[1:] else "crop"


def train_transform(resolution: int, hflip: bool, augment: str = "crop") -> transforms.Compose:
    steps: list = {
        "crop": [transforms.RandomResizedCrop(resolution, scale=(0.35, 1.0), antialias=True)],
        "shift": [
            transforms.Resize((resolution, resolution), antialias=True),
            transforms.RandomAffine(degrees=10, translate=(0.08, 0.08), scale=(0.9, 1.1)),
        ],
        "none": [transforms.Resize((resolution, resolution), antialias=True)],
    }[augment]
    if hflip:
        steps.append(transforms.RandomHorizontalFlip())
    return transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def eval_transform(resolution: int, augment: str = "crop") -> transforms.Compose:
    resize = (
        [transforms.Resize(int(round(resolution / 0.875)), antialias=True), transforms.CenterCrop(resolution)]
        if augment == "crop" else [transforms.Resize((resolution, resolution), antialias=True)]
    )
    return transforms.Compose([*resize, transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


@dataclass
class ImageData:
    """The training split, the held-out split and (if present) the search and test splits of one data directory."""

    root: Path
    classes: list[str]
    train: Dataset
    holdout: Dataset
    calibration: Dataset  # training images (not held out), evaluation transform: for BatchNorm recalibration
    test: Dataset | None
    search: Dataset | None = None  # DATA/search/: images of their own a search ranks subnets on

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def selection(self) -> Dataset:
        """What a search ranks subnets on: the search split where the set has one, else the held-out
        part of train/. A split a few hundred images strong cannot tell subnets within a budget
        apart (one accuracy's standard error on 401 images is 1.8 points), and a larger held-out part
        would take the images from training, so `bench data` writes a search split of its own."""
        return self.search if self.search is not None else self.holdout

    @property
    def selection_name(self) -> str:
        where = f"{self.root}/search" if self.search is not None else f"the held-out part of {self.root}/train"
        return f"{where} ({len(self.selection)} images)"  # type: ignore[arg-type]


SHOWN_UNREADABLE = 5  # unreadable images named in the error; the rest are counted


def _read(path: Path | str) -> Image.Image:
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


def _load_image(split: Path, path: str) -> Image.Image:
    """torchvision's loader, with a damaged or truncated image named instead of a PIL traceback,
    and, since one is rarely alone (a copy cut short, a folder of HTML saved as .jpg), every other
    image of the split that cannot be read counted, so that one run shows them all."""
    try:
        return _read(path)
    except (OSError, SyntaxError, ValueError) as exc:  # PIL's UnidentifiedImageError and truncation are OSErrors
        why = f"{type(exc).__name__}: {exc}"
    others = [p for p in _unreadable(split) if p != Path(path)]
    if not others:
        raise DataError(f"image {path} cannot be read ({why}); remove or replace it")
    named = ", ".join([f"{path} ({why})", *map(str, others[: SHOWN_UNREADABLE - 1])])
    more = f" and {len(others) - SHOWN_UNREADABLE + 1} more" if len(others) >= SHOWN_UNREADABLE else ""
    raise DataError(f"{len(others) + 1} images in {split} cannot be read: {named}{more}; remove or replace them")


def _unreadable(split: Path) -> list[Path]:
    """The images under `split` (a class folder each) that do not decode, in path order. It decodes
    every image, so it runs only once one has failed."""
    bad = []
    for path, _ in datasets.folder.make_dataset(str(split), extensions=datasets.folder.IMG_EXTENSIONS):  # the images ImageFolder lists
        try:
            _read(path)
        except (OSError, SyntaxError, ValueError):
            bad.append(Path(path))
    return sorted(bad)


MEMO_BYTES = 512 * 2**20  # per split: 40,000 RGB images of 64 px, 2,700 of 256 px


def memo_share(workers: int) -> int:
    """The bytes of kept images each loader process may hold a split, so that a run's processes
    hold MEMO_BYTES between them: every DataLoader worker is a process of its own that fills its own
    copy (16 workers would otherwise keep 8 GB a split)."""
    return MEMO_BYTES // max(1, workers)


class SplitLoader:
    """ImageFolder's loader for one split, which keeps each image it reads in memory, decoded and
    (where the augmentation starts by resizing to a square, `shift` and `none`) already at that
    size, until the kept images fill `memo_bytes`. Decoding and resizing are half of what loading a
    digit image costs on a CPU, and a stand-alone run of a small data set re-reads every image 200
    times. What is random (the affine move, the flip, the crop) still runs on every read, and
    torchvision's resize returns an image already of its size untouched, so every tensor is the
    same as when read from disk."""

    def __init__(self, split: Path, square: int | None, memo_bytes: int) -> None:
        self.split, self.memo_bytes = split, memo_bytes
        self.resize = transforms.Resize((square, square), antialias=True) if square else None
        self.memo: dict[str, Image.Image] = {}
        self.kept_bytes = 0

    def __call__(self, path: str) -> Image.Image:
        image = self.memo.get(path)
        if image is None:
            image = _load_image(self.split, path)
            if self.resize is not None:
                image = self.resize(image)
            size = image.width * image.height * len(image.getbands())
            if self.kept_bytes + size <= self.memo_bytes:
                self.memo[path], self.kept_bytes = image, self.kept_bytes + size
        return image


def _folder(path: Path, transform: transforms.Compose, loader: SplitLoader) -> datasets.ImageFolder:
    try:
        return datasets.ImageFolder(str(path), transform=transform, loader=loader)
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataError(f"{path} holds no images in class folders ({exc}); use ImageNet's layout {path}/<class>/<image>") from None


def open_data(
    root: Path, resolution: int, holdout: float, seed: int, hflip: bool = True, calibration_images: int = 1024, augment: str = "crop",
    memo_bytes: int = MEMO_BYTES,
) -> ImageData:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data directory {root} does not exist; make the demo set with `bench data digits --out {root}` or point --data at an ImageNet-layout folder")
    if not (root / "train").is_dir():
        raise DataError(f"data directory {root} has no train/ folder; use ImageNet's layout {root}/train/<class>/<image>")
    if not 0 < holdout < 1:
        raise DataError(f"--holdout must be a fraction between 0 and 1, not {holdout}")
    augment = resolve_augment(root, augment)
    square = resolution if augment in ("shift", "none") else None  # both views of these resize to it first
    train_loader = SplitLoader(root / "train", square, memo_bytes)
    train_view = _folder(root / "train", train_transform(resolution, hflip, augment), train_loader)
    eval_view = _folder(root / "train", eval_transform(resolution, augment), train_loader)
    held = holdout_indices(train_view.targets, holdout, seed)
    held_set = set(held)
    rest = [i for i in range(len(train_view)) if i not in held_set]
    if not rest:  # training needs them, and so does a search: a subnet's BatchNorm statistics are re-estimated on them
        raise DataError(
            f"all {len(held)} images of {root}/train are held out for ranking subnets (one of each class at least), which leaves none to "
            f"train on or to recalibrate a subnet's BatchNorm statistics with; give each class of {root}/train two images at least"
        )
    test, search = (_split(root, name, train_view.classes, eval_transform(resolution, augment), square, memo_bytes) for name in ("val", "search"))
    calibration = sorted(random.Random(seed + 1).sample(rest, min(calibration_images, len(rest))))
    return ImageData(root, train_view.classes, Subset(train_view, rest), Subset(eval_view, held), Subset(eval_view, calibration), test, search)


def _split(root: Path, name: str, classes: list[str], transform: transforms.Compose, square: int | None, memo_bytes: int) -> datasets.ImageFolder | None:
    """An optional split (val/: the test split; search/: what a search ranks on), with train/'s class folders."""
    if not (root / name).is_dir():
        return None
    split = _folder(root / name, transform, SplitLoader(root / name, square, memo_bytes))
    if split.classes != classes:
        raise DataError(f"{root}/{name} has classes {split.classes[:5]}..., unlike {root}/train; both splits need the same class folders")
    return split


class EpochSamples(Dataset):
    """`dataset`'s items keyed by (epoch, index), each drawn with torch's generator seeded by (seed,
    epoch, index): an image's augmentation is then the same in the main process and in any loader
    worker, in a run and in its resumption, so the workers can persist from epoch to epoch instead
    of starting again (and being seeded again) every epoch."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int]:
        epoch, index = key
        with torch.random.fork_rng(devices=[]):  # the caller's generator stays as it was
            torch.manual_seed(random.Random(f"{self.seed}:{epoch}:{index}").getrandbits(63))
            return self.dataset[index]


class EpochIndices(Sampler):
    """The indices of `sampler` (a `DistributedSampler`, its epoch set) as the (epoch, index) keys
    `EpochSamples` takes."""

    def __init__(self, sampler: DistributedSampler) -> None:
        self.sampler = sampler

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.sampler.epoch
        return ((epoch, index) for index in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


def check_trainable(data: ImageData) -> None:
    """Training needs two classes at least: a classifier of one is right whatever it learns. (A
    search may score a one-class set, and is refused when its classes are not the checkpoint's.)"""
    if data.num_classes < 2:
        raise DataError(
            f"{data.root}/train has one class folder ({data.classes[0]!r}); a classifier of one class is right whatever it "
            f"learns (100%), so training would mean nothing; add a folder per class, at least two"
        )


def tensor_batches(dataset: Dataset, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """All of `dataset` in order, as batches held in memory. Evaluating hundreds of subnets re-reads
    the same images; caching them once avoids re-decoding (and the loader memory growth reported
    for repeated iteration). Kept in channels-last layout, the one subnets are evaluated in
    (`search.training.evaluate`), so no batch is converted again for every subnet."""
    return [(x.contiguous(memory_format=torch.channels_last), y) for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False)]
