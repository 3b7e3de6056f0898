"""The options of `bench train`, declared apart from the command so that its signature reads as what it takes."""

from __future__ import annotations

import typer

from orchestrator.cli.common import defaults, number
from search.training.settings import TrainSettings

TRAIN = defaults(TrainSettings)

SPACE = typer.Option("tiny", "--space", help="search space of the supernet (`bench space list`)")
DATA = typer.Option(..., "--data", help="ImageFolder directory: DATA/train/<class>/* (and DATA/val/ as the test split)")
OUT = typer.Option(..., "--out", help="run directory; last.pt is written there after every epoch")
RESOLUTION = typer.Option(None, "--resolution", callback=number(1, 4096), help="training resolution (default: the space's)")
EPOCHS = typer.Option(TRAIN["epochs"], "--epochs", callback=number(1, 100_000), help="passes over the training images")
BATCH_SIZE = typer.Option(TRAIN["batch_size"], "--batch-size", callback=number(1, 1_000_000), help="per process")
LR = typer.Option(TRAIN["lr"], "--lr", callback=number(0, 10, low_open=True), help="peak learning rate of AdamW, reached after the warm-up")
MIN_LR = typer.Option(TRAIN["min_lr"], "--min-lr", callback=number(0, 10), help="learning rate the cosine decay ends at")
WEIGHT_DECAY = typer.Option(TRAIN["weight_decay"], "--weight-decay", callback=number(0, 10), help="AdamW weight decay")
WARMUP_EPOCHS = typer.Option(TRAIN["warmup_epochs"], "--warmup-epochs", callback=number(0, 100_000), help="epochs of linear warm-up to --lr")
LABEL_SMOOTHING = typer.Option(TRAIN["label_smoothing"], "--label-smoothing", callback=number(0, 0.99), help="label smoothing of the cross-entropy loss")
SAMPLING = typer.Option(TRAIN["sampling"], "--sampling", help="random (one subnet per step, Algorithm 1) or sandwich (max + min + random, in-place distillation)")
SANDWICH_RANDOM = typer.Option(TRAIN["sandwich_random"], "--sandwich-random", callback=number(0, 64), help="random subnets per step with --sampling sandwich")
WARMUP_LARGEST_EPOCHS = typer.Option(
    TRAIN["warmup_largest_epochs"], "--warmup-largest", callback=number(0, 100_000),
    help="epochs that train only the largest subnet before --sampling starts (a teacher for in-place distillation)",
)
DECAY_INACTIVE = typer.Option(
    TRAIN["decay_inactive"], "--decay-inactive/--keep-inactive",
    help="--keep-inactive: weights no subnet of a step used keep their values (no weight decay, no momentum) through it",
)
HEAD_PER_STAGE_COUNT = typer.Option(
    TRAIN["head_per_stage_count"], "--stage-count-heads",
    help="a classifier for each number of transformer stages, instead of one that 3- and 4-stage subnets share",
)
FIXED_SHORTCUTS = typer.Option(
    TRAIN["fixed_shortcuts"], "--fixed-shortcuts",
    help="no stage's first block takes its skip (Once-for-All), instead of taking it when the active widths match; the found subnet is built the same way",
)
KD = typer.Option(TRAIN["kd"], "--kd", help="distillation from a teacher: none, hard (the paper's best) or soft")
TEACHER = typer.Option(None, "--teacher", help="timm model name of the teacher")
TEACHER_CHECKPOINT = typer.Option(None, "--teacher-checkpoint", help="local weights of the teacher (nothing is downloaded)")
KD_ALPHA = typer.Option(TRAIN["kd_alpha"], "--kd-alpha", callback=number(0, 1), help="weight of the teacher in the loss: (1 - alpha) labels + alpha teacher")
KD_TAU = typer.Option(TRAIN["kd_tau"], "--kd-tau", callback=number(0, 100, low_open=True), help="temperature of soft distillation")
HOLDOUT = typer.Option(TRAIN["holdout"], "--holdout", callback=number(0, 0.9, low_open=True), help="fraction of train/ held out for ranking subnets")
HFLIP = typer.Option(TRAIN["hflip"], "--hflip/--no-hflip", help="random horizontal flips (off for digits)")
AUGMENT = typer.Option(
    TRAIN["augment"], "--augment", help="crop (random-resized, for photos), shift (small moves of the whole image, for digits), none; auto: what the data set recommends",
)
AMP = typer.Option(TRAIN["amp"], "--amp/--no-amp", help="mixed precision on GPU (bfloat16 where supported)")
WORKERS = typer.Option(TRAIN["workers"], "--workers", callback=number(0, 64), help="data-loading processes per training process")
SEED = typer.Option(TRAIN["seed"], "--seed", callback=number(0), help="seeds the weights, the hold-out split, the data order and the subnets sampled")
RESUME = typer.Option(False, "--resume", help="continue the run in --out with its saved settings")
AS_JSON = typer.Option(
    False, "--json", help='print one JSON document {"checkpoint", "epoch", "loss", "holdout_accuracy"} and nothing else (progress on stderr)'
)
