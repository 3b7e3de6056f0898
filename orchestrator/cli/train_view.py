"""Rich progress for `bench train`: one bar per epoch with loss and throughput, a line per epoch."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from search.training.train import EpochRecord, Reporter


def train_reporter(console: Console) -> Reporter:
    progress = Progress(
        TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
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
        console.print(
            f"epoch {r.epoch}: loss {r.loss:.3f}, lr {r.lr:.2e}, {r.images_per_s:.0f} img/s, {r.seconds:.1f} s; "
            f"held-out accuracy {r.holdout_acc_max:.1%} (largest) / {r.holdout_acc_min:.1%} (smallest)",
            soft_wrap=True,
        )

    return Reporter(start_epoch, step, end_epoch, console.print)
