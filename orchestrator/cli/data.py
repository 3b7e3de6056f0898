"""`bench data`: data sets for training and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from orchestrator.cli.common import console, errors, example, number

data_app = typer.Typer(help="Make data sets for training and demos.", no_args_is_help=True)
# A search ranks the subnets within a budget, which differ by a point or two: on 2,000 images one
# accuracy's standard error is at most 1.1 points (0.9 at 80%), against 1.8 on the 401 held out of train/.
SearchImages = typer.Option(
    2000, "--search-images", callback=number(0, 10_000_000),
    help="canvases of a search split (search/, from the training scans, canvases of their own) a search ranks subnets on; 0: none",
)


def _warn_of_gaps(out: Path) -> None:
    from search.training.digit_sets import class_gaps

    if gaps := class_gaps(out):
        errors.print(f"warning: {gaps}", soft_wrap=True, markup=False, highlight=False)


def _counts(counts: dict[str, int]) -> str:
    search = f" and {counts['search']} search" if counts.get("search") else ""
    return f"{counts['train']} training, {counts['val']} test{search}"


@data_app.command("digits", epilog=example("bench data digits --out data/digits"))
def data_digits(
    out: Path = typer.Option(Path("data/digits"), "--out", help="folder to write (ImageNet layout: train/ and val/)"),
    per_class: Optional[int] = typer.Option(
        None, "--per-class", callback=number(1, 10_000), help="keep the first N images of each digit (default: all, about 180)"
    ),
) -> None:
    """Write scikit-learn's bundled handwritten digits (1,797 real images, 10 classes) as an ImageFolder."""
    from search.training.digit_sets import write_digits

    counts = write_digits(out, per_class=per_class)
    console.print(f"wrote {counts['train']} training and {counts['val']} test images (10 classes) to {out}")


@data_app.command("cluttered")
def data_cluttered(
    out: Path = typer.Option(Path("data/cluttered"), "--out", help="folder to write (ImageNet layout: train/ and val/)"),
    train_images: int = typer.Option(4000, "--train-images", callback=number(10, 10_000_000), help="training canvases"),
    test_images: int = typer.Option(2000, "--test-images", callback=number(10, 10_000_000), help="test canvases (from digit scans no training canvas uses)"),
    seed: int = typer.Option(0, "--seed", callback=number(0), help="one seed, the same images"),
    canvas: int = typer.Option(40, "--canvas", callback=number(24, 1024), help="canvas side in pixels"),
    pieces: int = typer.Option(16, "--pieces", callback=number(0, 100), help="fragments of other digits on every canvas"),
    search_images: int = SearchImages,
) -> None:
    """A digits set with headroom for architecture search: each digit at a random place and size on a
    larger canvas, among fragments cut from other digits (after cluttered MNIST). Deterministic by seed."""
    from search.training.digit_sets import write_cluttered_digits

    counts = write_cluttered_digits(out, train_images, test_images, seed, canvas=canvas, pieces=pieces, search_images=search_images)
    console.print(f"wrote {_counts(counts)} images (10 classes, {canvas} px, {pieces} fragments each) to {out}")
    _warn_of_gaps(out)


@data_app.command("pairs")
def data_pairs(
    out: Path = typer.Option(Path("data/pairs"), "--out", help="folder to write (ImageNet layout: train/ and val/)"),
    train_images: int = typer.Option(6000, "--train-images", callback=number(10, 10_000_000), help="training canvases"),
    test_images: int = typer.Option(2000, "--test-images", callback=number(10, 10_000_000), help="test canvases (from digit scans no training canvas uses)"),
    seed: int = typer.Option(0, "--seed", callback=number(0), help="one seed, the same images"),
    canvas: int = typer.Option(48, "--canvas", callback=number(36, 1024), help="canvas side in pixels"),
    pieces: int = typer.Option(12, "--pieces", callback=number(0, 100), help="fragments of other digits on every canvas"),
    label: str = typer.Option("sum-mod-10", "--label", help="sum-mod-10 (10 classes) or number: the two digits read left to right (100 classes)"),
    search_images: int = SearchImages,
) -> None:
    """A set that needs global context: two digits apart on a cluttered canvas, labelled by their sum
    modulo 10 or by the number they read, so a network must combine what it sees in two places.
    Deterministic by seed."""
    from search.training.digit_sets import PAIR_LABELS, write_digit_pairs

    counts = write_digit_pairs(out, train_images, test_images, seed, canvas=canvas, pieces=pieces, label=label, search_images=search_images)
    pair = PAIR_LABELS[label]
    console.print(f"wrote {_counts(counts)} images ({pair.classes} classes: {pair.description}, {canvas} px) to {out}")
    _warn_of_gaps(out)
