"""Supernet training: sampling, schedule, losses, checkpoints and resume, and two-process training."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from infra.errors import UserError
from search.space.sampling import max_config, min_config
from search.training import distributed
from search.training.checkpoint import CheckpointError, load_checkpoint
from search.training.distill import DistillationLoss, inplace_distillation, load_teacher
from search.training.settings import TeacherError, TrainSettings
from search.training.train import Reporter, Trainer, lr_factor, step_configs
from tests.conftest import tiny_train_settings

pytestmark = pytest.mark.distributed

ROOT = Path(__file__).resolve().parent.parent


def test_every_rank_draws_the_same_subnet_for_a_step(tiny):
    s = TrainSettings(space="tiny", data="d", resolution=64)
    assert step_configs(tiny, s, 3, 7) == step_configs(tiny, s, 3, 7)
    assert step_configs(tiny, s, 3, 7) != step_configs(tiny, s, 3, 8)


def test_sandwich_step_trains_largest_smallest_and_random_subnets(tiny):
    configs = step_configs(tiny, TrainSettings(space="tiny", data="d", resolution=64, sampling="sandwich", sandwich_random=2), 0, 0)
    assert configs[:2] == [max_config(tiny, 64), min_config(tiny, 64)]
    assert len(configs) == 4 and all(c.resolution == 64 for c in configs)


def test_a_warm_up_of_the_largest_trains_only_it_before_the_sandwich_starts(tiny):
    s = TrainSettings(space="tiny", data="d", resolution=64, epochs=5, sampling="sandwich", warmup_largest_epochs=2)
    assert [step_configs(tiny, s, epoch, 3) for epoch in (0, 1)] == [[max_config(tiny, 64)]] * 2
    assert step_configs(tiny, s, 2, 3)[:2] == [max_config(tiny, 64), min_config(tiny, 64)] and len(step_configs(tiny, s, 2, 3)) == 3


def test_a_warm_up_of_the_largest_as_long_as_the_training_is_refused():
    with pytest.raises(UserError, match="--warmup-largest 5 leaves no epoch of sandwich sampling in 5; give fewer than --epochs"):
        TrainSettings(space="tiny", data="d", resolution=64, epochs=5, warmup_largest_epochs=5).check()


@pytest.mark.parametrize("decay_inactive, moved", [(True, True), (False, False)])
def test_keep_inactive_holds_the_slices_no_subnet_of_the_step_used(digits_dir, tmp_path, decay_inactive, moved):
    """A step of the largest (every slice gets momentum), then one of the smallest, whose stem uses 8
    of the 16 filters: the other 8 move only by decay and momentum, which --keep-inactive withholds."""
    trainer = Trainer(tiny_train_settings(digits_dir, decay_inactive=decay_inactive), tmp_path, distributed.init(prefer_gpu=False))
    state = trainer.fresh_state()
    x, y = next(iter(trainer.loader))
    trainer._train_step(state, [max_config(trainer.space, 64)], x, y)
    stem = state.model.stem.conv.weight
    before = stem.detach().clone()
    trainer._train_step(state, [min_config(trainer.space, 64)], x, y)
    assert not torch.equal(stem[:8], before[:8])
    assert (not torch.equal(stem[8:], before[8:])) is moved


@pytest.mark.slow
def test_a_supernet_trained_with_a_head_per_stage_count_loads_as_it_was_trained(digits_dir, tmp_path):
    from search.training.checkpoint import build_supernet, checkpoint_space

    Trainer(tiny_train_settings(digits_dir, epochs=1, head_per_stage_count=True), tmp_path, distributed.init(prefer_gpu=False)).run()
    doc = load_checkpoint(tmp_path / "last.pt")
    net = build_supernet(doc, checkpoint_space(doc)[1])
    assert sorted(net.heads) == ["3", "4"] and doc["settings"]["head_per_stage_count"] is True


@pytest.mark.slow
def test_a_supernet_trained_with_fixed_shortcuts_loads_with_them_fixed(digits_dir, tmp_path):
    from search.training.checkpoint import build_supernet, checkpoint_space

    Trainer(tiny_train_settings(digits_dir, epochs=1, fixed_shortcuts=True), tmp_path, distributed.init(prefer_gpu=False)).run()
    doc = load_checkpoint(tmp_path / "last.pt")
    net = build_supernet(doc, checkpoint_space(doc)[1])
    assert net.fixed_shortcuts and net.stages[0][0].noskip and not net.stages[0][1].noskip


def test_learning_rate_warms_up_linearly_then_follows_a_cosine_to_the_floor():
    assert [lr_factor(s, 4, 20, 0.01) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(12, 4, 20, 0.01) == pytest.approx(0.01 + 0.99 * 0.5)
    assert lr_factor(20, 4, 20, 0.01) == pytest.approx(0.01)


def test_hard_distillation_takes_the_teachers_argmax_as_label():
    logits, labels = torch.tensor([[2.0, 0.5, -1.0]]), torch.tensor([0])
    teacher = torch.tensor([[0.1, 3.0, 0.2]])
    loss = DistillationLoss("hard", alpha=0.5, label_smoothing=0.0)(logits, labels, teacher)
    expected = 0.5 * F.cross_entropy(logits, labels) + 0.5 * F.cross_entropy(logits, torch.tensor([1]))
    assert float(loss) == pytest.approx(float(expected))


def test_soft_distillation_is_tempered_kl_scaled_by_tau_squared():
    logits, labels, teacher = torch.tensor([[1.0, 0.0]]), torch.tensor([1]), torch.tensor([[0.0, 2.0]])
    loss = DistillationLoss("soft", alpha=1.0, tau=2.0, label_smoothing=0.0)(logits, labels, teacher)
    p_t, p_s = F.softmax(teacher / 2, dim=1), F.softmax(logits / 2, dim=1)
    assert float(loss) == pytest.approx(float(4 * (p_t * (p_t / p_s).log()).sum()), rel=1e-5)


def test_inplace_distillation_is_zero_gradient_when_matching_the_largest_subnet():
    logits = torch.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    inplace_distillation(logits, logits.detach().clone()).backward()
    assert logits.grad.abs().max() < 1e-6


def test_teacher_loads_local_weights_and_refuses_weights_of_another_shape(tmp_path):
    import timm

    model = timm.create_model("test_resnet", num_classes=10)
    torch.save(model.state_dict(), tmp_path / "teacher.pth")
    teacher = load_teacher("test_resnet", tmp_path / "teacher.pth", 10, torch.device("cpu"))
    assert torch.equal(next(teacher.parameters()), next(model.parameters()))
    assert not any(p.requires_grad for p in teacher.parameters())
    with pytest.raises(TeacherError, match="does not fit test_resnet with 7 classes"):
        load_teacher("test_resnet", tmp_path / "teacher.pth", 7, torch.device("cpu"))


def test_distillation_without_a_teacher_checkpoint_is_refused(digits_dir, tmp_path):
    with pytest.raises(TeacherError, match="--teacher-checkpoint"):
        Trainer(tiny_train_settings(digits_dir, kd="hard", teacher="test_resnet"), tmp_path, distributed.init(prefer_gpu=False))


@pytest.mark.slow
def test_training_with_a_hard_distillation_teacher_runs_and_records_the_epoch(digits_dir, tmp_path):
    import timm

    torch.save(timm.create_model("test_resnet", num_classes=10).state_dict(), tmp_path / "t.pth")
    settings = tiny_train_settings(digits_dir, epochs=1, kd="hard", teacher="test_resnet", teacher_checkpoint=str(tmp_path / "t.pth"))
    state = Trainer(settings, tmp_path / "run", distributed.init(prefer_gpu=False)).run()
    assert [h["epoch"] for h in state.history] == [1] and state.history[0]["loss"] > 0


@pytest.mark.slow
def test_checkpoint_records_space_classes_settings_and_history(tiny_checkpoint, tiny):
    doc = load_checkpoint(tiny_checkpoint)
    assert doc["space"] == {"name": "tiny", "hash": tiny.hash}
    assert doc["classes"] == [str(i) for i in range(10)] and doc["epoch"] == 2 and len(doc["history"]) == 2
    assert 0 <= doc["history"][-1]["holdout_acc_max"] <= 1


def interrupt_after_first_epoch(record):
    raise KeyboardInterrupt


@pytest.mark.slow
def test_resume_continues_bit_for_bit_the_uninterrupted_schedule(digits_dir, tmp_path):
    d = distributed.init(prefer_gpu=False)
    straight = Trainer(tiny_train_settings(digits_dir), tmp_path / "straight", d).run()
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C right after epoch 1's checkpoint
        Trainer(tiny_train_settings(digits_dir), tmp_path / "split", d, Reporter(end_epoch=interrupt_after_first_epoch)).run()
    assert load_checkpoint(tmp_path / "split" / "last.pt")["epoch"] == 1
    resumed = Trainer(tiny_train_settings(digits_dir), tmp_path / "split", d).run(resume=True)
    assert resumed.history[1]["loss"] == straight.history[1]["loss"]
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


@pytest.mark.slow
def test_resume_with_other_settings_is_refused(tiny_checkpoint, digits_dir, tmp_path):
    shutil.copy(tiny_checkpoint, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match=r"other settings \(lr\)"):
        Trainer(tiny_train_settings(digits_dir, lr=0.1), tmp_path, distributed.init(prefer_gpu=False)).run(resume=True)


def _wrong_shape(doc):
    name = next(iter(doc["model"]))
    doc["model"][name] = torch.zeros(3, 1)


def _settings_of_another_version(doc):
    doc["settings"]["mixup"] = 0.2


def _optimizer_of_another_model(doc):
    doc["optimizer"]["param_groups"] = doc["optimizer"]["param_groups"][:1]


def _no_random_state(doc):
    doc["rng"] = []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (_wrong_shape, r"does not fit the supernet it names \(.*\); pass the last\.pt that `bench train` wrote"),
        (_settings_of_another_version, r"holds training settings this toolkit cannot read \(.*mixup.*\); start a new run with another --out"),
        (_optimizer_of_another_model, r"holds a training state that does not fit this run \(optimizer: .*\); start a new run with another --out"),
        (_no_random_state, r"holds a training state that does not fit this run \(random state: .*\); start a new run with another --out"),
    ],
)
def test_resuming_from_a_checkpoint_whose_state_does_not_fit_is_one_sentence(tiny_checkpoint, digits_dir, tmp_path, tamper, says):
    doc = torch.load(tiny_checkpoint, weights_only=True)
    tamper(doc)
    torch.save(doc, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match=rf"^checkpoint {re.escape(str(tmp_path / 'last.pt'))} {says}$"):
        Trainer(tiny_train_settings(digits_dir), tmp_path, distributed.init(prefer_gpu=False)).run(resume=True)


@pytest.mark.slow
def test_a_second_run_into_the_same_directory_is_refused(tiny_checkpoint, digits_dir):
    with pytest.raises(CheckpointError, match="--resume"):
        Trainer(tiny_train_settings(digits_dir), tiny_checkpoint.parent, distributed.init(prefer_gpu=False)).run()


@pytest.mark.slow
def test_train_json_is_one_document_of_the_checkpoint_and_its_last_held_out_accuracies_with_progress_on_stderr(digits_dir, bench):
    tiny = ["--resolution", "64", "--epochs", "1", "--batch-size", "16", "--lr", "2e-3", "--no-hflip", "--holdout", "0.15", "--sampling", "random"]
    result = bench("train", "--space", "tiny", "--data", str(digits_dir), "--out", "run", *tiny, "--json")
    assert result.exit_code == 0, result.stderr
    [last] = load_checkpoint(Path("run/last.pt"))["history"]
    assert json.loads(result.stdout) == {
        "checkpoint": "run/last.pt", "epoch": 1, "loss": last["loss"],
        "holdout_accuracy": {"largest": last["holdout_acc_max"], "smallest": last["holdout_acc_min"], "images": 40},
    }
    assert "training the tiny supernet on" in result.stderr and "epoch 1: loss" in result.stderr


def test_missing_data_directory_is_one_clear_error(tmp_path, bench_cli):
    result = bench_cli("train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "does not exist; make the demo set with `bench data digits" in result.stderr
    assert not (tmp_path / "o").exists()


SAMPLINGS = ["random", "sandwich"]


@pytest.fixture(scope="module")
def two_process_training(digits_dir, tmp_path_factory) -> Path:
    """One epoch per sampling, trained by two processes of one `torchrun` launch."""
    out = tmp_path_factory.mktemp("two-processes")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(29500 + os.getpid() % 1000)]
    subprocess.run([*torchrun, str(ROOT / "tests" / "distributed_worker.py"), str(out), str(digits_dir), ",".join(SAMPLINGS)], check=True, env=env, timeout=240)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_two_processes_train_the_same_subnets_and_end_with_the_same_weights(two_process_training, sampling):
    out = two_process_training / sampling
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == 2
    assert ranks[0]["subnets"] == ranks[1]["subnets"] and len(ranks[0]["subnets"]) > 0
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert load_checkpoint(out / "last.pt")["world"] == 2


def test_an_images_augmentation_depends_on_its_epoch_and_index_alone(digits_dir):
    from search.training.data import EpochSamples, open_data

    data = open_data(digits_dir, 64, 0.15, 0, hflip=False, augment="shift")
    samples = EpochSamples(data.train, seed=3)
    torch.manual_seed(123)
    first = samples[(2, 5)][0]
    torch.manual_seed(456)
    assert torch.equal(samples[(2, 5)][0], first) and not torch.equal(samples[(3, 5)][0], first)
    assert torch.initial_seed() == 456  # the caller's generator is left as it was


@pytest.mark.slow
def test_persistent_loader_workers_give_the_batches_the_main_process_gives(digits_dir, tmp_path):
    """Two epochs through two persistent workers and through none: the same images, augmented alike."""
    def batches(workers: int) -> list[torch.Tensor]:
        trainer = Trainer(tiny_train_settings(digits_dir, workers=workers, augment="shift"), tmp_path / str(workers), distributed.init(prefer_gpu=False))
        out = []
        for epoch in range(2):
            trainer.sampler.set_epoch(epoch)
            out += [x for x, _ in trainer.loader][:3]
        return out

    assert all(torch.equal(a, b) for a, b in zip(batches(0), batches(2), strict=True))


@pytest.mark.slow
def test_a_checkpoint_holds_its_weights_in_the_default_layout_though_training_runs_channels_last(tiny_checkpoint):
    weights = torch.load(tiny_checkpoint, weights_only=True)["model"]
    assert weights["stem.conv.weight"].ndim == 4 and all(t.is_contiguous() for t in weights.values())
