"""What `bench train` shows while it trains: per epoch, a bar with loss, images/s and the epoch's time
left on a terminal, or the same figures as a line now and then where there is no terminal to draw on;
then a line per epoch."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from orchestrator.measure.budget import duration
from search.training.train import EpochRecord, Reporter

PIPED_EVERY_S = 30.0  # without a terminal, an epoch's figures at most this often: a first epoch of minutes is not silent


def train_reporter(console: Console, epochs: int, every_s: float = PIPED_EVERY_S, clock: Callable[[], float] = time.monotonic) -> Reporter:
    """The bar on a terminal; where `console` is not one (piped, a log file) no bar, whose frames
    would fill the file, but the bar's figures as a line at most every `every_s` seconds."""
    if console.is_terminal:
        return _bar(console, epochs)
    at: dict[str, Any] = {}

    def start_epoch(epoch: int, steps: int) -> None:
        at.update(epoch=epoch + 1, steps=steps, done=0, start=clock(), said=clock())

    def step(loss: float, rate: float) -> None:
        at["done"] += 1
        now = clock()
        if now - at["said"] >= every_s:
            at["said"] = now
            left = (at["steps"] - at["done"]) * (now - at["start"]) / at["done"]
            console.print(f"epoch {at['epoch']}/{epochs}: {at['done']}/{at['steps']} steps, loss {loss:.3f}, {rate:.0f} img/s, "
                          f"about {duration(left)} left in the epoch", soft_wrap=True, highlight=False)

    return Reporter(start_epoch, step, lambda r: _epoch_line(console, r), console.print)


def _bar(console: Console, epochs: int) -> Reporter:
    progress = Progress(
        TextColumn(f"epoch {{task.fields[epoch]}}/{epochs}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[rate]:.0f} img/s"), TimeRemainingColumn(),
        console=console, transient=True,
    )
    task: dict[str, int] = {}

    def start_epoch(epoch: int, steps: int) -> None:
        progress.start()
        task["id"] = progress.add_task("train", total=steps, epoch=epoch + 1, loss=float("nan"), rate=0.0)

    def step(loss: float, rate: float) -> None:
        progress.update(task["id"], advance=1, loss=loss, rate=rate)

    def end_epoch(r: EpochRecord) -> None:
        progress.remove_task(task["id"])
        progress.stop()
        _epoch_line(console, r)

    return Reporter(start_epoch, step, end_epoch, console.print)


def _epoch_line(console: Console, r: EpochRecord) -> None:
    console.print(
        f"epoch {r.epoch}: loss {r.loss:.3f}, lr {r.lr:.2e}, {r.images_per_s:.0f} img/s, {r.seconds:.1f} s; "
        f"held-out accuracy {r.holdout_acc_max:.1%} (largest) / {r.holdout_acc_min:.1%} (smallest)",
        soft_wrap=True,
    )


def training_line(trainer: Any, settings: Any, d: Any) -> str:
    """What is about to be trained, on what, how."""
    return (
        f"training the {settings.space} supernet on {len(trainer.data.train)} images ({trainer.data.num_classes} classes, "
        f"{len(trainer.data.holdout)} held out) at {settings.resolution} px: {d.world} process(es) on {d.device}, "
        f"{trainer.steps_per_epoch} steps per epoch, sampling {settings.sampling}, distillation {settings.kd}"
    )


def trained_summary(state: Any, trainer: Any, out: Path, as_json: bool) -> None:
    """The checkpoint's last epoch with its held-out accuracies (one JSON document with --json), and a
    warning where neither the largest nor the smallest subnet can be told from chance."""
    from orchestrator.cli.common import console, errors
    from search.nas.significance import proportion

    last, n = state.history[-1], len(trainer.data.holdout)
    largest, smallest = (proportion(round(last[k] * n), n) for k in ("holdout_acc_max", "holdout_acc_min"))
    if as_json:
        typer.echo(json.dumps({
            "checkpoint": str(out / "last.pt"), "epoch": last["epoch"], "loss": last["loss"],
            "holdout_accuracy": {"largest": last["holdout_acc_max"], "smallest": last["holdout_acc_min"], "images": n},
        }, indent=1))
    else:
        console.print(
            f"checkpoint {out / 'last.pt'}: epoch {last['epoch']}, loss {last['loss']:.3f}, held-out accuracy "
            f"{largest.text()} (largest subnet) / {smallest.value:.1%} [{smallest.low:.1%}, {smallest.high:.1%}] (smallest)"
        )
    chance = 1 / trainer.data.num_classes
    if max(largest.low, smallest.low) <= chance:
        errors.print(
            f"warning: neither the largest nor the smallest subnet can be told from chance ({chance:.0%} for "
            f"{trainer.data.num_classes} classes): a search of this supernet would pick at random; train longer (--epochs) or on more images",
            soft_wrap=True,
        )


def interrupted(out: Path) -> str:
    """What an interrupted training kept, and how to go on."""
    if (out / "last.pt").is_file():
        return f"interrupted: the checkpoint of the last finished epoch is kept in {out}/last.pt; continue with the same command and --resume"
    return f"interrupted before the first epoch finished: no checkpoint is kept in {out}; run the same command again"
