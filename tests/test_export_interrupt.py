"""Ctrl-C during a cold export stops it (issue 24, finding 7): the export workers are ended with the
command, which says it was interrupted, instead of lowering the rest of the plan for minutes; and
a worker killed under it ends the command in one line too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.export.probes import worker_died
from tests.processes import alive, children

pytestmark = pytest.mark.exports

ROOT = Path(__file__).parents[1]
BENCH = "import sys; from orchestrator.cli.app import main; sys.argv = ['bench', *sys.argv[1:]]; main()"


def export_workers(bench: subprocess.Popen) -> list[int]:
    """`bench`'s pool workers, by their spawn command line: a child just forked, before it execs
    (the resource tracker, say), still shows `bench`'s own and is no worker."""
    return [c for c in children(bench.pid) if "spawn_main" in _cmdline(c)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""  # gone since it was listed


def exporting(bench: subprocess.Popen, tmp_path: Path) -> bool:
    return (tmp_path / "cache" / "export.log").exists()  # the log appears when the first worker starts exporting


def starting(bench: subprocess.Popen, tmp_path: Path) -> bool:
    return bool(export_workers(bench))  # a worker's process exists: it is still importing torch


@contextmanager
def cold_profile(tmp_path: Path) -> Iterator[subprocess.Popen]:
    """`bench profile --quick` with an empty export cache, in its own process group; killed on the
    way out if it still runs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_CACHE": str(tmp_path / "cache"), "BENCH_LUTS": str(tmp_path / "luts"), "OMP_NUM_THREADS": "1"}
    bench = subprocess.Popen([sys.executable, "-c", BENCH, "profile", "--quick", "--out", "run"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        yield bench
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)


def wait_for(moment, bench: subprocess.Popen, tmp_path: Path) -> None:
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and bench.poll() is None and not moment(bench, tmp_path):
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.exports
@pytest.mark.timeout(240)
@pytest.mark.parametrize("moment", [exporting, starting])
def test_ctrl_c_during_a_cold_profile_export_ends_it_within_seconds_in_one_line_and_leaves_no_worker(tmp_path: Path, moment) -> None:
    workers: list[int] = []
    with cold_profile(tmp_path) as bench:
        try:
            wait_for(moment, bench, tmp_path)
            workers = export_workers(bench)
            assert workers, "no export worker started"
            os.killpg(bench.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
            start = time.monotonic()
            _, err = bench.communicate(timeout=60)
            took = time.monotonic() - start
            assert bench.returncode == 130 and took < 20, (bench.returncode, took, err)
            assert "Traceback" not in err and "KeyboardInterrupt" not in err, err  # no worker took the Ctrl-C
            assert err.strip().splitlines()[-1].startswith("interrupted: 0 finished measurement sessions are kept in run; continue with `bench profile")
            assert not any(alive(w) for w in workers)
        finally:
            for w in workers:
                if alive(w):
                    os.kill(w, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_worker_killed_as_it_starts_ends_the_profile_in_one_line_that_names_no_missing_log(tmp_path: Path) -> None:
    with cold_profile(tmp_path) as bench:
        wait_for(starting, bench, tmp_path)
        workers = export_workers(bench)
        assert workers and not exporting(bench, tmp_path), "no worker caught while it starts"
        os.kill(workers[0], signal.SIGKILL)  # the out-of-memory killer's way
        _, err = bench.communicate(timeout=60)
        assert bench.returncode == 2 and "Traceback" not in err, err
        assert err.strip().splitlines()[-1] == (
            "error: an export worker died (out of memory or killed) while it started, before it wrote its log; finished exports "
            "are cached, run again to continue"
        )


def test_a_worker_that_died_after_writing_its_log_is_reported_with_the_log(tmp_path: Path) -> None:
    log = tmp_path / "export.log"
    log.write_text("lowering network 0123\n")
    assert worker_died(log) == f"an export worker died (out of memory or killed) (log: {log}); finished exports are cached, run again to continue"
