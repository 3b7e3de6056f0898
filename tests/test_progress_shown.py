"""What the long, quiet stretches of a run show while they last (issue 71): an epoch of training, on
a terminal as a bar and elsewhere as a line now and then; and a wait behind another process's
timing, with what that process runs and the time waited. Progress goes to stderr, so stdout keeps
the result."""

from __future__ import annotations

import io

from rich.console import Console

from orchestrator.cli.train_view import train_reporter
from search.training.train import EpochRecord


def _piped() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_without_a_terminal_an_epoch_says_its_steps_images_per_s_and_time_left_at_most_every_30_s():
    console, out = _piped()
    now = [0.0]
    report = train_reporter(console, epochs=15, clock=lambda: now[0])
    report.start_epoch(0, 40)
    for t in (10.0, 20.0, 31.0, 40.0, 62.0):
        now[0] = t
        report.step(2.3, 12.4)
    assert out.getvalue().splitlines() == [
        "epoch 1/15: 3/40 steps, loss 2.300, 12 img/s, about 6 min left in the epoch",
        "epoch 1/15: 5/40 steps, loss 2.300, 12 img/s, about 7 min left in the epoch",
    ]


def test_without_a_terminal_no_bar_frame_is_written_and_the_epoch_ends_with_its_line():
    console, out = _piped()
    report = train_reporter(console, epochs=2, clock=lambda: 0.0)
    report.start_epoch(0, 3)
    for _ in range(3):
        report.step(2.3, 12.0)
    report.end_epoch(EpochRecord(1, 2.31, 1e-3, 12.0, 9.5, 0.2, 0.15))
    assert out.getvalue() == "epoch 1: loss 2.310, lr 1.00e-03, 12 img/s, 9.5 s; held-out accuracy 20.0% (largest) / 15.0% (smallest)\n"


def test_bench_train_shows_its_progress_on_stderr_and_keeps_stdout_for_the_checkpoint_s_summary(digits_dir, bench):
    tiny = ["--resolution", "64", "--epochs", "1", "--batch-size", "16", "--no-hflip", "--holdout", "0.15", "--sampling", "random"]
    result = bench("train", "--space", "tiny", "--data", str(digits_dir), "--out", "run", *tiny)
    assert result.exit_code == 0, result.stderr
    assert "training the tiny supernet on" in result.stderr and "epoch 1: loss" in result.stderr
    assert result.stdout.startswith("checkpoint run/last.pt: epoch 1, loss") and "epoch 1: loss" not in result.stdout
