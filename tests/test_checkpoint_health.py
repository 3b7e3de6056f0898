"""A supernet checkpoint whose weights are not numbers, or whose outputs do not depend on the image:
the first is refused wherever it is read (and never written), the second is said plainly before a
search ranks subnets that all score chance."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from infra.errors import UserError
from search.space import load_space
from search.training import distributed
from search.training.checkpoint import load_checkpoint
from search.training.train import Trainer
from tests.conftest import tiny_train_settings
from tests.lut_factory import sized_lut
from tests.test_bad_input import refused
from tests.test_search_cli import HOST, middle_budget, write_lut

CONSTANT = "gives the same output for each of"


def edited(checkpoint: Path, to: Path, edit) -> Path:
    doc = torch.load(checkpoint, weights_only=True)
    edit(doc["model"])
    to.parent.mkdir(parents=True, exist_ok=True)
    torch.save(doc, to)
    return to


def a_nan(weights: dict) -> None:
    weights["stem.conv.weight"].view(-1)[0] = float("nan")


def no_classifier(weights: dict) -> None:
    weights["head.fc.weight"].zero_()
    weights["head.fc.bias"].zero_()


@pytest.fixture
def lut(tmp_path: Path) -> Path:
    return write_lut(tmp_path / "tiny-host.json", sized_lut(load_space("tiny"), device=HOST))


NAN_REFUSED = (
    r"^error: checkpoint .*last\.pt holds weights that are not finite numbers \(NaN or infinity in stem\.conv\.weight\), as a diverged "
    r"training leaves them; train again in another --out with a lower --lr, or use an earlier checkpoint$"
)


@pytest.mark.slow
def test_a_search_of_a_checkpoint_with_a_nan_weight_is_refused_naming_it(tiny_checkpoint: Path, lut: Path, bench, tmp_path: Path) -> None:
    nan = edited(tiny_checkpoint, tmp_path / "nan" / "last.pt", a_nan)
    refused(bench("search", "--checkpoint", str(nan), "--lut", str(lut), "--latency-ms", str(middle_budget(lut)), "--no-measure"), NAN_REFUSED)


@pytest.mark.slow
def test_resuming_a_training_from_a_checkpoint_with_a_nan_weight_is_refused_naming_it(tiny_checkpoint: Path, digits_dir: Path, bench, tmp_path: Path) -> None:
    edited(tiny_checkpoint, tmp_path / "run" / "last.pt", a_nan)
    same_settings = ["--resolution", "64", "--epochs", "2", "--batch-size", "16", "--lr", "2e-3", "--warmup-epochs", "1", "--no-hflip", "--holdout", "0.15",
                     "--sampling", "random"]  # tiny_checkpoint's: only its weights stand in the way
    refused(bench("train", "--space", "tiny", "--data", str(digits_dir), "--out", "run", *same_settings, "--resume"), NAN_REFUSED)


@pytest.mark.slow
def test_an_epoch_that_leaves_weights_that_are_not_numbers_is_not_checkpointed_and_the_last_good_one_stays(digits_dir: Path, tmp_path: Path, monkeypatch) -> None:
    step = Trainer._train_step

    def diverging(self, state, configs, x, y):  # the second epoch's steps blow the weights up, as too high a learning rate does
        loss = step(self, state, configs, x, y)
        if state.epoch == 1:
            with torch.no_grad():
                state.model.stem.conv.weight.fill_(float("inf"))
            return float("nan")
        return loss

    monkeypatch.setattr(Trainer, "_train_step", diverging)
    out = tmp_path / "run"
    with pytest.raises(UserError) as refusal:
        Trainer(tiny_train_settings(digits_dir), out, distributed.init(prefer_gpu=False)).run()
    assert re.fullmatch(
        rf"training diverged in epoch 2 \(loss nan, NaN or infinity in the weights stem\.conv\.weight and \d+ more\): the checkpoint of epoch 1 "
        rf"is kept in {re.escape(str(out))}/last\.pt; start a new run in another --out with a lower --lr \(or more --warmup-epochs\)",
        str(refusal.value),
    ), refusal.value
    assert load_checkpoint(out / "last.pt")["epoch"] == 1


@pytest.fixture
def search_stopped_before_running(monkeypatch):
    """`bench search` up to the search itself: the inputs checked and loaded, no generation run."""
    monkeypatch.setattr("orchestrator.searchjob.job.SearchJob.run", lambda self, resume, devices=None: None)
    monkeypatch.setattr("orchestrator.searchjob.run.finish_search", lambda *args: {})


@pytest.mark.slow
def test_a_search_of_a_supernet_whose_outputs_ignore_the_image_says_so(tiny_checkpoint: Path, lut: Path, bench, tmp_path: Path, search_stopped_before_running) -> None:
    constant = edited(tiny_checkpoint, tmp_path / "zero" / "last.pt", no_classifier)
    said = bench("search", "--checkpoint", str(constant), "--lut", str(lut), "--latency-ms", str(middle_budget(lut)), "--no-measure")
    assert said.exit_code == 0
    (warning,) = [line for line in said.stdout.splitlines() if line.startswith("warning:")]
    assert warning == (
        f"warning: the largest subnet of checkpoint {constant} {CONSTANT} 40 held-out images (its logits do not depend on the image, as with an all-zero "
        "classifier), so it answers one class for all and scores that class's share of the images, chance; a search of this supernet ranks "
        "subnets at random: train it (`bench train`) before searching it"
    )


@pytest.mark.slow
def test_a_search_of_a_trained_supernet_says_nothing_of_constant_outputs(tiny_checkpoint: Path, lut: Path, bench, search_stopped_before_running) -> None:
    said = bench("search", "--checkpoint", str(tiny_checkpoint), "--lut", str(lut), "--latency-ms", str(middle_budget(lut)), "--no-measure")
    assert said.exit_code == 0 and CONSTANT not in said.stdout + said.stderr
