"""What the long, quiet stretches of a run show while they last (issue 71): an epoch of training, on
a terminal as a bar and elsewhere as a line now and then; and a wait behind another process's
timing, with what that process runs and the time waited. Progress goes to stderr, so stdout keeps
the result."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from unittest.mock import MagicMock

import pytest
from rich.console import Console

from infra.locks import held, queued
from orchestrator.cli.train_view import train_reporter
from orchestrator.measure.progress import wait_shown
from search.training.train import EpochRecord


def _piped() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_without_a_terminal_an_epoch_says_its_steps_images_per_s_and_time_left_and_the_whole_runs_at_most_every_30_s():
    console, out = _piped()
    now = [0.0]
    report = train_reporter(console, epochs=15, clock=lambda: now[0])
    report.start_epoch(0, 40)
    for t in (10.0, 20.0, 31.0, 40.0, 62.0):
        now[0] = t
        report.step(2.3, 12.4)
    # 31 s for 3 steps: 37 more in this epoch and 14 x 40 in the others, 6,169 s (1 h 43 min) left
    assert out.getvalue().splitlines() == [
        "epoch 1/15: 3/40 steps, loss 2.300, 12 img/s, about 6 min left in the epoch; about 1 h 43 min left of 1 h 43 min in all",
        "epoch 1/15: 5/40 steps, loss 2.300, 12 img/s, about 7 min left in the epoch; about 2 h 3 min left of 2 h 4 min in all",
    ]


def _epoch(report, now: list[float], epoch: int, steps: int, ends_at: float) -> None:
    """An epoch whose steps take no time on the clock and which ends, checked and saved, at `ends_at`."""
    report.start_epoch(epoch, steps)
    for _ in range(steps):
        report.step(2.3, 12.0)
    now[0] = ends_at
    report.end_epoch(EpochRecord(epoch + 1, 2.31, 1e-3, 12.0, 60.0, 0.2, 0.15))


def test_after_its_first_epoch_training_says_how_long_the_whole_run_takes_at_that_pace_once():
    console, out = _piped()
    now = [0.0]
    report = train_reporter(console, epochs=15, clock=lambda: now[0])
    _epoch(report, now, 0, 4, ends_at=80.0)
    _epoch(report, now, 1, 4, ends_at=160.0)
    lines = out.getvalue().splitlines()
    assert lines[1] == "at 80 s an epoch (its held-out check and checkpoint included), the 15 epochs take about 20 min in all: about 19 min left"
    assert len(lines) == 3 and lines[2].startswith("epoch 2: loss")


def test_a_resumed_training_says_how_long_the_epochs_it_has_left_take():
    console, out = _piped()
    now = [0.0]
    report = train_reporter(console, epochs=15, clock=lambda: now[0])
    _epoch(report, now, 5, 4, ends_at=80.0)
    assert out.getvalue().splitlines()[1] == (
        "at 80 s an epoch (its held-out check and checkpoint included), epochs 6-15 take about 13 min in all: about 12 min left"
    )


def test_a_one_epoch_training_says_no_time_left_after_it():
    console, out = _piped()
    now = [0.0]
    _epoch(train_reporter(console, epochs=1, clock=lambda: now[0]), now, 0, 4, ends_at=100.0)
    assert len(out.getvalue().splitlines()) == 1


def test_after_an_epoch_the_whole_runs_time_left_counts_each_epoch_as_long_as_those_finished_with_their_check():
    console, out = _piped()
    now = [0.0]
    report = train_reporter(console, epochs=15, clock=lambda: now[0])
    _epoch(report, now, 0, 40, ends_at=100.0)
    report.start_epoch(1, 40)
    for step in range(1, 21):
        now[0] = 100.0 + 1.5 * step
        report.step(2.3, 12.0)
    # half of epoch 2 and 13 more, at 100 s each: 1,350 s left, at 130 s
    assert out.getvalue().splitlines()[-1] == "epoch 2/15: 20/40 steps, loss 2.300, 12 img/s, about 30 s left in the epoch; about 22 min left of 25 min in all"


def test_on_a_terminal_the_bar_shows_the_whole_runs_time_left_and_in_all():
    out = io.StringIO()
    now = [0.0]
    report = train_reporter(Console(file=out, force_terminal=True, width=200), epochs=15, clock=lambda: now[0])
    _epoch(report, now, 0, 4, ends_at=80.0)
    report.start_epoch(1, 4)  # the bar is drawn as the epoch starts
    assert "19 min left of 20 min in all" in out.getvalue().split("epoch 2/15")[-1]


def test_without_a_terminal_no_bar_frame_is_written_and_the_epoch_ends_with_its_line():
    console, out = _piped()
    report = train_reporter(console, epochs=2, clock=lambda: 0.0)
    report.start_epoch(0, 3)
    for _ in range(3):
        report.step(2.3, 12.0)
    report.end_epoch(EpochRecord(1, 2.31, 1e-3, 12.0, 9.5, 0.2, 0.15))
    assert out.getvalue() == "epoch 1: loss 2.310, lr 1.00e-03, 12 img/s, 9.5 s; held-out accuracy 20.0% (largest) / 15.0% (smallest)\n"


@pytest.mark.slow
def test_bench_train_shows_its_progress_on_stderr_and_keeps_stdout_for_the_checkpoint_s_summary(digits_dir, bench):
    tiny = ["--resolution", "64", "--epochs", "1", "--batch-size", "16", "--no-hflip", "--holdout", "0.15", "--sampling", "random"]
    result = bench("train", "--space", "tiny", "--data", str(digits_dir), "--out", "run", *tiny)
    assert result.exit_code == 0, result.stderr
    assert "epoch 1: loss" in result.stderr and "epoch 1: loss" not in result.stdout
    assert "checkpoint run/last.pt: epoch 1, loss" in result.stdout


@pytest.mark.slow
def test_bench_train_json_says_how_long_the_whole_run_takes_on_stderr_and_prints_only_its_document_on_stdout(digits_dir, bench):
    tiny = ["--resolution", "64", "--epochs", "2", "--batch-size", "16", "--no-hflip", "--holdout", "0.15", "--sampling", "random"]
    result = bench("train", "--space", "tiny", "--data", str(digits_dir), "--out", "run", "--json", *tiny)
    assert result.exit_code == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("at ")]
    assert len(said) == 1 and "the 2 epochs take about" in said[0]
    assert json.loads(result.stdout)["epoch"] == 2


def test_a_wait_for_a_held_lock_names_what_the_holder_runs_and_is_told_the_seconds_waited_until_it_ends(tmp_path):
    sentences: list[str] = []
    ticks: list[float] = []
    ran = threading.Event()

    @contextmanager
    def waiting(sentence: str):
        sentences.append(sentence)
        yield ticks.append

    def second_job() -> None:
        with queued(tmp_path / "timing.lock", "this machine's CPU for timing", waiting, poll_s=0.01):
            ran.set()

    with held(tmp_path / "timing.lock", "this machine's CPU for timing"):
        job = threading.Thread(target=second_job)
        job.start()
        deadline = time.monotonic() + 10
        while len(ticks) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not ran.is_set()
    job.join(timeout=10)
    assert ran.is_set() and len(ticks) >= 3 and ticks == sorted(ticks) and ticks[0] > 0
    (sentence,) = sentences
    assert sentence.startswith(f"waiting for process {os.getpid()} (python") and sentence.endswith("which holds this machine's CPU for timing, to finish")
    assert ", running for " in sentence


def test_without_a_terminal_a_wait_says_it_is_still_waiting_every_5_minutes_and_how_long_it_was():
    logged: list[str] = []
    console, _ = _piped()
    with wait_shown(logged.append, console=console)("waiting for process 12 (python bench profile, running for 03:10), which holds it, to finish") as tick:
        for seconds in (10.0, 301.0, 400.0, 601.0, 650.0):
            tick(seconds)
    assert logged == [
        "waiting for process 12 (python bench profile, running for 03:10), which holds it, to finish",
        "still waiting: 5 min so far", "still waiting: 10 min so far", "waited 11 min; timing now",
    ]


def test_the_finish_says_each_candidate_it_exports_on_the_terminal_and_keeps_the_converters_output_in_its_log(tmp_path, monkeypatch, capfd):
    from types import SimpleNamespace

    from orchestrator.export.backends import get_backend
    from orchestrator.searchjob.measured import export_candidates

    def export_model(static, backend, path, calibration, **options):
        print("converter chatter")
        path.write_bytes(b"program")
        return {}

    monkeypatch.setattr("orchestrator.searchjob.measured.export_model", export_model)
    job = SimpleNamespace(inputs=SimpleNamespace(out=tmp_path), ckpt={"classes": ["a", "b"]})
    candidates = [SimpleNamespace(hash=h * 16, static=None) for h in "ab"]
    exported = export_candidates(job, candidates, get_backend("pte"), lambda line: print(line, file=sys.stderr), None)
    assert sorted(exported) == ["a" * 16, "b" * 16]
    shown = capfd.readouterr()
    assert shown.err.splitlines() == [f"exporting candidate 1/2 ({'a' * 16}) for pte", f"exporting candidate 2/2 ({'b' * 16}) for pte"]
    assert "converter chatter" not in shown.out and (tmp_path / "delivery.log").read_text().count("converter chatter") == 2


def test_the_finish_says_it_quantizes_the_found_model_before_scoring_it_as_int8(monkeypatch):
    from types import SimpleNamespace

    from orchestrator.export.backends import get_backend
    from orchestrator.searchjob import finish

    monkeypatch.setattr(finish, "quantized_model", lambda static, backend, images: None)
    monkeypatch.setattr(finish, "right_per_image", lambda model, batches: None)
    monkeypatch.setattr(finish, "accuracy_drop", lambda before, after: {})
    said: list[str] = []
    job = MagicMock()  # its batches only reach the scoring patched out above
    finish._int8_accuracy(job, SimpleNamespace(static=None, right=None), None, get_backend("pte-int8"), [None] * 64, said.append)
    assert said == ["quantizing the found model as pte-int8 runs it (64 calibration images) to score it on the held-out and test images"]


def test_a_generation_says_how_many_of_its_subnets_are_evaluated_and_the_time_left_in_it_at_most_every_30_s():
    from search.nas.strategies.loop import GenerationProgress

    logged: list[str] = []
    now = [0.0]
    heard = GenerationProgress(logged.append, 2, 3, 8, 30.0, clock=lambda: now[0])
    for done, t in ((1, 10.0), (2, 20.0), (3, 31.0), (4, 40.0), (5, 62.0), (8, 95.0)):
        now[0] = t
        heard(done, 8)
    # 3 of 8 in 31 s: 5 more at that pace, 52 s; the last is the generation's own line's to say
    assert logged == ["generation 2/3: 3 of its 8 subnets evaluated, about 52 s left in it", "generation 2/3: 5 of its 8 subnets evaluated, about 37 s left in it"]


def test_under_torchrun_the_share_the_main_process_scored_stands_for_the_generations():
    from search.nas.strategies.loop import GenerationProgress

    logged: list[str] = []
    now = [0.0]
    heard = GenerationProgress(logged.append, 1, 2, 8, 30.0, clock=lambda: now[0])
    now[0] = 40.0
    heard(1, 4)  # one of the 4 of the 8 this process scores, in 40 s
    assert logged == ["generation 1/2: 2 of its 8 subnets evaluated, about 2 min left in it"]


def _params(predictor):
    return lambda config: predictor.predict(config).params


def test_a_search_says_through_its_log_how_far_through_each_generation_it_is(monkeypatch):
    from autovit_bench import Predictor, SearchSettings, run_search
    from search.nas.strategies import loop

    monkeypatch.setattr(loop, "PROGRESS_EVERY_S", 0.0)  # every subnet, so that the lines do not hang on the clock
    predictor = Predictor("aa5a9101", num_classes=10)
    logged: list[str] = []
    found = run_search(predictor, _params(predictor), latency_ms=2.4, settings=SearchSettings(population=4, generations=2, parents=2), log=logged.append)
    second = sum(c.generation == 1 for c in found.evaluated)
    said = [line.split(", about ")[0] for line in logged if " left in it" in line]
    assert said == [f"generation 1/2: {k} of its 4 subnets evaluated" for k in (1, 2, 3)] + [
        f"generation 2/2: {k} of its {second} subnets evaluated" for k in range(1, second)
    ]


def test_a_search_from_python_says_its_progress_on_stderr_by_default_and_a_score_that_is_no_fraction_as_a_number(capsys):
    from autovit_bench import Predictor, SearchSettings, run_search

    predictor = Predictor("aa5a9101", num_classes=10)
    found = run_search(predictor, _params(predictor), latency_ms=2.4, settings=SearchSettings(population=4, generations=2, parents=2))
    shown = capsys.readouterr()
    assert shown.out == ""
    assert shown.err.splitlines()[-1] == (
        f"generation 2/2: {len(found.evaluated)} subnets evaluated, best score {found.best.accuracy:.6g} at latency {next(iter(found.best.predicted.values()))['latency']:.3g} ms predicted, "
        f"{found.best.params / 1e6:.3f}M params"
    )


def test_a_search_from_python_with_a_log_that_says_nothing_prints_nothing(capsys):
    from autovit_bench import Predictor, SearchSettings, run_search

    predictor = Predictor("aa5a9101", num_classes=10)
    run_search(predictor, _params(predictor), latency_ms=2.4, settings=SearchSettings(population=4, generations=2, parents=2), log=lambda message: None)
    assert capsys.readouterr() == ("", "")


@pytest.mark.slow
def test_bench_search_from_python_says_on_stderr_how_far_through_each_generation_the_supernets_scoring_is(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    from autovit_bench import SearchSettings, Supernet, search
    from search.nas.strategies import loop
    from search.space import load_space
    from tests.lut_factory import sized_lut

    monkeypatch.setattr(loop, "PROGRESS_EVERY_S", 0.0)
    lut = sized_lut(load_space("tiny"), device={"name": "host", "platform": "host", "backend": "pte", "runtime": {"threads": 1}, "description": "this machine", "facts": {}})
    search(Supernet.load(tiny_checkpoint, "cpu"), lut, latency_ms=6.0, settings=SearchSettings(population=4, generations=1, parents=2), out=tmp_path / "run")
    shown = capsys.readouterr()
    assert shown.out == ""
    said = [line.split(", about ")[0] for line in shown.err.splitlines() if " left in it" in line]
    assert said == [f"generation 1/1: {k} of its 4 subnets evaluated" for k in (1, 2, 3)]
    assert "generation 1/1: 4 subnets evaluated, best " in shown.err


@pytest.mark.parametrize(("seconds", "shown"), [(45, "45 s"), (600, "10 min"), (7170, "2 h 0 min"), (7140, "1 h 59 min"), (9000, "2 h 30 min")])
def test_a_time_left_reads_as_a_person_says_it_never_sixty_minutes_past_an_hour(seconds, shown):
    from infra.shown import duration

    assert duration(seconds) == shown
