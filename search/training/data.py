"""Image data for supernet training and subnet evaluation.

`DATA` is an ImageFolder tree in ImageNet's layout: `DATA/train/<class>/<image>` for training and,
optionally, `DATA/val/<class>/<image>` as the test split. Subnets are ranked during the search on a
held-out part of `train/` (a seeded, per-class split recorded in the checkpoint), never on `val/`:
ranking on the test split would make the reported accuracy of the found subnet optimistic.

The demo and test data set is scikit-learn's bundled handwritten digits (1,797 real 8x8 scans, 10
classes; shipped inside the package, so nothing is downloaded), written out as an ImageFolder so
it goes through exactly the loader ImageNet would.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import datasets, transforms

from infra.errors import UserError
from infra.files import atomic_folder, check_output

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class DataError(UserError):
    """A data directory that cannot be used; the message names the problem and the fix."""


def train_transform(resolution: int, hflip: bool) -> transforms.Compose:
    steps: list = [transforms.RandomResizedCrop(resolution, scale=(0.35, 1.0), antialias=True)]
    if hflip:
        steps.append(transforms.RandomHorizontalFlip())
    return transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def eval_transform(resolution: int) -> transforms.Compose:
    return transforms.Compose([
        transforms.Resize(int(round(resolution / 0.875)), antialias=True),
        transforms.CenterCrop(resolution),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def holdout_indices(targets: list[int], fraction: float, seed: int) -> list[int]:
    """A seeded per-class sample of `fraction` of the images (at least one per class), so every
    class is represented in the held-out set and the split is the same on every rank and resume."""
    by_class: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(targets):
        by_class[t].append(i)
    rng = random.Random(seed)
    picked: list[int] = []
    for t in sorted(by_class):
        members = by_class[t]
        picked += rng.sample(members, max(1, round(len(members) * fraction)))
    return sorted(picked)


@dataclass
class ImageData:
    """The training split, the held-out split and (if present) the test split of one data directory."""

    root: Path
    classes: list[str]
    train: Dataset
    holdout: Dataset
    calibration: Dataset  # training images (not held out), evaluation transform: for BatchNorm recalibration
    test: Dataset | None

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _load_image(path: str) -> Image.Image:
    """torchvision's loader, with a damaged or truncated image named instead of a PIL traceback."""
    try:
        with open(path, "rb") as f:
            return Image.open(f).convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:  # PIL's UnidentifiedImageError and truncation are OSErrors
        raise DataError(f"image {path} cannot be read ({type(exc).__name__}: {exc}); remove or replace it") from None


def _folder(path: Path, transform: transforms.Compose) -> datasets.ImageFolder:
    try:
        return datasets.ImageFolder(str(path), transform=transform, loader=_load_image)
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataError(f"{path} holds no images in class folders ({exc}); use ImageNet's layout {path}/<class>/<image>") from None


def open_data(root: Path, resolution: int, holdout: float, seed: int, hflip: bool = True, calibration_images: int = 1024) -> ImageData:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data directory {root} does not exist; make the demo set with `bench data digits --out {root}` or point --data at an ImageNet-layout folder")
    if not (root / "train").is_dir():
        raise DataError(f"data directory {root} has no train/ folder; use ImageNet's layout {root}/train/<class>/<image>")
    if not 0 < holdout < 1:
        raise DataError(f"--holdout must be a fraction between 0 and 1, not {holdout}")
    train_view = _folder(root / "train", train_transform(resolution, hflip))
    eval_view = _folder(root / "train", eval_transform(resolution))
    held = holdout_indices(train_view.targets, holdout, seed)
    held_set = set(held)
    rest = [i for i in range(len(train_view)) if i not in held_set]
    test = _folder(root / "val", eval_transform(resolution)) if (root / "val").is_dir() else None
    if test is not None and test.classes != train_view.classes:
        raise DataError(f"{root}/val has classes {test.classes[:5]}..., unlike {root}/train; both splits need the same class folders")
    calibration = sorted(random.Random(seed + 1).sample(rest, min(calibration_images, len(rest))))
    return ImageData(root, train_view.classes, Subset(train_view, rest), Subset(eval_view, held), Subset(eval_view, calibration), test)


def tensor_batches(dataset: Dataset, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """All of `dataset` in order, as batches held in memory. Evaluating hundreds of subnets re-reads
    the same images; caching them once avoids re-decoding (and the loader memory growth reported
    for repeated iteration)."""
    return [(x, y) for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False)]


def write_digits(out: Path, test_fraction: float = 0.2, seed: int = 0, per_class: int | None = None) -> dict[str, int]:
    """Write scikit-learn's digits as `out/train/<digit>/*.png` and `out/val/<digit>/*.png` (a
    seeded per-class test split). Pixel values 0-16 are scaled to 0-255 grey. `per_class` keeps
    the first that many images of each digit (of about 180), split the same way: a set small
    enough to train on for a few minutes on a laptop's CPU at the quick preset's 128 px."""
    from sklearn.datasets import load_digits

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; give --out a folder to write the data set into")
    check_output(out, "the data set folder", folder=True)
    if out.is_dir() and {p.name for p in out.iterdir()} - {"train", "val"}:
        raise DataError(f"{out} holds other files than a data set's train/ and val/, so it is not replaced; give --out a new folder")
    digits = load_digits()
    seen: dict[int, int] = defaultdict(int)
    kept: list[int] = []
    for i, label in enumerate(digits.target):
        if per_class is None or seen[int(label)] < per_class:
            seen[int(label)] += 1
            kept.append(i)
    test = {kept[j] for j in holdout_indices([int(digits.target[i]) for i in kept], test_fraction, seed)}
    counts = {"train": 0, "val": 0}
    with atomic_folder(out) as built:  # a set cut short (a full disk, Ctrl-C) never stands where training would trust it
        for i in kept:
            image, label = digits.images[i], digits.target[i]
            split = "val" if i in test else "train"
            folder = built / split / str(int(label))
            folder.mkdir(parents=True, exist_ok=True)
            pixels = np.clip(image * (255.0 / 16.0), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).convert("RGB").save(folder / f"{i:04d}.png")
            counts[split] += 1
    return counts
