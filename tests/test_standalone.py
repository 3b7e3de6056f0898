"""A subnet trained alone with the supernet's recipe: the reference for ranking, reproducible by seed."""

import torch

from search.space import load_space
from search.space.sampling import min_config
from search.training.standalone import train_alone
from tests.conftest import tiny_train_settings


def test_a_subnet_trained_alone_is_the_same_for_the_same_seed_and_reports_both_accuracies(digits_dir):
    config = min_config(load_space("tiny"), 64)
    settings = tiny_train_settings(digits_dir, epochs=1)
    first, second = (train_alone(config, settings) for _ in range(2))
    assert 0 <= first.holdout_accuracy <= 1 and 0 <= first.test_accuracy <= 1
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
    assert len(first.seconds_per_epoch) == 1


def test_a_run_asked_for_its_curve_has_the_held_out_accuracy_after_every_epoch_and_trains_the_same(digits_dir):
    """The curve is what tells a converged reference from one cut short (benchmarks/task_pilot.py);
    measuring it must not change the training."""
    config = min_config(load_space("tiny"), 64)
    settings = tiny_train_settings(digits_dir, epochs=2)
    plain, traced = train_alone(config, settings), train_alone(config, settings, curve=True)
    assert plain.holdout_curve == [] and len(traced.holdout_curve) == 2
    assert traced.holdout_curve[-1] == traced.holdout_accuracy == plain.holdout_accuracy
    assert all(torch.equal(a, b) for a, b in zip(plain.model.state_dict().values(), traced.model.state_dict().values()))
