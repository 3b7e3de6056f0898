"""Data sets with a handful of images: a train/ split that the hold-out takes whole, a held-out set
of two or three images. Either one clear sentence, or a result whose warnings say how little it
shows; never a search that ranks subnets on nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from search.nas.significance import proportion, warnings_for
from tests.test_bad_input import refused
from tests.test_search_cli import HOST, middle_budget, write_lut


def one_image_per_class(digits: Path, to: Path) -> Path:
    for folder in sorted((digits / "train").iterdir()):
        (to / "train" / folder.name).mkdir(parents=True)
        shutil.copy(sorted(folder.iterdir())[0], to / "train" / folder.name)
    return to


ALL_HELD_OUT = (
    r"^error: all 10 images of .*/one-each/train are held out for ranking subnets \(one of each class at least\), which leaves none to train "
    r"on or to recalibrate a subnet's BatchNorm statistics with; give each class of .*/one-each/train two images at least$"
)


def test_training_on_a_set_the_hold_out_takes_whole_is_refused_saying_so(digits_dir: Path, bench, tmp_path: Path) -> None:
    data = one_image_per_class(digits_dir, tmp_path / "one-each")
    refused(bench("train", "--space", "tiny", "--data", str(data), "--out", "run", "--resolution", "64", "--batch-size", "1"), ALL_HELD_OUT)


@pytest.mark.slow
def test_a_search_on_a_set_the_hold_out_takes_whole_is_refused_saying_so(tiny_checkpoint: Path, digits_dir: Path, bench, tmp_path: Path) -> None:
    from search.space import load_space
    from tests.lut_factory import sized_lut

    lut = write_lut(tmp_path / "tiny-host.json", sized_lut(load_space("tiny"), device=HOST))
    data = one_image_per_class(digits_dir, tmp_path / "one-each")
    refused(
        bench("search", "--checkpoint", str(tiny_checkpoint), "--lut", str(lut), "--latency-ms", str(middle_budget(lut)), "--data", str(data), "--no-measure"),
        ALL_HELD_OUT,
    )


def test_two_held_out_images_are_said_to_tell_no_accuracy_from_chance() -> None:
    (warning,) = warnings_for(proportion(2, 2), 2, None, None)
    assert warning == (
        "2 held-out images cannot tell any accuracy from chance (50% for 2 classes): even all 2 right would have the interval [34.2%, 100%], "
        "which reaches below 75%, so the search ranked subnets by noise; hold out more images (train with a larger `bench train --holdout`, or give each "
        "class of DATA/train more images)"
    )


def test_a_two_class_accuracy_well_above_chance_is_not_called_near_chance() -> None:
    assert warnings_for(proportion(990, 1000), 2, None, None) == []
