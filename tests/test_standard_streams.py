"""`bench` started with a standard stream closed (`>&-`, `2>&-`) or open only for reading (issue 83,
finding 7): stderr is where progress and errors go, so without it the command still does its work
and exits by its outcome; stdout is where every command's result goes, so without it the command
is refused before any work, in one sentence on stderr, exit code 2, as `ls >&-` ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(sys.executable).parent / "bench"
STDOUT_CLOSED = (
    "error: standard output is closed or not open for writing, and the command prints its result there; "
    "give it somewhere to write (`>/dev/null` to discard it)"
)


def bench_with(redirect: str, *args: str, store: Path) -> subprocess.CompletedProcess[str]:
    """`bench ARGS REDIRECT` as a shell runs it, with a LUT store of its own; the streams the shell
    leaves open are captured."""
    return subprocess.run(
        ["sh", "-c", f'"$0" "$@" {redirect}', str(BENCH), *args], cwd=store.parent, env={**os.environ, "BENCH_LUTS": str(store)},
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.slow
def test_without_stderr_a_command_still_prints_its_result_and_exits_0(tmp_path):
    done = bench_with("2>&-", "lut", "show", "d0fb1865", store=tmp_path / "luts")
    assert done.returncode == 0
    assert "d0fb186589faa0c4" in done.stdout


@pytest.mark.parametrize("redirect", ["2>&-", "2</dev/null"])
def test_without_stderr_a_refused_command_still_exits_2_and_prints_nothing_on_stdout(tmp_path, redirect):
    done = bench_with(redirect, "lut", "show", "0123456789abcdef", store=tmp_path / "luts")
    assert (done.returncode, done.stdout) == (2, "")


@pytest.mark.parametrize("redirect", [">&-", "1</dev/null"])
def test_without_stdout_a_command_is_refused_in_one_sentence_on_stderr(tmp_path, redirect):
    done = bench_with(redirect, "lut", "show", "d0fb1865", store=tmp_path / "luts")
    assert (done.returncode, done.stderr.strip()) == (2, STDOUT_CLOSED)


def test_without_stdout_nothing_is_written(tmp_path):
    done = bench_with(">&-", "data", "digits", "--out", "digits", "--per-class", "2", store=tmp_path / "luts")
    assert (done.returncode, done.stderr.strip()) == (2, STDOUT_CLOSED)
    assert not (tmp_path / "digits").exists()


def test_with_both_closed_a_command_is_refused_with_exit_code_2(tmp_path):
    done = bench_with(">&- 2>&-", "lut", "show", "d0fb1865", store=tmp_path / "luts")
    assert done.returncode == 2
