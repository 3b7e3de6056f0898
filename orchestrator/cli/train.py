"""`bench train`: a weight-sharing supernet trained on a data set (distributed under torchrun)."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import Optional

import typer

from infra.files import check_output
from orchestrator.cli import train_options as opt
from orchestrator.cli.common import console, errors, example
from search.space import load_space
from search.training.settings import TrainSettings

app = typer.Typer()


@app.command("train", epilog=example(
    "bench train --data data/digits --out runs/train-tiny-128 --resolution 128 --epochs 15 --lr 3e-3 --batch-size 32 --sampling random --no-hflip",
    "after `bench data digits --out data/digits`",
))
def train(
    space: str = opt.SPACE, data: Path = opt.DATA, out: Path = opt.OUT, resolution: Optional[int] = opt.RESOLUTION, epochs: int = opt.EPOCHS,
    batch_size: int = opt.BATCH_SIZE, lr: float = opt.LR, min_lr: float = opt.MIN_LR, weight_decay: float = opt.WEIGHT_DECAY,
    warmup_epochs: int = opt.WARMUP_EPOCHS, label_smoothing: float = opt.LABEL_SMOOTHING, sampling: str = opt.SAMPLING,
    sandwich_random: int = opt.SANDWICH_RANDOM, warmup_largest_epochs: int = opt.WARMUP_LARGEST_EPOCHS, decay_inactive: bool = opt.DECAY_INACTIVE,
    head_per_stage_count: bool = opt.HEAD_PER_STAGE_COUNT, fixed_shortcuts: bool = opt.FIXED_SHORTCUTS, kd: str = opt.KD,
    teacher: Optional[str] = opt.TEACHER, teacher_checkpoint: Optional[Path] = opt.TEACHER_CHECKPOINT, kd_alpha: float = opt.KD_ALPHA,
    kd_tau: float = opt.KD_TAU, holdout: float = opt.HOLDOUT, hflip: bool = opt.HFLIP, augment: str = opt.AUGMENT, amp: bool = opt.AMP, workers: int = opt.WORKERS,
    seed: int = opt.SEED, resume: bool = opt.RESUME, as_json: bool = opt.AS_JSON,
) -> None:
    """Train a weight-sharing supernet. Distributed: `torchrun --nproc_per_node N --no-python bench train ...`."""
    options = dict(locals())  # the options, named as the settings' fields
    from orchestrator.cli.train_view import interrupted, train_reporter, trained_summary, training_line
    from search.training import distributed
    from search.training.train import Trainer

    check_output(out, "the run directory", folder=True)  # before the data is read and an epoch trained, not after
    s = load_space(space)
    given = {f.name: options[f.name] for f in fields(TrainSettings) if options.get(f.name) is not None}
    settings = TrainSettings(**{**given, "space": s.name, "data": str(data), "resolution": resolution or s.default_resolution,
                                "teacher_checkpoint": str(teacher_checkpoint) if teacher_checkpoint else None})
    d = distributed.init()
    try:  # the epochs' progress on stderr, with or without --json: a user may pipe or keep stdout
        trainer = Trainer(settings, out, d, train_reporter(errors, settings.epochs) if d.main else None)
        if d.main:
            (errors if as_json else console).print(training_line(trainer, settings, d))
        state = trainer.run(resume=resume)
    except KeyboardInterrupt:
        if d.main:
            errors.print(interrupted(out), soft_wrap=True)
        sys.exit(130)
    finally:
        distributed.shutdown()
    if d.main and state.history:
        trained_summary(state, trainer, out, as_json)
