"""The digit sets `bench data` writes: the plain one and the cluttered one with headroom, both
deterministic by seed, with test images made from scans no training image uses."""

import json

import pytest
from PIL import Image

from search.training.data import open_data, resolve_augment
from search.training.digit_sets import cluttered_canvas, pairs_canvas, write_cluttered_digits, write_digit_pairs, write_digits
from search.training.folders import DataError


def images(root):
    return sorted(p.relative_to(root) for p in root.rglob("*.png"))


def test_the_cluttered_set_is_the_same_bytes_for_the_same_seed_and_differs_for_another(tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        write_cluttered_digits(tmp_path / name, train_images=30, test_images=10, seed=seed)
    first = [(tmp_path / "a" / p).read_bytes() for p in images(tmp_path / "a")]
    assert first == [(tmp_path / "b" / p).read_bytes() for p in images(tmp_path / "b")]
    assert first != [(tmp_path / "c" / p).read_bytes() for p in images(tmp_path / "c")]


def test_the_cluttered_set_has_the_asked_counts_canvas_size_and_recommends_shift_augmentation(tmp_path):
    counts = write_cluttered_digits(tmp_path / "d", train_images=40, test_images=20, seed=3, canvas=48)
    assert counts == {"train": 40, "val": 20}
    assert len(list((tmp_path / "d" / "train").rglob("*.png"))) == 40
    assert Image.open(next((tmp_path / "d" / "val").rglob("*.png"))).size == (48, 48)
    manifest = json.loads((tmp_path / "d" / "bench-data.json").read_text())
    assert (manifest["kind"], manifest["augment"], manifest["canvas"]) == ("cluttered-digits", "shift", 48)
    assert resolve_augment(tmp_path / "d", "auto") == "shift" and resolve_augment(tmp_path, "auto") == "crop"


def test_a_canvas_holds_the_whole_target_digit_and_clutter_never_brighter_than_the_strokes():
    import random

    import numpy as np

    target = np.zeros((8, 8), np.uint8)
    target[2:6, 3] = 255
    canvas = cluttered_canvas(target, [np.full((8, 8), 100, np.uint8)] * 4, random.Random(0), 40, (2.0, 2.0), 4, 6)
    assert canvas.shape == (40, 40) and canvas.max() > 100 and (canvas == 100).any()


def test_the_test_split_comes_from_scans_no_training_canvas_uses(tmp_path, monkeypatch):
    import search.training.digit_sets as sets

    used: dict[str, set[int]] = {"train": set(), "val": set()}
    original = sets._draw

    def spy(images, labels, sources, count, rng, **clutter):
        split = "val" if len(sources) < 1000 else "train"
        used[split] |= set(sources)
        return original(images, labels, sources, count, rng, **clutter)

    monkeypatch.setattr(sets, "_draw", spy)
    write_cluttered_digits(tmp_path / "d", train_images=20, test_images=10)
    assert used["train"] and used["val"] and not used["train"] & used["val"]
    assert len(used["train"]) + len(used["val"]) == 1797


def test_shift_augmentation_keeps_the_whole_image_in_evaluation(tmp_path):
    write_cluttered_digits(tmp_path / "d", train_images=60, test_images=60)
    data = open_data(tmp_path / "d", 64, 0.2, 0, hflip=False, augment="auto")
    names = [type(t).__name__ for t in data.test.transform.transforms]
    assert "CenterCrop" not in names and data.test[0][0].shape == (3, 64, 64)


def test_rewriting_a_set_keeps_a_users_files_inside_its_splits_and_names_them(bench, tmp_path):
    assert bench("data", "digits", "--out", "d2", "--per-class", "2").exit_code == 0
    (tmp_path / "d2" / "train" / "0" / "notes.txt").write_text("mine")
    (tmp_path / "d2" / "val" / "my.csv").write_text("mine")
    result = bench("data", "digits", "--out", "d2", "--per-class", "3")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: d2 holds what `bench data` did not write (train/0/notes.txt, val/my.csv), which replacing the set would delete; "
        "move it out of d2 or give --out a new folder"
    )
    assert (tmp_path / "d2" / "train" / "0" / "notes.txt").read_text() == (tmp_path / "d2" / "val" / "my.csv").read_text() == "mine"
    assert len(images(tmp_path / "d2")) == 20  # the earlier set, untouched


def test_rewriting_a_cluttered_set_keeps_a_users_folder_inside_its_splits(tmp_path):
    write_cluttered_digits(tmp_path / "d", train_images=10, test_images=10)
    (tmp_path / "d" / "train" / "extra").mkdir()
    (tmp_path / "d" / "train" / "extra" / "0001.png").write_bytes(b"mine")
    with pytest.raises(DataError, match=r"did not write \(train/extra\)"):
        write_cluttered_digits(tmp_path / "d", train_images=12, test_images=10)
    assert (tmp_path / "d" / "train" / "extra" / "0001.png").read_bytes() == b"mine"


def test_a_folder_of_images_without_the_manifest_is_not_replaced_though_it_looks_like_a_set(tmp_path):
    mnist = tmp_path / "mnist" / "train" / "0"
    mnist.mkdir(parents=True)
    (mnist / "00001.png").write_bytes(b"mine")
    with pytest.raises(DataError, match=r"holds files but no bench-data\.json, so it is not a set `bench data` wrote and is not replaced"):
        write_digits(tmp_path / "mnist", per_class=2)
    assert (mnist / "00001.png").read_bytes() == b"mine"


def test_a_set_written_here_is_replaced_by_the_next_one(tmp_path):
    write_digits(tmp_path / "d", per_class=2)
    assert write_digits(tmp_path / "d", per_class=3) == {"train": 20, "val": 10}
    assert len(images(tmp_path / "d")) == 30


def test_a_pairs_canvas_holds_both_digits_whole_and_apart():
    import random

    import numpy as np

    first, second = np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)
    first[:, :] = 200
    second[:, :] = 250
    for seed in range(20):
        canvas = pairs_canvas(first, second, [], random.Random(seed), 48, (2.0, 2.0), 0, 6)
        assert (canvas == 200).sum() == 16 * 16 and (canvas == 250).sum() == 16 * 16  # neither cut nor overlapping the other


def spy_on_pairs(monkeypatch) -> tuple[list[tuple[int, int]], list[int]]:
    """Scans whose every pixel tells their digit (20 x digit + 10), so each canvas's two digits can
    be read back where it is drawn (first, second), and each label where it is saved."""
    import numpy as np

    import search.training.digit_sets as sets

    labels = sets._load()[1]
    monkeypatch.setattr(sets, "_load", lambda: (np.array([np.full((8, 8), 20 * d + 10, np.uint8) for d in labels]), labels))
    digits: list[tuple[int, int]] = []
    saved: list[int] = []
    draw, save = sets.pairs_canvas, sets._save
    monkeypatch.setattr(sets, "pairs_canvas", lambda first, second, *a, **k: (digits.append((first[0, 0] // 20, second[0, 0] // 20)), draw(first, second, *a, **k))[1])
    monkeypatch.setattr(sets, "_save", lambda out, split, label, name, pixels: (saved.append(label), save(out, split, label, name, pixels)))
    return digits, saved


def test_a_pairs_set_is_labelled_by_the_two_digits_sum_mod_10(tmp_path, monkeypatch):
    digits, saved = spy_on_pairs(monkeypatch)
    counts = write_digit_pairs(tmp_path / "d", train_images=30, test_images=10, seed=2)
    assert counts == {"train": 30, "val": 10} and len(images(tmp_path / "d")) == 40
    assert saved == [(a + b) % 10 for a, b in digits] and len(set(saved)) > 3
    manifest = json.loads((tmp_path / "d" / "bench-data.json").read_text())
    assert (manifest["kind"], manifest["label"], manifest["augment"]) == ("digit-pairs", "(first + second) mod 10", "shift")


def test_a_number_canvas_puts_the_first_digit_in_the_left_half():
    import random

    import numpy as np

    first, second = np.full((8, 8), 200, np.uint8), np.full((8, 8), 250, np.uint8)
    for seed in range(20):
        canvas = pairs_canvas(first, second, [], random.Random(seed), 48, (2.0, 2.0), 0, 6, side_by_side=True)
        assert (canvas[:, :24] == 200).sum() == 16 * 16 and (canvas[:, 24:] == 250).sum() == 16 * 16


def test_a_number_set_is_labelled_by_the_number_its_two_digits_read(tmp_path, monkeypatch):
    digits, saved = spy_on_pairs(monkeypatch)
    write_digit_pairs(tmp_path / "d", train_images=30, test_images=10, seed=2, label="number")
    assert saved == [10 * a + b for a, b in digits] and len(set(saved)) > 10
    assert json.loads((tmp_path / "d" / "bench-data.json").read_text())["label"].startswith("10 x left + right")


def test_an_unknown_pairs_label_is_refused(tmp_path):
    with pytest.raises(DataError, match="unknown pairs label 'product'; choose one of sum-mod-10, number"):
        write_digit_pairs(tmp_path / "d", train_images=10, test_images=10, label="product")


def test_a_pairs_set_is_the_same_bytes_for_the_same_seed(tmp_path):
    for name in ("a", "b"):
        write_digit_pairs(tmp_path / name, train_images=20, test_images=10, seed=5)
    assert [(tmp_path / "a" / p).read_bytes() for p in images(tmp_path / "a")] == [(tmp_path / "b" / p).read_bytes() for p in images(tmp_path / "b")]


def test_a_pairs_canvas_too_small_for_two_digits_is_refused(tmp_path):
    with pytest.raises(DataError, match="a 30 px canvas cannot hold two digits scaled up to 2.25x side by side; make --canvas larger"):
        write_digit_pairs(tmp_path / "d", train_images=10, test_images=10, canvas=30)


def test_a_search_split_leaves_every_training_and_test_image_as_it_was(tmp_path):
    write_cluttered_digits(tmp_path / "plain", train_images=30, test_images=20, seed=3, canvas=48)
    counts = write_cluttered_digits(tmp_path / "with", train_images=30, test_images=20, seed=3, canvas=48, search_images=25)
    assert counts == {"train": 30, "val": 20, "search": 25}
    for split in ("train", "val"):
        plain, with_search = (sorted((tmp_path / d / split).rglob("*.png")) for d in ("plain", "with"))
        assert [p.relative_to(tmp_path / "plain") for p in plain] == [p.relative_to(tmp_path / "with") for p in with_search]
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(plain, with_search))
    search = sorted((tmp_path / "with" / "search").rglob("*.png"))
    train = {p.read_bytes() for p in (tmp_path / "with" / "train").rglob("*.png")}
    assert len(search) == 25 and not any(p.read_bytes() in train for p in search)
    assert json.loads((tmp_path / "with" / "bench-data.json").read_text())["counts"]["search"] == 25
    assert "search" not in json.loads((tmp_path / "plain" / "bench-data.json").read_text())["counts"]


def test_a_search_ranks_on_the_search_split_where_the_set_has_one(tmp_path):
    from search.training.data import open_data

    write_cluttered_digits(tmp_path / "d", train_images=60, test_images=20, seed=3, canvas=48, search_images=30)
    data = open_data(tmp_path / "d", 64, 0.1, 0)
    assert len(data.selection) == 30 and data.selection is data.search
    assert data.selection_name == f"{tmp_path / 'd'}/search (30 images)"
    write_cluttered_digits(tmp_path / "e", train_images=60, test_images=20, seed=3, canvas=48)
    plain = open_data(tmp_path / "e", 64, 0.1, 0)
    assert plain.selection is plain.holdout and plain.selection_name.startswith(f"the held-out part of {tmp_path / 'e'}/train (")
