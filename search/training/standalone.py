"""One subnet trained alone, from scratch, with the supernet's recipe: the reference a supernet's
inherited accuracies are judged against (a supernet ranks subnets well when their inherited accuracy
orders them as training each alone would; "How to Train Your Super-Net", Yu et al. 2020), and the
way to train a found model for deployment.

The recipe is a `TrainSettings` (epochs, batch, AdamW, warm-up and cosine, label smoothing,
augmentation), so the comparison is like for like; sampling and distillation do not apply.

A reference run takes minutes to hours on a CPU, so it can keep its state in a file after every
epoch and resume from it: weights, optimizer, schedule and every random generator, so the resumed
run ends with the weights the uninterrupted one would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from infra.errors import UserError
from infra.files import atomic_path
from search.space import load_space
from search.space.config import SubnetConfig
from search.supernet.static import StaticSubnet
from search.training import random_state
from search.training.checkpoint import not_finite, read_torch_file
from search.training.data import ImageData, memo_share, open_data, tensor_batches
from search.training.distill import DistillationLoss
from search.training.evaluate import accuracy
from search.training.settings import TrainSettings
from search.training.train import CHECK_CALIBRATION_IMAGES, lr_factor

STATE_FORMAT = "autovit-bench/alone-state"
STATE_KEYS = frozenset({"epoch", "model", "optimizer", "scheduler", "generator", "rng", "seconds", "curve"})


class AloneStateError(UserError):
    """A stand-alone run's state file that cannot be resumed; the message names the problem and the fix."""


@dataclass
class AloneResult:
    model: StaticSubnet
    holdout_accuracy: float
    test_accuracy: float | None
    seconds_per_epoch: list[float] = field(default_factory=list)
    holdout_curve: list[float] = field(default_factory=list)  # after each epoch, when asked for


def train_alone(
    config: SubnetConfig, s: TrainSettings, data: ImageData | None = None, device: torch.device | None = None,
    log: Callable[[str], None] = lambda message: None, curve: bool = False, state: Path | None = None,
) -> AloneResult:
    """Train `config` from fresh weights (seeded by `s.seed`) on `s.data` for `s.epochs`; accuracy on
    the held-out part of train/ and on val/ (the test split) when it exists. With `curve`, the
    held-out accuracy after every epoch too: whether a run converged (its curve flat at the end)
    is what tells a reference from a run cut short. With `state`, the run is kept in that file after
    every epoch and resumed from it; the file is left after the last epoch (a run already finished
    only evaluates), for the caller to remove once it has kept the result.

    Trains in channels-last layout: the same arithmetic, 1.3-1.5x faster on this CPU's convolutions
    (benchmarks/train_search.py layout); the model handed back is in the default layout again."""
    s.check()
    device = device or torch.device("cpu")
    data = data or open_data(Path(s.data), s.resolution, s.holdout, s.seed, s.hflip, CHECK_CALIBRATION_IMAGES, s.augment, memo_share(s.workers))
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
    identity = _identity(config, s)
    done = 0
    if state is not None and (doc := _load_state(state, identity)):
        model.load_state_dict(doc["model"])
        optimizer.load_state_dict(doc["optimizer"])
        scheduler.load_state_dict(doc["scheduler"])
        generator.set_state(doc["generator"])
        random_state.restore(doc["rng"])
        done, seconds, held_curve = int(doc["epoch"]), list(doc["seconds"]), list(doc["curve"])
        log(f"{config.hash[:8]} resumed after epoch {done}/{s.epochs} from {state}")
    for epoch in range(done, s.epochs):
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
        if state is not None:
            _save_state(state, {
                "identity": identity, "epoch": epoch + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": generator.get_state(), "rng": random_state.capture(),
                "seconds": seconds, "curve": held_curve,
            })
        log(f"{config.hash[:8]} epoch {epoch + 1}/{s.epochs}: {seconds[-1]:.1f} s" + (f", held-out {held_curve[-1]:.1%}" if curve else ""))
    held = held_curve[-1] if curve else accuracy(model, holdout, device)
    test = accuracy(model, tensor_batches(data.test, 256), device) if data.test is not None else None
    return AloneResult(model.to(memory_format=torch.contiguous_format), held, test, seconds, held_curve)


def _identity(config: SubnetConfig, s: TrainSettings) -> str:
    """What a state file must have been trained as to be resumed: the subnet and the whole recipe."""
    return json.dumps({"subnet": config.hash, "settings": asdict(s)}, sort_keys=True, default=str)


def _save_state(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"format": STATE_FORMAT, **doc}, tmp)


def _load_state(path: Path, identity: str) -> dict | None:
    """The state a run left in `path`, checked as untrusted input; None when there is none yet."""
    if not path.is_file():
        return None
    fix = "delete it to train this run from scratch"
    doc = read_torch_file(path, f"state file {path}", fix, AloneStateError)
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        raise AloneStateError(f"{path} is not a stand-alone run's state file; {fix}")
    if doc.get("identity") != identity:
        raise AloneStateError(f"state file {path} holds a run of another subnet or recipe; {fix}, or resume it with its own settings")
    if missing := sorted(STATE_KEYS - set(doc)):
        raise AloneStateError(f"state file {path} is incomplete (no {', '.join(missing)}); {fix}")
    if which := not_finite(doc["model"]):
        raise AloneStateError(f"state file {path} holds weights that are not finite numbers ({which}); {fix}")
    return doc
