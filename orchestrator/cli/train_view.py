"""What `bench train` shows while it trains: per epoch, a bar with loss, images/s, the epoch's time
left and the whole run's on a terminal, or the same figures as a line now and then where there is no
terminal to draw on; then a line per epoch, and after the first one how long the whole run takes at
its pace. An epoch's time left alone hid that 15 of them were 26 minutes (issue 83)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Column
from rich.text import Text

from infra.shown import duration
from search.training.train import EpochRecord, Reporter

PIPED_EVERY_S = 30.0  # without a terminal, an epoch's figures at most this often: a first epoch of minutes is not silent


class WholeRun:
    """The time this command's training takes in all, from its first epoch (a resumed run's first
    is not epoch 1). Once an epoch has ended, every epoch left is taken to last as long as those this
    command finished, their held-out check and checkpoint included; before, the steps timed so far
    say it, without the check and checkpoint, which no step has timed yet."""

    def __init__(self, epochs: int, clock: Callable[[], float]) -> None:
        self.epochs, self.clock = epochs, clock
        self.first: int | None = None  # the epoch (0-based) this command started at
        self.start = self.last_end = self.epoch_start = 0.0
        self.epoch, self.steps, self.done, self.ended, self.in_epoch = 0, 1, 0, 0, False  # ended: epochs this command finished

    def start_epoch(self, epoch: int, steps: int) -> None:
        now = self.clock()
        if self.first is None:
            self.first, self.start = epoch, now
        self.epoch, self.steps, self.done, self.epoch_start, self.in_epoch = epoch, steps, 0, now, True

    def step(self) -> None:
        self.done += 1

    def end_epoch(self) -> None:
        self.ended, self.last_end, self.in_epoch = self.ended + 1, self.clock(), False

    def left(self) -> float | None:
        """Seconds until the last epoch ends; None until a step has been timed."""
        after = self.epochs - self.epoch - 1  # whole epochs after the current one
        if self.ended:
            per = (self.last_end - self.start) / self.ended
            return per * (after + (1 - self.done / self.steps if self.in_epoch else 0))
        if not self.done:
            return None
        return (self.clock() - self.epoch_start) / self.done * (self.steps - self.done + after * self.steps)

    def said(self, about: str = "about ") -> str:
        """The whole run's time left and in all, as the lines say it (the bar, short of room, without "about")."""
        left = self.left()
        if left is None:
            return "estimating the time in all"
        return f"{about}{duration(left)} left of {duration(self.clock() - self.start + left)} in all"

    def pace(self) -> str | None:
        """After this command's first epoch, when epochs are left: the whole run at that epoch's pace."""
        left = self.left()
        if self.ended != 1 or not left or self.first is None:
            return None
        per = self.last_end - self.start
        which = f"the {self.epochs} epochs" if self.first == 0 else f"epochs {self.first + 1}-{self.epochs}"
        return (f"at {duration(per)} an epoch (its held-out check and checkpoint included), {which} take about "
                f"{duration(per + left)} in all: about {duration(left)} left")


def train_reporter(console: Console, epochs: int, every_s: float = PIPED_EVERY_S, clock: Callable[[], float] = time.monotonic) -> Reporter:
    """The bar on a terminal; where `console` is not one (piped, a log file) no bar, whose frames
    would fill the file, but the bar's figures as a line at most every `every_s` seconds."""
    run = WholeRun(epochs, clock)
    if console.is_terminal:
        return _bar(console, epochs, run)
    said = [0.0]  # when the last line was printed

    def start_epoch(epoch: int, steps: int) -> None:
        run.start_epoch(epoch, steps)
        said[0] = clock()

    def step(loss: float, rate: float) -> None:
        run.step()
        now = clock()
        if now - said[0] >= every_s:
            said[0] = now
            left = (run.steps - run.done) * (now - run.epoch_start) / run.done
            console.print(f"epoch {run.epoch + 1}/{epochs}: {run.done}/{run.steps} steps, loss {loss:.3f}, {rate:.0f} img/s, "
                          f"about {duration(left)} left in the epoch; {run.said()}", soft_wrap=True, highlight=False)

    return Reporter(start_epoch, step, lambda r: _ended(console, run, r), console.print)


class _InAll(ProgressColumn):
    """The whole run's time left and in all, by the clock: rich redraws it between steps too."""

    def __init__(self, run: WholeRun) -> None:
        super().__init__(table_column=Column(no_wrap=True))  # one line: the bar gives way first
        self.run = run

    def render(self, task: Task) -> Text:
        return Text(self.run.said(about=""), style="progress.remaining")


def _bar(console: Console, epochs: int, run: WholeRun) -> Reporter:
    progress = Progress(
        TextColumn(f"epoch {{task.fields[epoch]}}/{epochs}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[rate]:.0f} img/s"), TimeRemainingColumn(), _InAll(run),
        console=console, transient=True,
    )
    task: dict[str, int] = {}

    def start_epoch(epoch: int, steps: int) -> None:
        run.start_epoch(epoch, steps)
        progress.start()
        task["id"] = progress.add_task("train", total=steps, epoch=epoch + 1, loss=float("nan"), rate=0.0)

    def step(loss: float, rate: float) -> None:
        run.step()
        progress.update(task["id"], advance=1, loss=loss, rate=rate)

    def end_epoch(r: EpochRecord) -> None:
        progress.remove_task(task["id"])
        progress.stop()
        _ended(console, run, r)

    return Reporter(start_epoch, step, end_epoch, console.print)


def _ended(console: Console, run: WholeRun, r: EpochRecord) -> None:
    """An epoch's line, and after this command's first the whole run at its pace."""
    run.end_epoch()
    _epoch_line(console, r)
    if (pace := run.pace()) is not None:
        console.print(pace, soft_wrap=True, highlight=False)


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
