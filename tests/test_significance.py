"""Accuracies reported with their counts and intervals, and the warnings a search prints when they
cannot show what the user would read into them."""

import numpy as np
import pytest

from search.nas.significance import mcnemar_p, proportion, warnings_for


def test_an_accuracy_of_8_in_30_has_a_wilson_interval_that_holds_chance_for_ten_classes():
    p = proportion(8, 30)
    assert (p.low, p.high) == pytest.approx((0.1418, 0.4445), abs=1e-3)
    assert p.text() == "26.7% [14.2%, 44.4%] on 30 images"


def test_a_found_model_whose_interval_reaches_near_chance_is_warned_about():
    (warning,) = warnings_for(proportion(8, 30), 10, None, None)
    assert "is near chance (10% for 10 classes; its interval reaches below 2x that)" in warning and "train longer" in warning


def test_a_clear_winner_is_not_warned_about():
    assert warnings_for(proportion(280, 300), 10, 0.001, proportion(250, 300)) == []


def test_a_winner_no_better_than_its_runner_up_on_the_same_images_is_warned_about():
    (warning,) = warnings_for(proportion(93, 100), 10, 0.62, proportion(91, 100))
    assert "not distinguishable from the runner-up (93.0% against 91.0%" in warning and "p = 0.62" in warning


def test_mcnemar_counts_only_the_images_the_two_models_disagree_on():
    a = np.array([True] * 90 + [True] * 10 + [False] * 0)
    b = np.array([True] * 90 + [False] * 10)
    assert mcnemar_p(a, b) == pytest.approx(2 * 0.5**10)
    assert mcnemar_p(a, a) == 1.0


def test_the_runner_up_warning_names_the_option_where_it_belongs():
    """The held-out split is made when the supernet is trained; `bench search` has no --holdout."""
    (warning,) = warnings_for(proportion(93, 100), 10, 0.62, proportion(91, 100))
    assert warning.endswith("(train with a larger `bench train --holdout`, or give each class of DATA/train more images)")
