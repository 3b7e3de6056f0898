"""How a supernet is trained, as plain data: `TrainSettings` is recorded in every checkpoint,
checked on resume, and gives `bench train` its option defaults, so it imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass

from infra.errors import UserError


class TeacherError(UserError):
    """A teacher that cannot be built or loaded; the message names the fix."""


SAMPLING = ("random", "sandwich")
AUGMENTATIONS = ("auto", "crop", "shift", "none")  # search.training.data explains each


@dataclass(frozen=True)
class TrainSettings:
    space: str
    data: str
    resolution: int
    epochs: int = 30
    batch_size: int = 64  # per process
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    # Random sampling sat at chance on the cluttered digits for 30 epochs (docs/figures.md); on
    # plain digits it learns, at a third of the cost a step, so the printed quick path uses it (docs/guide.md).
    sampling: str = "sandwich"
    sandwich_random: int = 1
    # Epochs that train only the largest subnet before the sampling rule starts (BigNAS and OFA warm
    # up the largest first): in-place distillation then starts from a teacher that already knows the task.
    warmup_largest_epochs: int = 0
    # False: weights no subnet of a step used (their gradient exactly zero: the slices of an elastic
    # layer beyond the active widths) keep their values through the step, instead of AdamW moving
    # them by weight decay and by momentum left from the steps that did use them.
    decay_inactive: bool = True
    head_per_stage_count: bool = False  # a classifier for each number of transformer stages (search.supernet.model.Supernet)
    fixed_shortcuts: bool = False  # no transition block takes its skip, whatever the widths (search.supernet.model.Supernet)
    kd: str = "none"
    teacher: str | None = None
    teacher_checkpoint: str | None = None
    kd_alpha: float = 0.5
    kd_tau: float = 1.0
    holdout: float = 0.1
    hflip: bool = True
    augment: str = "auto"  # crop, shift or none; auto: what the data set's bench-data.json recommends, else crop
    seed: int = 0
    amp: bool = True  # mixed precision; only on GPU
    workers: int = 0

    def check(self) -> None:
        if self.sampling not in SAMPLING:
            raise UserError(f"unknown sampling {self.sampling!r}; choose one of {', '.join(SAMPLING)}")
        if self.augment not in AUGMENTATIONS:
            raise UserError(f"unknown augmentation {self.augment!r}; choose one of {', '.join(AUGMENTATIONS)}")
        if not 0 <= self.warmup_largest_epochs < self.epochs:
            raise UserError(f"--warmup-largest {self.warmup_largest_epochs} leaves no epoch of {self.sampling} sampling in {self.epochs}; give fewer than --epochs")
        if self.kd != "none" and not (self.teacher and self.teacher_checkpoint):
            raise TeacherError(f"{self.kd} distillation needs --teacher NAME and --teacher-checkpoint FILE (local weights; nothing is downloaded)")

