"""SIGTERM (`kill PID`, `timeout`, a job scheduler, `docker stop`) ends `bench` as Ctrl-C does: the
command's own line saying what was kept and how to continue, no traceback, SIGTERM's exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.signals import sigterm_as_interrupt
from tests.processes import alive

ROOT = Path(__file__).parents[1]
BENCH = "import sys; from orchestrator.cli.app import main; sys.argv = ['bench', *sys.argv[1:]]; main()"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sigterm_during_training_says_the_checkpoint_is_kept_and_exits_143(tmp_path: Path, digits_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", BENCH, "train", "--space", "tiny", "--data", str(digits_dir), "--out", "run", "--epochs", "500",
               "--resolution", "64", "--batch-size", "32", "--no-hflip"]
    bench = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while bench.poll() is None and not (tmp_path / "run" / "last.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bench.poll() is None, bench.communicate()
        bench.send_signal(signal.SIGTERM)  # to `bench` alone, as `kill PID` does
        _, err = bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)
    assert bench.returncode == 143, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1] == (
        "interrupted: the checkpoint of the last finished epoch is kept in run/last.pt; continue with the same command and --resume"
    )


class _DeletedWithSigterm:
    """An object whose finaliser receives SIGTERM: Python ignores exceptions raised there, as it
    does in the at-fork hooks that run when a data loader forks its workers."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(1000))  # the handler runs at the next check for signals, still in here


def test_a_sigterm_landing_where_python_ignores_exceptions_is_delivered_again() -> None:
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt() as received:
        _DeletedWithSigterm()
        time.sleep(10)
    assert received.sigterm and time.monotonic() - started < 5


def test_a_second_sigterm_while_the_first_is_handled_changes_nothing() -> None:
    handled = False
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt() as received:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
        except KeyboardInterrupt:
            os.kill(os.getpid(), signal.SIGTERM)  # a scheduler, or a user, that sends it twice
            sum(range(1000))  # where the handler would raise again
            handled = True
            raise
    assert received.sigterm and handled


HALF_BUILT = """
import os, signal, sys, time
from infra.signals import sigterm_as_interrupt

class HalfBuilt:  # as torch's data-loader iterator when the interruption lands while it starts its workers
    def __del__(self):
        raise AttributeError("'_MultiProcessingDataLoaderIter' object has no attribute '_workers_status'")

try:
    with sigterm_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
        finally:
            HalfBuilt()  # deleted at once
except KeyboardInterrupt:
    print("interrupted: what was kept", file=sys.stderr)
"""


def test_a_finaliser_that_fails_after_a_sigterm_prints_no_traceback() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ended = subprocess.run([sys.executable, "-c", HALF_BUILT], env=env, capture_output=True, text=True, timeout=60)
    assert ended.stderr == "interrupted: what was kept\n"


ENDING_TWICE = """
import atexit, os, signal, sys, time
from orchestrator.cli import app, entry

def command(*args):
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)
    except KeyboardInterrupt:
        print("interrupted: what was kept", file=sys.stderr)
        sys.exit(130)

entry._invoked = command
atexit.register(lambda: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(0.5)))  # the second SIGTERM, while Python ends
app.main()
"""


@pytest.mark.slow
def test_a_second_sigterm_while_bench_exits_after_the_first_leaves_its_exit_code_143() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ended = subprocess.run([sys.executable, "-c", ENDING_TWICE], env=env, capture_output=True, text=True, timeout=60)
    assert (ended.returncode, ended.stderr) == (143, "interrupted: what was kept\n")


GROUP_WITH_LOADER = """
import os, signal, sys, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGCHLD})  # every thread of this process, as if busy in C
from torch.utils.data import DataLoader, Dataset
from infra.signals import sigterm_as_interrupt
from tests.processes import alive
from tests.processes import alive

class Slow(Dataset):
    def __len__(self):
        return 100_000

    def __getitem__(self, i):
        time.sleep(0.01)
        return i

def worker_takes_sigterm(worker_id):
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

with sigterm_as_interrupt(ends_process=True):
    try:
        batches = iter(DataLoader(Slow(), batch_size=1, num_workers=2, worker_init_fn=worker_takes_sigterm))
        next(batches)
        workers = [w.pid for w in batches._workers]
        print(*workers, flush=True)
        while any(alive(w) for w in workers):  # the group's SIGTERM ends the workers before this process handles it
            time.sleep(0.01)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGCHLD})  # both at once: SIGTERM is handled first
        time.sleep(30)
    except KeyboardInterrupt:
        print("interrupted: what was kept", file=sys.stderr)
        sys.exit(143)
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigterm_to_the_whole_group_with_loader_workers_ends_in_the_commands_line_and_leaves_no_worker() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    loader = subprocess.Popen([sys.executable, "-c", GROUP_WITH_LOADER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    workers: list[int] = []
    try:
        workers = [int(pid) for pid in loader.stdout.readline().split()]
        assert len(workers) == 2, loader.communicate()
        os.killpg(loader.pid, signal.SIGTERM)  # systemd, Slurm, `kill -- -PGID`: every process of the job
        _, err = loader.communicate(timeout=60)
    finally:
        if loader.poll() is None:
            os.killpg(loader.pid, signal.SIGKILL)
    assert (loader.returncode, err) == (143, "interrupted: what was kept\n")
    assert not any(alive(w) for w in workers)


TQDM_IN_AN_EXPORT_WORKER = """
from tqdm import tqdm
from orchestrator.export.pool import pool, stop_pool

pool(1, 1).submit(tqdm.write, "a progress line").result()  # torch's exporter draws bars: tqdm takes its lock
stop_pool()  # as an interrupted export ends its workers
"""


def test_an_export_worker_ended_with_the_export_leaves_no_leaked_semaphore_warning() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ended = subprocess.run([sys.executable, "-c", TQDM_IN_AN_EXPORT_WORKER], env=env, capture_output=True, text=True, timeout=120)
    assert (ended.returncode, ended.stderr) == (0, "")


def ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


def test_a_training_interrupted_before_its_first_epoch_says_no_checkpoint_is_kept(digits_dir: Path, bench, monkeypatch) -> None:
    monkeypatch.setattr("search.training.train.Trainer.run", ctrl_c)
    ended = bench("train", "--space", "tiny", "--data", str(digits_dir), "--out", "run", "--resolution", "64")
    assert ended.exit_code == 130
    assert ended.stderr.strip().splitlines()[-1] == "interrupted before the first epoch finished: no checkpoint is kept in run; run the same command again"


@pytest.mark.slow
def test_a_search_interrupted_before_its_first_generation_says_no_state_is_kept(tiny_checkpoint: Path, bench, monkeypatch, tmp_path: Path) -> None:
    from search.space import load_space
    from tests.lut_factory import sized_lut
    from tests.test_search_cli import HOST, middle_budget, write_lut

    lut = write_lut(tmp_path / "tiny-host.json", sized_lut(load_space("tiny"), device=HOST))
    monkeypatch.setattr("orchestrator.searchjob.job.SearchJob.run", ctrl_c)
    ended = bench("search", "--checkpoint", str(tiny_checkpoint), "--lut", str(lut), "--latency-ms", str(middle_budget(lut)), "--out", "s", "--no-measure")
    assert ended.exit_code == 130
    assert ended.stderr.strip().splitlines()[-1] == "interrupted before the first generation finished: no search state is kept in s; run the same command again"


def test_an_interrupted_export_says_the_finished_exports_are_kept(bench, monkeypatch) -> None:
    monkeypatch.setattr("orchestrator.export.probes.export_probes", ctrl_c)
    ended = bench("export", "--space", "tiny", "--resolution", "64")
    assert ended.exit_code == 130
    assert ended.stderr.strip().splitlines()[-1] == (
        f"interrupted: the networks exported so far are kept in {os.environ['BENCH_CACHE']}; run the same command again to export the rest"
    )
