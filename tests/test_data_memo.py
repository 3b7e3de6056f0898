"""The training loader keeps the images it has read in memory (decoded, and resized where the
augmentation resizes first), so later epochs skip the disk, and what it hands out is unchanged."""

import pytest
import torch

from search.training import distributed
from search.training.data import MEMO_BYTES, memo_share, open_data
from search.training.train import Trainer
from tests.conftest import tiny_train_settings


def first_images(dataset, count: int = 12) -> list[torch.Tensor]:
    torch.manual_seed(1)  # the augmentation's random moves
    return [dataset[i][0] for i in range(count)]


@pytest.mark.parametrize("augment", ["shift", "crop"])
def test_images_read_again_from_memory_are_the_tensors_read_from_disk(digits_dir, augment):
    kept = open_data(digits_dir, 64, 0.15, 0, hflip=True, augment=augment)
    disk = open_data(digits_dir, 64, 0.15, 0, hflip=True, augment=augment, memo_bytes=0)
    first_images(kept.train)  # fills the memory
    assert len(kept.train.dataset.loader.memo) == 12 and not disk.train.dataset.loader.memo
    for a, b in zip(first_images(kept.train), first_images(disk.train)):
        assert torch.equal(a, b)
    assert all(torch.equal(a, b) for a, b in zip(first_images(kept.holdout), first_images(disk.holdout)))


def test_the_loader_keeps_no_more_than_its_budget_and_reads_the_rest_from_disk(digits_dir):
    data = open_data(digits_dir, 64, 0.15, 0, hflip=False, augment="shift", memo_bytes=3 * 64 * 64 * 3)
    first_images(data.train)
    loader = data.train.dataset.loader
    assert len(loader.memo) == 3 and loader.kept_bytes == 3 * 64 * 64 * 3
    assert all(image.size == (64, 64) for image in loader.memo.values())  # kept at the size training resizes to


def test_a_run_s_loader_workers_share_the_budget_as_each_keeps_its_own_copy(digits_dir, tmp_path):
    """Every DataLoader worker is a process filling its own copy; 4 workers keep a quarter each."""
    trainer = Trainer(tiny_train_settings(digits_dir, workers=4), tmp_path / "run", distributed.init(prefer_gpu=False))
    assert trainer.data.train.dataset.loader.memo_bytes == MEMO_BYTES // 4 == memo_share(4)
    assert memo_share(0) == memo_share(1) == MEMO_BYTES
