"""Supernet training (the paper's Algorithm 1), single process or distributed under `torchrun`.

Every step trains one random subnet (Algorithm 1) or, with the sandwich rule, the largest, the
smallest and `sandwich_random` random subnets, the smaller ones distilled in place from the
largest. The subnet of a step is drawn from a generator seeded by (seed, epoch, step), so every
rank trains the same subnet without communicating, and a resumed run draws what the uninterrupted
run would have. AdamW, linear warm-up then cosine decay per step, label smoothing, optional
hard/soft distillation from a timm teacher, bfloat16/float16 autocast on GPU. The supernet and its
images are in channels-last layout: the same arithmetic, 1.4x faster here on CPU
(benchmarks/train_search.py layout).

A checkpoint is written atomically after every epoch with the optimizer, schedule and every random
generator's state, so `resume` continues bit for bit the schedule an uninterrupted run follows.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler

from infra.errors import UserError
from infra.locks import run_dir_lock
from search.space import SearchSpace, load_space
from search.space.config import SubnetConfig
from search.space.sampling import max_config, min_config, random_config
from search.supernet.model import Supernet
from search.training import distributed, random_state
from search.training.checkpoint import CheckpointError, load_checkpoint, load_weights, not_finite, save_checkpoint
from search.training.data import DataError, EpochIndices, EpochSamples, ImageData, check_trainable, memo_share, open_data, tensor_batches
from search.training.distill import DistillationLoss, inplace_distillation, load_teacher
from search.training.distributed import Dist
from search.training.evaluate import subnet_accuracy
from search.training.settings import TrainSettings

CHECK_CALIBRATION_IMAGES = 256  # BatchNorm recalibration of the per-epoch check of the largest and smallest subnets


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    lr: float
    images_per_s: float
    seconds: float
    holdout_acc_max: float
    holdout_acc_min: float


@dataclass
class Reporter:
    """Callbacks for progress display (the CLI passes rich ones on rank 0)."""

    start_epoch: Callable[[int, int], None] = lambda epoch, steps: None
    step: Callable[[float, float], None] = lambda loss, images_per_s: None
    end_epoch: Callable[[EpochRecord], None] = lambda record: None
    log: Callable[[str], None] = print


@dataclass
class TrainState:
    model: Supernet
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def step_configs(space: SearchSpace, s: TrainSettings, epoch: int, step: int) -> list[SubnetConfig]:
    rng = random.Random(f"{s.seed}:{epoch}:{step}")
    if epoch < s.warmup_largest_epochs:
        return [max_config(space, s.resolution)]
    if s.sampling == "random":
        return [random_config(space, rng, s.resolution)]
    return [max_config(space, s.resolution), min_config(space, s.resolution)] + [
        random_config(space, rng, s.resolution) for _ in range(s.sandwich_random)
    ]


def lr_factor(step: int, warmup_steps: int, total_steps: int, floor: float) -> float:
    """Linear warm-up to 1, then cosine down to `floor` (min_lr / lr) at the last step."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _amp_dtype(s: TrainSettings, d: Dist) -> torch.dtype | None:
    if not (s.amp and d.device.type == "cuda"):
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class Trainer:
    def __init__(self, settings: TrainSettings, out: Path, d: Dist, reporter: Reporter | None = None) -> None:
        settings.check()
        self.s, self.out, self.d = settings, Path(out), d
        self.report = reporter or Reporter(log=lambda _: None)
        self.base_space = load_space(settings.space)
        if settings.resolution not in self.base_space.resolutions:  # before the data is read, not at the first forward pass
            choices = ", ".join(map(str, self.base_space.resolutions))
            raise UserError(f"--resolution {settings.resolution} is not one of the {settings.space} space's ({choices}); pick one of them")
        self.data: ImageData = open_data(
            Path(settings.data), settings.resolution, settings.holdout, settings.seed, settings.hflip, CHECK_CALIBRATION_IMAGES, settings.augment,
            memo_share(settings.workers),
        )
        check_trainable(self.data)
        self.space = self.base_space.for_classes(self.data.num_classes)
        self.amp = _amp_dtype(settings, d)
        self.criterion = DistillationLoss(settings.kd, settings.kd_alpha, settings.kd_tau, settings.label_smoothing)
        self.teacher = (
            load_teacher(settings.teacher, Path(settings.teacher_checkpoint), self.data.num_classes, d.device)
            if settings.kd != "none" else None
        )
        self.sampler = DistributedSampler(self.data.train, d.world, d.rank, shuffle=True, seed=settings.seed, drop_last=True)
        self.loader = DataLoader(
            # Every image's augmentation is seeded by (seed, epoch, index), not by a worker's own
            # generator: a resumed run augments as the uninterrupted one did whatever the workers, so
            # they persist across epochs rather than start again (and import again) every epoch.
            EpochSamples(self.data.train, settings.seed), batch_size=settings.batch_size, sampler=EpochIndices(self.sampler), drop_last=True,
            num_workers=settings.workers, pin_memory=d.device.type == "cuda", persistent_workers=settings.workers > 0,
        )
        if len(self.loader) == 0:
            raise DataError(
                f"{len(self.data.train)} training images are fewer than one batch of {settings.batch_size} per process; lower --batch-size"
            )
        self._calibration: list | None = None
        self._holdout: list | None = None

    @property
    def steps_per_epoch(self) -> int:
        return len(self.loader)

    def fresh_state(self) -> TrainState:
        torch.manual_seed(self.s.seed)
        model = Supernet(self.space, self.s.head_per_stage_count, self.s.fixed_shortcuts).to(self.d.device, memory_format=torch.channels_last)
        distributed.broadcast_parameters(model)
        decay = [p for n, p in model.named_parameters() if p.ndim > 1]
        no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=self.s.lr
        )
        total = self.s.epochs * self.steps_per_epoch
        warmup = min(total, self.s.warmup_epochs * self.steps_per_epoch)
        floor = self.s.min_lr / self.s.lr
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, max(1, warmup), total, floor))
        scaler = torch.amp.GradScaler(self.d.device.type, enabled=self.amp == torch.float16)
        return TrainState(model, optimizer, scheduler, scaler)

    def resume_state(self, path: Path) -> TrainState:
        doc = load_checkpoint(path)
        try:
            saved = TrainSettings(**doc["settings"])
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {doc['path']} holds training settings this toolkit cannot read ({exc}); start a new run with another --out") from None
        if saved != self.s:
            changed = [k for k, v in asdict(saved).items() if asdict(self.s)[k] != v]
            raise CheckpointError(f"checkpoint {doc['path']} was trained with other settings ({', '.join(changed)}); resume with the saved ones")
        if doc["world"] != self.d.world:
            raise CheckpointError(
                f"checkpoint {doc['path']} was trained on {doc['world']} processes; resume with `torchrun --nproc_per_node {doc['world']}` to keep the schedule"
            )
        state = self.fresh_state()
        load_weights(state.model, doc)
        rank = self.d.rank

        def progress() -> None:
            state.epoch, state.history = int(doc["epoch"]), list(doc["history"])

        restores = {
            "optimizer": lambda: state.optimizer.load_state_dict(doc["optimizer"]),
            "learning-rate schedule": lambda: state.scheduler.load_state_dict(doc["scheduler"]),
            "loss scaler": lambda: state.scaler.load_state_dict(doc["scaler"]),
            "random state": lambda: random_state.restore(doc["rng"][rank] if rank < len(doc["rng"]) else doc["rng"][0]),
            "epoch": progress,
        }
        for part, restore in restores.items():
            try:
                restore()
            except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
                raise CheckpointError(
                    f"checkpoint {doc['path']} holds a training state that does not fit this run ({part}: {type(exc).__name__}: {exc}); "
                    "start a new run with another --out"
                ) from None
        return state

    def _all_rng_states(self) -> list[dict[str, Any]]:
        mine = random_state.capture()
        if self.d.world == 1:
            return [mine]
        gathered: list[Any] = [None] * self.d.world
        torch.distributed.all_gather_object(gathered, mine)
        return gathered

    def save(self, state: TrainState) -> Path:
        rng = self._all_rng_states()
        path = self.out / "last.pt"
        if self.d.main:
            save_checkpoint(path, {
                "space": {"name": self.base_space.name, "hash": self.base_space.hash},
                "num_classes": self.data.num_classes,
                "classes": self.data.classes,
                "settings": asdict(self.s),
                "world": self.d.world,
                "epoch": state.epoch,
                "model": {k: v.contiguous() for k, v in state.model.state_dict().items()},  # the default layout, whatever trains in
                "optimizer": state.optimizer.state_dict(),
                "scheduler": state.scheduler.state_dict(),
                "scaler": state.scaler.state_dict(),
                "rng": rng,
                "history": state.history,
            })
        if self.d.world > 1:
            torch.distributed.barrier()
        return path

    def _check_finite(self, state: TrainState, epoch: int, loss: float) -> None:
        """Refuse to checkpoint an epoch that left weights which are not numbers: the last good
        checkpoint stays, rather than one that gives NaN for every image (and can never recover)."""
        which = not_finite(state.model.state_dict())
        if which is None:
            return
        kept = f"the checkpoint of epoch {state.epoch} is kept in {self.out / 'last.pt'}" if state.epoch else "no checkpoint was written"
        raise UserError(
            f"training diverged in epoch {epoch + 1} (loss {loss:.4g}, NaN or infinity in the weights {which}): {kept}; "
            "start a new run in another --out with a lower --lr (or more --warmup-epochs)"
        )

    def _evaluate(self, model: Supernet) -> tuple[float, float]:
        """Held-out accuracy of the largest and smallest subnets (rank 0 only; others get NaN)."""
        if not self.d.main:
            return float("nan"), float("nan")
        if self._calibration is None:
            self._calibration = tensor_batches(self.data.calibration, self.s.batch_size)
            self._holdout = tensor_batches(self.data.holdout, self.s.batch_size)
        with torch.random.fork_rng(devices=[]):
            accs = tuple(
                subnet_accuracy(model, c(self.space, self.s.resolution), self._calibration, self._holdout, self.d.device)
                for c in (max_config, min_config)
            )
        model.train()
        return accs

    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.d.device.type, dtype=self.amp) if self.amp is not None else contextlib.nullcontext()

    def _train_step(self, state: TrainState, configs: list[SubnetConfig], x: torch.Tensor, y: torch.Tensor) -> float:
        model, params = state.model, [p for p in state.model.parameters()]
        state.optimizer.zero_grad(set_to_none=True)
        with torch.no_grad(), self._autocast():
            teacher_logits = self.teacher(x).float() if self.teacher is not None else None
        largest: torch.Tensor | None = None
        losses: list[torch.Tensor] = []  # read back once per step: each read waits for the GPU to catch up
        for i, config in enumerate(configs):
            model.set_active(config)
            with self._autocast():
                logits = model(x).float()
                loss = self.criterion(logits, y, teacher_logits) if largest is None else inplace_distillation(logits, largest)
            state.scaler.scale(loss).backward()
            if i == 0 and len(configs) > 1:
                largest = logits.detach()
            losses.append(loss.detach())
        distributed.average_gradients(params, self.d.world)
        held = None if self.s.decay_inactive else [(p, p.detach().clone()) for p in params if p.grad is not None]
        state.scaler.step(state.optimizer)
        if held is not None:
            with torch.no_grad():
                for p, before in held:
                    p.copy_(torch.where(p.grad == 0, before, p))
        state.scaler.update()
        state.scheduler.step()
        return float(torch.stack(losses).mean())

    def run(self, resume: bool = False) -> TrainState:
        """Train to the last epoch; the run directory is held by this run (its main process) throughout."""
        with run_dir_lock(self.out, "the training run") if self.d.main else contextlib.nullcontext():
            return self._run(resume)

    def _run(self, resume: bool) -> TrainState:
        last = self.out / "last.pt"
        if resume:
            state = self.resume_state(last)
            self.report.log(f"resuming {last} after epoch {state.epoch} of {self.s.epochs}")
        else:
            if last.exists():
                raise CheckpointError(f"{self.out} already holds a training run; continue it with --resume or choose another --out")
            state = self.fresh_state()
        model = state.model.train()
        for epoch in range(state.epoch, self.s.epochs):
            self.sampler.set_epoch(epoch)
            self.report.start_epoch(epoch, self.steps_per_epoch)
            start, loss_sum, images = time.perf_counter(), 0.0, 0
            for step, (x, y) in enumerate(self.loader):
                x, y = x.to(self.d.device, non_blocking=True, memory_format=torch.channels_last), y.to(self.d.device, non_blocking=True)
                loss = self._train_step(state, step_configs(self.space, self.s, epoch, step), x, y)
                loss_sum += loss
                images += len(x) * self.d.world
                self.report.step(loss, images / (time.perf_counter() - start))
            seconds = time.perf_counter() - start
            loss_total, steps = distributed.all_sum([loss_sum, float(self.steps_per_epoch)], self.d.device)
            distributed.average_buffers(model)
            self._check_finite(state, epoch, loss_total / steps)
            acc_max, acc_min = self._evaluate(model)
            record = EpochRecord(epoch + 1, loss_total / steps, state.scheduler.get_last_lr()[0], images / seconds, seconds, acc_max, acc_min)
            state.epoch = epoch + 1
            state.history.append(asdict(record))
            self.save(state)
            self.report.end_epoch(record)
        return state
