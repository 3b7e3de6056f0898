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

ROOT = Path(__file__).parents[1]
BENCH = "import sys; from orchestrator.cli.app import main; sys.argv = ['bench', *sys.argv[1:]]; main()"


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
