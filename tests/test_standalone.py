"""A subnet trained alone with the supernet's recipe: the reference for ranking, reproducible by seed."""

import pytest
import torch

from search.space import load_space
from search.space.sampling import min_config
from search.training.standalone import AloneStateError, train_alone
from tests.conftest import tiny_train_settings


@pytest.mark.slow
def test_a_subnet_trained_alone_is_the_same_for_the_same_seed_and_reports_both_accuracies(digits_dir):
    config = min_config(load_space("tiny"), 64)
    settings = tiny_train_settings(digits_dir, epochs=1)
    first, second = (train_alone(config, settings) for _ in range(2))
    assert 0 <= first.holdout_accuracy <= 1 and 0 <= first.test_accuracy <= 1
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
    assert len(first.seconds_per_epoch) == 1


@pytest.mark.slow
def test_a_run_asked_for_its_curve_has_the_held_out_accuracy_after_every_epoch_and_trains_the_same(digits_dir):
    """The curve is what tells a converged reference from one cut short (benchmarks/task_pilot.py);
    measuring it must not change the training."""
    config = min_config(load_space("tiny"), 64)
    settings = tiny_train_settings(digits_dir, epochs=2)
    plain, traced = train_alone(config, settings), train_alone(config, settings, curve=True)
    assert plain.holdout_curve == [] and len(traced.holdout_curve) == 2
    assert traced.holdout_curve[-1] == traced.holdout_accuracy == plain.holdout_accuracy
    assert all(torch.equal(a, b) for a, b in zip(plain.model.state_dict().values(), traced.model.state_dict().values()))


class _Interrupted(Exception):
    pass


def _stop_after_first_epoch(message: str) -> None:
    if "epoch 1/" in message:
        raise _Interrupted


@pytest.mark.slow
def test_a_run_interrupted_after_an_epoch_resumes_from_its_state_file_to_the_uninterrupted_weights(digits_dir, tmp_path):
    """A reference run takes hours on a CPU; a session's end or Ctrl-C must cost at most one epoch."""
    config = min_config(load_space("tiny"), 64)
    settings = tiny_train_settings(digits_dir, epochs=2)
    state = tmp_path / "run.pt"
    uninterrupted = train_alone(config, settings, curve=True)
    with pytest.raises(_Interrupted):
        train_alone(config, settings, curve=True, state=state, log=_stop_after_first_epoch)
    said: list[str] = []
    resumed = train_alone(config, settings, curve=True, state=state, log=said.append)
    assert said[0].endswith(f"resumed after epoch 1/2 from {state}") and len(said) == 2
    assert resumed.holdout_curve == uninterrupted.holdout_curve and resumed.test_accuracy == uninterrupted.test_accuracy
    assert all(torch.equal(a, b) for a, b in zip(uninterrupted.model.state_dict().values(), resumed.model.state_dict().values()))


@pytest.mark.slow
def test_a_state_file_of_another_recipe_is_refused_with_the_fix(digits_dir, tmp_path):
    config = min_config(load_space("tiny"), 64)
    state = tmp_path / "run.pt"
    with pytest.raises(_Interrupted):
        train_alone(config, tiny_train_settings(digits_dir, epochs=2), state=state, log=_stop_after_first_epoch)
    with pytest.raises(AloneStateError, match=r"holds a run of another subnet or recipe; delete it to train this run from scratch"):
        train_alone(config, tiny_train_settings(digits_dir, epochs=3), state=state)


def test_a_state_file_that_would_run_code_is_refused_unread(digits_dir, tmp_path):
    state = tmp_path / "run.pt"
    torch.save({"format": "autovit-bench/alone-state", "payload": _Interrupted()}, state)
    with pytest.raises(AloneStateError, match=r"holds objects other than tensors and plain data \(\S*_Interrupted\), so it is not loaded: .*; delete it"):
        train_alone(min_config(load_space("tiny"), 64), tiny_train_settings(digits_dir, epochs=1), state=state)


@pytest.mark.slow
def test_a_state_file_missing_part_of_its_state_is_refused_naming_what_is_missing(digits_dir, tmp_path):
    config = min_config(load_space("tiny"), 64)
    settings = tiny_train_settings(digits_dir, epochs=2)
    state = tmp_path / "run.pt"
    with pytest.raises(_Interrupted):
        train_alone(config, settings, state=state, log=_stop_after_first_epoch)
    doc = torch.load(state, weights_only=True)
    del doc["optimizer"], doc["rng"]
    torch.save(doc, state)
    with pytest.raises(AloneStateError, match=r"is incomplete \(no optimizer, rng\); delete it to train this run from scratch"):
        train_alone(config, settings, state=state)
