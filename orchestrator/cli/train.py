"""`bench train`: a weight-sharing supernet trained on a data set (distributed under torchrun)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from infra.files import check_output
from orchestrator.cli.common import console, defaults, errors, example, number
from search.space import load_space
from search.training.settings import TrainSettings

app = typer.Typer()
TRAIN = defaults(TrainSettings)


@app.command("train", epilog=example(
    "bench train --data data/digits --out runs/train-tiny-128 --resolution 128 --epochs 15 --lr 3e-3 --batch-size 32 --sampling random --no-hflip",
    "after `bench data digits --out data/digits`",
))
def train(
    space: str = typer.Option("tiny", "--space", help="search space of the supernet (`bench space list`)"),
    data: Path = typer.Option(..., "--data", help="ImageFolder directory: DATA/train/<class>/* (and DATA/val/ as the test split)"),
    out: Path = typer.Option(..., "--out", help="run directory; last.pt is written there after every epoch"),
    resolution: Optional[int] = typer.Option(None, "--resolution", callback=number(1, 4096), help="training resolution (default: the space's)"),
    epochs: int = typer.Option(TRAIN["epochs"], "--epochs", callback=number(1, 100_000), help="passes over the training images"),
    batch_size: int = typer.Option(TRAIN["batch_size"], "--batch-size", callback=number(1, 1_000_000), help="per process"),
    lr: float = typer.Option(TRAIN["lr"], "--lr", callback=number(0, 10, low_open=True), help="peak learning rate of AdamW, reached after the warm-up"),
    min_lr: float = typer.Option(TRAIN["min_lr"], "--min-lr", callback=number(0, 10), help="learning rate the cosine decay ends at"),
    weight_decay: float = typer.Option(TRAIN["weight_decay"], "--weight-decay", callback=number(0, 10), help="AdamW weight decay"),
    warmup_epochs: int = typer.Option(TRAIN["warmup_epochs"], "--warmup-epochs", callback=number(0, 100_000), help="epochs of linear warm-up to --lr"),
    label_smoothing: float = typer.Option(TRAIN["label_smoothing"], "--label-smoothing", callback=number(0, 0.99), help="label smoothing of the cross-entropy loss"),
    sampling: str = typer.Option(TRAIN["sampling"], "--sampling", help="random (one subnet per step, Algorithm 1) or sandwich (max + min + random, in-place distillation)"),
    sandwich_random: int = typer.Option(TRAIN["sandwich_random"], "--sandwich-random", callback=number(0, 64), help="random subnets per step with --sampling sandwich"),
    warmup_largest_epochs: int = typer.Option(
        TRAIN["warmup_largest_epochs"], "--warmup-largest", callback=number(0, 100_000),
        help="epochs that train only the largest subnet before --sampling starts (a teacher for in-place distillation)",
    ),
    decay_inactive: bool = typer.Option(
        TRAIN["decay_inactive"], "--decay-inactive/--keep-inactive",
        help="--keep-inactive: weights no subnet of a step used keep their values (no weight decay, no momentum) through it",
    ),
    head_per_stage_count: bool = typer.Option(
        TRAIN["head_per_stage_count"], "--stage-count-heads",
        help="a classifier for each number of transformer stages, instead of one that 3- and 4-stage subnets share",
    ),
    fixed_shortcuts: bool = typer.Option(
        TRAIN["fixed_shortcuts"], "--fixed-shortcuts",
        help="no stage's first block takes its skip (Once-for-All), instead of taking it when the active widths match; the found subnet is built the same way",
    ),
    kd: str = typer.Option(TRAIN["kd"], "--kd", help="distillation from a teacher: none, hard (the paper's best) or soft"),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="timm model name of the teacher"),
    teacher_checkpoint: Optional[Path] = typer.Option(None, "--teacher-checkpoint", help="local weights of the teacher (nothing is downloaded)"),
    kd_alpha: float = typer.Option(TRAIN["kd_alpha"], "--kd-alpha", callback=number(0, 1), help="weight of the teacher in the loss: (1 - alpha) labels + alpha teacher"),
    kd_tau: float = typer.Option(TRAIN["kd_tau"], "--kd-tau", callback=number(0, 100, low_open=True), help="temperature of soft distillation"),
    holdout: float = typer.Option(TRAIN["holdout"], "--holdout", callback=number(0, 0.9, low_open=True), help="fraction of train/ held out for ranking subnets"),
    hflip: bool = typer.Option(TRAIN["hflip"], "--hflip/--no-hflip", help="random horizontal flips (off for digits)"),
    augment: str = typer.Option(
        TRAIN["augment"], "--augment", help="crop (random-resized, for photos), shift (small moves of the whole image, for digits), none; auto: what the data set recommends",
    ),
    amp: bool = typer.Option(TRAIN["amp"], "--amp/--no-amp", help="mixed precision on GPU (bfloat16 where supported)"),
    workers: int = typer.Option(TRAIN["workers"], "--workers", callback=number(0, 64), help="data-loading processes per training process"),
    seed: int = typer.Option(TRAIN["seed"], "--seed", callback=number(0), help="seeds the weights, the hold-out split, the data order and the subnets sampled"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out with its saved settings"),
    as_json: bool = typer.Option(
        False, "--json", help='print one JSON document {"checkpoint", "epoch", "loss", "holdout_accuracy"} and nothing else (progress on stderr)'
    ),
) -> None:
    """Train a weight-sharing supernet. Distributed: `torchrun --nproc_per_node N --no-python bench train ...`."""
    from orchestrator.cli.train_view import train_reporter, trained_summary, training_line
    from search.training import distributed
    from search.training.train import Trainer

    check_output(out, "the run directory", folder=True)  # before the data is read and an epoch trained, not after
    s = load_space(space)
    settings = TrainSettings(
        space=s.name, data=str(data), resolution=resolution or s.default_resolution, epochs=epochs, batch_size=batch_size, lr=lr,
        min_lr=min_lr, weight_decay=weight_decay, warmup_epochs=warmup_epochs, label_smoothing=label_smoothing, sampling=sampling,
        sandwich_random=sandwich_random, warmup_largest_epochs=warmup_largest_epochs, decay_inactive=decay_inactive, head_per_stage_count=head_per_stage_count,
        fixed_shortcuts=fixed_shortcuts, kd=kd, teacher=teacher, teacher_checkpoint=str(teacher_checkpoint) if teacher_checkpoint else None,
        kd_alpha=kd_alpha, kd_tau=kd_tau, holdout=holdout, hflip=hflip, augment=augment, seed=seed, amp=amp, workers=workers,
    )
    d = distributed.init()
    progress = errors if as_json else console  # --json keeps stdout for the JSON document
    try:
        trainer = Trainer(settings, out, d, train_reporter(progress) if d.main else None)
        if d.main:
            progress.print(training_line(trainer, settings, d))
        state = trainer.run(resume=resume)
    except KeyboardInterrupt:
        if d.main:
            errors.print(
                f"interrupted: the checkpoint of the last finished epoch is kept in {out}/last.pt; continue with the same command and --resume"
                if (out / "last.pt").is_file() else f"interrupted before the first epoch finished: no checkpoint is kept in {out}; run the same command again",
                soft_wrap=True,
            )
        sys.exit(130)
    finally:
        distributed.shutdown()
    if d.main and state.history:
        trained_summary(state, trainer, out, as_json)
