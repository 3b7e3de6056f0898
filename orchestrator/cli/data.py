"""`bench data`: data sets for training and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from orchestrator.cli.common import console, number

data_app = typer.Typer(help="Make data sets for training and demos.", no_args_is_help=True)


@data_app.command("digits")
def data_digits(
    out: Path = typer.Option(Path("data/digits"), "--out", help="folder to write (ImageNet layout: train/ and val/)"),
    per_class: Optional[int] = typer.Option(
        None, "--per-class", callback=number(1, 10_000), help="keep the first N images of each digit (default: all, about 180)"
    ),
) -> None:
    """Write scikit-learn's bundled handwritten digits (1,797 real images, 10 classes) as an ImageFolder."""
    from search.training.data import write_digits

    counts = write_digits(out, per_class=per_class)
    console.print(f"wrote {counts['train']} training and {counts['val']} test images (10 classes) to {out}")
