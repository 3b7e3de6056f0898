"""One subnet trained alone, from scratch, with the supernet's recipe: the reference a supernet's
inherited accuracies are judged against (a supernet ranks subnets well when their inherited accuracy
orders them as training each alone would; "How to Train Your Super-Net", Yu et al. 2020), and the
way to train a found model for deployment.

The recipe is a `TrainSettings` (epochs, batch, AdamW, warm-up and cosine, label smoothing,
augmentation), so the comparison is like for like; sampling and distillation do not apply.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from search.space import load_space
from search.space.config import SubnetConfig
from search.supernet.static import StaticSubnet
from search.training.data import ImageData, open_data, tensor_batches
from search.training.distill import DistillationLoss
from search.training.evaluate import accuracy
from search.training.settings import TrainSettings
from search.training.train import CHECK_CALIBRATION_IMAGES, lr_factor


@dataclass
class AloneResult:
    model: StaticSubnet
    holdout_accuracy: float
    test_accuracy: float | None
    seconds_per_epoch: list[float] = field(default_factory=list)
    holdout_curve: list[float] = field(default_factory=list)  # after each epoch, when asked for


def train_alone(
    config: SubnetConfig, s: TrainSettings, data: ImageData | None = None, device: torch.device | None = None,
    log: Callable[[str], None] = lambda message: None, curve: bool = False,
) -> AloneResult:
    """Train `config` from fresh weights (seeded by `s.seed`) on `s.data` for `s.epochs`; accuracy on
    the held-out part of train/ and on val/ (the test split) when it exists. With `curve`, the
    held-out accuracy after every epoch too: whether a run converged (its curve flat at the end)
    is what tells a reference from a run cut short.

    Trains in channels-last layout: the same arithmetic, 1.3-1.5x faster on this CPU's convolutions
    (benchmarks/train_search.py layout); the model handed back is in the default layout again."""
    s.check()
    device = device or torch.device("cpu")
    data = data or open_data(Path(s.data), s.resolution, s.holdout, s.seed, s.hflip, CHECK_CALIBRATION_IMAGES, s.augment)
    space = load_space(s.space).for_classes(data.num_classes)
    torch.manual_seed(s.seed)
    model = StaticSubnet(config, space).to(device, memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(s.seed)
    loader = DataLoader(data.train, batch_size=s.batch_size, shuffle=True, drop_last=True, generator=generator, num_workers=s.workers)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=s.lr)
    total = s.epochs * len(loader)
    warmup = max(1, min(total, s.warmup_epochs * len(loader)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, warmup, total, s.min_lr / s.lr))
    criterion = DistillationLoss("none", label_smoothing=s.label_smoothing)
    seconds: list[float] = []
    holdout = tensor_batches(data.holdout, 256)
    held_curve: list[float] = []
    for epoch in range(s.epochs):
        model.train()
        start = time.perf_counter()
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            criterion(model(x.to(device, memory_format=torch.channels_last)), y.to(device)).backward()
            optimizer.step()
            scheduler.step()
        seconds.append(time.perf_counter() - start)
        if curve:
            held_curve.append(accuracy(model, holdout, device))
        log(f"{config.hash[:8]} epoch {epoch + 1}/{s.epochs}: {seconds[-1]:.1f} s" + (f", held-out {held_curve[-1]:.1%}" if curve else ""))
    held = held_curve[-1] if curve else accuracy(model, holdout, device)
    test = accuracy(model, tensor_batches(data.test, 256), device) if data.test is not None else None
    return AloneResult(model.to(memory_format=torch.contiguous_format), held, test, seconds, held_curve)
