"""Image sets made from scikit-learn's bundled handwritten digits (1,797 real 8x8 scans, 10 classes,
shipped inside the package: nothing is downloaded), written as ImageFolders in ImageNet's layout.

`write_digits` is the plain set: easy (a small CNN passes 95%), so it shows that training and search
work but not that architecture matters. `write_cluttered_digits` is the set with headroom, after
the cluttered-MNIST benchmarks (Mnih et al. 2014, "Recurrent Models of Visual Attention": a digit
at a random place on a larger canvas among fragments cut from other digits): the network must find
the digit and ignore strokes that look like parts of other digits, so small subnets fall behind
large ones. `write_digit_pairs` asks for global context: two digits far apart on one cluttered
canvas, labelled by their sum modulo 10 (so a network must recognise both and combine what it saw
in two places: a linear classifier on the pooled sum of two one-hot digits cannot compute their
sum modulo 10; but no single digit tells anything of the label, so training gets no signal until
both are read, and small networks stay at chance) or, with `label="number"`, by the two-digit
number they read left to right (100 classes: which digit is left is lost in a global pool unless
the features before it span both digits, while each digit read alone already earns a gradient).
All are
deterministic by seed. The source scans are split into train and test sources
first, so no test image shares a digit scan (target or clutter) with a training image.

Each set writes `bench-data.json` beside its splits: what it is, and the augmentation it suits
(`bench train --augment auto` reads it): a random-resized crop cuts a digit apart, so digits are
trained with small shifts, rotations and scalings of the whole image instead.
"""

from __future__ import annotations

import random
import re
import stat
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from infra.files import atomic_folder, check_output, existing, write_json_atomic
from search.training.folders import MANIFEST, DataError, holdout_indices

CLUTTER_DEFAULTS = {"canvas": 40, "scale": (1.5, 2.5), "pieces": 16, "piece": 6}


def _load() -> tuple[np.ndarray, np.ndarray]:
    """The scans as 0-255 grey images and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.clip(digits.images * (255.0 / 16.0), 0, 255).astype(np.uint8), digits.target.astype(int)


SPLITS = ("train", "val", "search")
CLASS = re.compile(r"^[0-9]{1,2}$")  # the class folders a set writes: digits 0-9, or a pairs set's numbers 0-99
IMAGE = re.compile(r"^[0-9]+\.png$")  # `_save`'s names: the scan's or the canvas's number


def _not_written_here(out: Path) -> list[Path]:
    """What in `out` a set written here would not hold (anything but the manifest and train/, val/
    and search/ of class folders 0-9, or 0-99 for a pairs set read as numbers, of numbered PNGs): replacing the set deletes the whole folder, so a
    file of the user's one or two levels down would go with it."""
    found: list[Path] = []
    for top in sorted(out.iterdir()):
        if top.name == MANIFEST and top.is_file():
            continue
        if top.name not in SPLITS or not top.is_dir():
            found.append(top)
            continue
        for label in sorted(top.iterdir()):
            if not CLASS.match(label.name) or not label.is_dir():
                found.append(label)
                continue
            found += [image for image in sorted(label.iterdir()) if not (IMAGE.match(image.name) and image.is_file())]
    return found


def _start(out: Path) -> None:
    """Refuse, before any work, an `out` that is not a new folder or a set written here, since the
    new set replaces the whole folder."""
    out = Path(out)
    if (info := existing(out, "the data set folder")) is not None and not stat.S_ISDIR(info.st_mode):
        raise DataError(f"{out} is a file; give --out a folder to write the data set into")
    check_output(out, "the data set folder", folder=True)
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / MANIFEST).is_file():  # an ImageFolder of the user's own (MNIST as train/0/00001.png) looks like ours
        raise DataError(f"{out} holds files but no {MANIFEST}, so it is not a set `bench data` wrote and is not replaced; give --out a new folder")
    if found := _not_written_here(out):
        shown = ", ".join(str(p.relative_to(out)) for p in found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise DataError(
            f"{out} holds what `bench data` did not write ({shown}), which replacing the set would delete; "
            f"move it out of {out} or give --out a new folder"
        )


def _save(out: Path, split: str, label: int, name: str, pixels: np.ndarray) -> None:
    folder = Path(out) / split / str(label)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert("RGB").save(folder / name)


def _manifest(out: Path, kind: str, counts: dict[str, int], **details: Any) -> None:
    write_json_atomic(Path(out) / MANIFEST, {"kind": kind, "augment": "shift", "counts": counts, **details})


def write_digits(out: Path, test_fraction: float = 0.2, seed: int = 0, per_class: int | None = None) -> dict[str, int]:
    """Write the scans as `out/train/<digit>/*.png` and `out/val/<digit>/*.png` (a seeded per-class
    test split). `per_class` keeps the first that many scans of each digit (of about 180)."""
    _start(out)
    images, labels = _load()
    seen: dict[int, int] = defaultdict(int)
    kept: list[int] = []
    for i, label in enumerate(labels):
        if per_class is None or seen[int(label)] < per_class:
            seen[int(label)] += 1
            kept.append(i)
    test = {kept[j] for j in holdout_indices([int(labels[i]) for i in kept], test_fraction, seed)}
    counts = {"train": 0, "val": 0}
    with atomic_folder(Path(out)) as built:  # a set cut short (a full disk, Ctrl-C) never stands where training would trust it
        for i in kept:
            split = "val" if i in test else "train"
            _save(built, split, int(labels[i]), f"{i:04d}.png", images[i])
            counts[split] += 1
        _manifest(built, "digits", counts, seed=seed, per_class=per_class)
    return counts


def _scaled(scan: np.ndarray, factor: float) -> np.ndarray:
    side = max(8, round(8 * factor))
    return np.asarray(Image.fromarray(scan).resize((side, side), Image.BILINEAR))


def cluttered_canvas(
    target: np.ndarray, others: list[np.ndarray], rng: random.Random, canvas: int, scale: tuple[float, float], pieces: int, piece: int,
) -> np.ndarray:
    """One image: `target` scaled by a random factor in `scale` at a random place, over `pieces`
    square fragments (side `piece`) cut at random from the `others` (scaled the same way) and placed
    at random; overlaps keep the brighter stroke."""
    out = _clutter(others, rng, canvas, scale, pieces, piece)
    _place(out, target, rng, scale)
    return out


PAIRS_DEFAULTS = {"canvas": 48, "scale": (1.5, 2.25), "pieces": 12, "piece": 6}


def pairs_canvas(
    first: np.ndarray, second: np.ndarray, others: list[np.ndarray], rng: random.Random, canvas: int, scale: tuple[float, float], pieces: int, piece: int,
    side_by_side: bool = False,
) -> np.ndarray:
    """One image of two digits: the clutter of `cluttered_canvas`, then the canvas cut in two halves
    (side by side or one above the other, at random; always side by side, `first` on the left,
    where `side_by_side`) and each digit, scaled by a random factor of its own, at a random place in
    its half, so they never overlap."""
    out = _clutter(others, rng, canvas, scale, pieces, piece)
    half = canvas // 2
    across = side_by_side or rng.random() < 0.5
    regions = [(0, 0, canvas, half), (0, half, canvas, canvas - half)] if across else [(0, 0, half, canvas), (half, 0, canvas - half, canvas)]
    for scan, region in zip((first, second), regions):
        _place(out, scan, rng, scale, region)
    return out


def _clutter(others: list[np.ndarray], rng: random.Random, canvas: int, scale: tuple[float, float], pieces: int, piece: int) -> np.ndarray:
    out = np.zeros((canvas, canvas), dtype=np.uint8)
    for scan in others[:pieces]:
        big = _scaled(scan, rng.uniform(*scale))
        side = min(piece, big.shape[0])
        y, x = rng.randrange(big.shape[0] - side + 1), rng.randrange(big.shape[1] - side + 1)
        cy, cx = rng.randrange(canvas - side + 1), rng.randrange(canvas - side + 1)
        np.maximum(out[cy:cy + side, cx:cx + side], big[y:y + side, x:x + side], out=out[cy:cy + side, cx:cx + side])
    return out


def _place(out: np.ndarray, scan: np.ndarray, rng: random.Random, scale: tuple[float, float], region: tuple[int, int, int, int] | None = None) -> None:
    """Draw `scan`, scaled, at a random place inside `region` (top, left, height, width) of `out`,
    the whole canvas by default."""
    digit = _scaled(scan, rng.uniform(*scale))
    top, left, height, width = region or (0, 0, *out.shape)
    side = digit.shape[0]
    cy, cx = top + rng.randrange(height - side + 1), left + rng.randrange(width - side + 1)
    np.maximum(out[cy:cy + side, cx:cx + side], digit, out=out[cy:cy + side, cx:cx + side])


def _draw(images: np.ndarray, labels: np.ndarray, sources: list[int], count: int, rng: random.Random, **clutter: Any) -> Iterator[tuple[int, np.ndarray]]:
    """`count` canvases, the targets cycling through the sources in a seeded order (every scan used
    about equally often), the clutter drawn from the same sources."""
    order: list[int] = []
    for n in range(count):
        if not order:
            order = rng.sample(sources, len(sources))
        target = order.pop()
        others = [images[i] for i in rng.sample(sources, clutter["pieces"] + 1) if i != target]
        yield int(labels[target]), cluttered_canvas(images[target], others, rng, **clutter)


@dataclass(frozen=True)
class PairLabel:
    """How a pairs set is labelled: what its manifest says, how many classes, the label of (first,
    second), and whether the digits always stand side by side (first on the left)."""

    description: str
    classes: int
    label_of: Callable[[int, int], int]
    side_by_side: bool


PAIR_LABELS = {
    "sum-mod-10": PairLabel("(first + second) mod 10", 10, lambda a, b: (a + b) % 10, False),
    "number": PairLabel("10 x left + right: the two-digit number read left to right", 100, lambda a, b: 10 * a + b, True),
}


def _pairs_drawer(label: str) -> Callable[..., Iterator[tuple[int, np.ndarray]]]:
    label_of, side_by_side = PAIR_LABELS[label].label_of, PAIR_LABELS[label].side_by_side

    def draw(images: np.ndarray, labels: np.ndarray, sources: list[int], count: int, rng: random.Random, **clutter: Any) -> Iterator[tuple[int, np.ndarray]]:
        """`count` canvases of two digits drawn at random from the sources, labelled by `label`."""
        for _ in range(count):
            first, second, *others = rng.sample(sources, clutter["pieces"] + 2)
            pixels = pairs_canvas(images[first], images[second], [images[i] for i in others], rng, **clutter, side_by_side=side_by_side)
            yield label_of(int(labels[first]), int(labels[second])), pixels

    return draw


def _write_canvases(
    out: Path, kind: str, counts: dict[str, int], seed: int, test_fraction: float, clutter: dict[str, Any], draw: Callable[..., Iterator[tuple[int, np.ndarray]]],
    rng_key: str = "", **details: Any,
) -> dict[str, int]:
    """A canvas set as an ImageFolder: the scans split first into test sources (a seeded per-class
    `test_fraction`) and training sources, so no test canvas shares a scan with a training one; then
    `counts` canvases per split from `draw`, each split's from a generator of its own (a search
    split, from the training sources: canvases of their own, as the held-out part of train/ is, so
    adding it leaves every training and test image as it was)."""
    _start(out)
    counts = {split: count for split, count in counts.items() if count}  # a set without a search split keeps its manifest
    images, labels = _load()
    test_sources = set(holdout_indices(labels.tolist(), test_fraction, seed))
    train_sources = [i for i in range(len(labels)) if i not in test_sources]
    sources = {"train": train_sources, "val": sorted(test_sources), "search": train_sources}
    with atomic_folder(Path(out)) as built:  # a set cut short (a full disk, Ctrl-C) never stands where training would trust it
        for split, count in counts.items():
            rng = random.Random(f"{seed}:{rng_key}{split}")
            for n, (label, pixels) in enumerate(draw(images, labels, sources[split], count, rng, **clutter)):
                _save(built, split, label, f"{n:05d}.png", pixels)
        _manifest(built, kind, counts, seed=seed, test_fraction=test_fraction, **details, **{**clutter, "scale": list(clutter["scale"])})
    return counts


def class_gaps(out: Path) -> str | None:
    """What a written set lacks for training, in words: splits that miss a class the others have
    (training refuses such a set: a class with no training image cannot be learnt, nor one without
    test images scored); None when every split holds every class. A few canvases cannot hold ten
    classes (or a hundred), and small sets are what tests and trials write, so this is said, not refused."""
    splits = [s for s in SPLITS if (Path(out) / s).is_dir()]
    found = {split: {p.name for p in (Path(out) / split).iterdir() if p.is_dir()} for split in splits}
    every = set().union(*found.values())
    short = {split: len(every - classes) for split, classes in found.items() if every - classes}
    if not short:
        return None
    missing = ", ".join(f"{n} of the {len(every)} classes have no images in {split}/" for split, n in short.items())
    return f"{missing}, and training refuses such a set; write it again with more images in that split (--train-images, --test-images or --search-images)"


def write_cluttered_digits(
    out: Path, train_images: int = 4000, test_images: int = 2000, seed: int = 0, test_fraction: float = 0.2,
    canvas: int = CLUTTER_DEFAULTS["canvas"], pieces: int = CLUTTER_DEFAULTS["pieces"], piece: int = CLUTTER_DEFAULTS["piece"],
    scale: tuple[float, float] = CLUTTER_DEFAULTS["scale"], search_images: int = 0,
) -> dict[str, int]:
    """Write `train_images`, `test_images` and `search_images` cluttered canvases (`canvas` px
    square) as an ImageFolder; the test canvases are made only from the test sources (a seeded
    per-class `test_fraction` of the scans), the training and search canvases only from the rest."""
    if piece > canvas or round(8 * scale[1]) > canvas:
        raise DataError(f"a {canvas} px canvas cannot hold digits scaled up to {scale[1]}x or {piece} px pieces; make --canvas larger")
    clutter = {"canvas": canvas, "scale": scale, "pieces": pieces, "piece": piece}
    counts = {"train": train_images, "val": test_images, "search": search_images}
    return _write_canvases(out, "cluttered-digits", counts, seed, test_fraction, clutter, _draw)


def write_digit_pairs(
    out: Path, train_images: int = 6000, test_images: int = 2000, seed: int = 0, test_fraction: float = 0.2,
    canvas: int = PAIRS_DEFAULTS["canvas"], pieces: int = PAIRS_DEFAULTS["pieces"], piece: int = PAIRS_DEFAULTS["piece"],
    scale: tuple[float, float] = PAIRS_DEFAULTS["scale"], label: str = "sum-mod-10", search_images: int = 0,
) -> dict[str, int]:
    """Write canvases of two digits apart among clutter, labelled by `label` (a `PAIR_LABELS` name),
    as an ImageFolder; the test canvases are made only from the test sources, as
    `write_cluttered_digits`'."""
    if label not in PAIR_LABELS:
        raise DataError(f"unknown pairs label {label!r}; choose one of {', '.join(PAIR_LABELS)}")
    if 2 * max(8, round(8 * scale[1])) > canvas or piece > canvas:
        raise DataError(f"a {canvas} px canvas cannot hold two digits scaled up to {scale[1]}x side by side; make --canvas larger")
    clutter = {"canvas": canvas, "scale": scale, "pieces": pieces, "piece": piece}
    key = "pairs:" if label == "sum-mod-10" else f"pairs-{label}:"  # the sum set keeps the bytes it always had
    return _write_canvases(
        out, "digit-pairs", {"train": train_images, "val": test_images, "search": search_images}, seed, test_fraction, clutter, _pairs_drawer(label),
        rng_key=key, label=PAIR_LABELS[label].description,
    )
